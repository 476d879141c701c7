"""What routing reads from the pool: the nodes that may ship, what each may give, and today's load.

A node is a candidate when the channel's entitlements give it ATP for an order SKU
(``inventory.availability``, the one ATP). A store gives only what a transfer could take from
it (``tools.plan_transfers.eligibility``): ATP less its minimum display and its own expected
sales over the protection window, and never a unit of its best intact core size run.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import sqlalchemy as sa
from sqlmodel import Session

from inventory.availability import entitled_atp
from inventory.models import (
    DailySales,
    Location,
    OnlineNodeLoad,
    OnlineOrder,
    OnlineOrderLine,
    OnlineOrderStatus,
    Sku,
    StockPosition,
    Style,
)
from tools.plan_transfers.eligibility import core_run_keep
from tools.route_order.figures import LaneFigures, node_lane_figures
from tools.route_order.models import Exclusion
from tools.route_order.settings import Protection, RoutingSettings

_LOC = Location.__table__.c  # type: ignore[attr-defined]
_SALES = DailySales.__table__.c  # type: ignore[attr-defined]
_POS = StockPosition.__table__.c  # type: ignore[attr-defined]
_SKU = Sku.__table__.c  # type: ignore[attr-defined]
_STYLE = Style.__table__.c  # type: ignore[attr-defined]
_ORDER = OnlineOrder.__table__.c  # type: ignore[attr-defined]
_LINE = OnlineOrderLine.__table__.c  # type: ignore[attr-defined]
_LOAD = OnlineNodeLoad.__table__.c  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Node:
    code: str
    kind: str
    name_en: str
    name_zh: str
    city: str
    region: str
    tier: str
    ship_from_store: bool


@dataclass
class Candidate:
    node: Node
    figures: LaneFigures
    atp: dict[str, int]
    giveable: dict[str, int]
    rate: dict[str, float] = field(default_factory=dict)
    orders_today: int = 0


@dataclass(frozen=True)
class SkuFacts:
    style: str
    price: float
    size_index: int
    core: bool


@dataclass
class PoolView:
    candidates: list[Candidate]
    excluded: list[Exclusion]
    skus: dict[str, SkuFacts]
    orders_today: int


def local_day(now: dt.datetime, settings: RoutingSettings) -> dt.date:
    return now.astimezone(settings.zone).date()


def sku_facts(session: Session, skus: Sequence[str]) -> dict[str, SkuFacts]:
    rows = session.execute(
        sa.select(
            _SKU.code, _SKU.style_code, _SKU.size, _SKU.size_index, _STYLE.price, _STYLE.core_sizes
        )
        .join(Style.__table__, _STYLE.code == _SKU.style_code)  # type: ignore[arg-type]
        .where(_SKU.code.in_(list(skus)))
    ).all()
    return {
        code: SkuFacts(style, float(price), int(index), size in (core or []))
        for code, style, size, index, price, core in rows
    }


def orders_today(session: Session, day: dt.date) -> tuple[int, dict[str, int]]:
    """Orders routed on ``day`` (not cancelled): in all, and per node that ships part of one."""
    # A cancelling order still holds its node's slot until the OMS confirms the withdrawal.
    live = sa.and_(_ORDER.routing_day == day, _ORDER.status != OnlineOrderStatus.CANCELLED)
    total = session.execute(sa.select(sa.func.count()).where(live)).scalar_one()
    per_node = session.execute(
        sa.select(_LINE.node_code, sa.func.count(sa.distinct(_LINE.order_id)))
        .join(OnlineOrder.__table__, _ORDER.id == _LINE.order_id)  # type: ignore[arg-type]
        .where(live)
        .group_by(_LINE.node_code)
    ).all()
    return int(total), {node: int(n) for node, n in per_node}


def _nodes(session: Session, codes: Sequence[str]) -> dict[str, Node]:
    rows = session.execute(
        sa.select(
            _LOC.code,
            _LOC.kind,
            _LOC.name_en,
            _LOC.name_zh,
            _LOC.city,
            _LOC.region,
            _LOC.tier,
            _LOC.ship_from_store,
        ).where(_LOC.code.in_(list(codes)))
    ).all()
    return {row[0]: Node(*row) for row in rows}


def _rates(
    session: Session, nodes: Sequence[str], skus: Sequence[str], today: dt.date, days: int
) -> dict[tuple[str, str], float]:
    start = today - dt.timedelta(days=days)
    rows = session.execute(
        sa.select(_SALES.location_code, _SALES.sku_code, sa.func.sum(_SALES.units))
        .where(
            _SALES.location_code.in_(list(nodes)),
            _SALES.sku_code.in_(list(skus)),
            _SALES.date >= start,
            _SALES.date < today,
        )
        .group_by(_SALES.location_code, _SALES.sku_code)
    ).all()
    return {(loc, sku): float(units or 0) / days for loc, sku, units in rows}


def _size_run_keep(
    session: Session, stores: Sequence[str], skus: dict[str, SkuFacts], min_run: int
) -> dict[tuple[str, str], int]:
    """Per (store, order SKU) where the store's best core size run binds: units that may leave
    (its stock less the one unit the run keeps)."""
    styles = sorted({facts.style for facts in skus.values() if facts.core})
    if not styles or not stores:
        return {}
    rows = session.execute(
        sa.select(
            _POS.location_code,
            _SKU.code,
            _SKU.style_code,
            _SKU.size_index,
            _SKU.size,
            _STYLE.core_sizes,
            _POS.on_hand - _POS.reserved,
        )
        .join(Sku.__table__, _SKU.code == _POS.sku_code)  # type: ignore[arg-type]
        .join(Style.__table__, _STYLE.code == _SKU.style_code)  # type: ignore[arg-type]
        .where(_POS.location_code.in_(list(stores)), _SKU.style_code.in_(styles))
    ).all()
    columns: dict[str, list[tuple[int, str]]] = {}
    stock: dict[tuple[str, str], int] = {}
    for store, sku, style, index, size, core, units in rows:
        if size in (core or []):
            columns.setdefault(style, []).append((index, sku))
            stock[(store, sku)] = int(units)
    cap: dict[tuple[str, str], int] = {}
    for cols in columns.values():
        ordered = [sku for _, sku in sorted(set(cols))]
        matrix = np.array([[stock.get((s, sku), 0) for sku in ordered] for s in stores])
        kept = core_run_keep(matrix, min_run)
        for i, store in enumerate(stores):
            for j, sku in enumerate(ordered):
                if sku in skus and kept[i, j]:
                    cap[(store, sku)] = int(matrix[i, j] - kept[i, j])
    return cap


def read_pool(
    session: Session,
    *,
    channel: str,
    skus: Sequence[str],
    destination_city: str,
    destination_region: str,
    settings: RoutingSettings,
    now: dt.datetime,
    regional_dc_only: bool,
    ship_from_store: bool,
) -> PoolView:
    facts = sku_facts(session, skus)
    entitled = entitled_atp(session, channel, list(facts))
    atp: dict[str, dict[str, int]] = {}
    for sku, found in entitled.items():
        for item in found:
            atp.setdefault(item.location, {})[sku] = item.atp
    nodes = _nodes(session, list(atp))
    excluded: list[Exclusion] = []
    stores_allowed = ship_from_store and settings.ship_from_store
    kept: dict[str, Node] = {}
    for code, node in sorted(nodes.items()):
        if regional_dc_only and not (node.kind == "dc" and node.region == destination_region):
            continue
        if node.kind == "store" and not (stores_allowed and node.ship_from_store):
            why = "ship-from-store is off" if not stores_allowed else "store does not ship online"
            excluded.append(Exclusion(node=code, reason=why))
            continue
        kept[code] = node
    figures = node_lane_figures(
        session,
        list(kept),
        destination_city,
        destination_region,
        parcel_share_of_trip=settings.parcel_share_of_trip,
    )
    day = local_day(now, settings)
    total_today, per_node = orders_today(session, day)
    rates = _rates(session, list(kept), list(facts), now.date(), settings.stock_health.sales_days)
    stores = [code for code, node in kept.items() if node.kind == "store"]
    protection = settings.protection
    run_cap = (
        _size_run_keep(session, stores, facts, protection.min_consecutive_core_sizes)
        if protection.keep_size_run
        else {}
    )
    min_display = _min_display(session, stores, list(facts))
    candidates: list[Candidate] = []
    for code, node in kept.items():
        if code not in figures:
            excluded.append(Exclusion(node=code, reason=f"no lane to {destination_city}"))
            continue
        load = per_node.get(code, 0)
        rate = {sku: rates.get((code, sku), 0.0) for sku in atp[code]}
        giveable = dict(atp[code])
        if node.kind == "store":
            why = _store_limit(code, load, total_today, settings)
            if why is not None:
                excluded.append(Exclusion(node=code, reason=why))
                continue
            giveable = _protected(code, atp[code], rate, min_display, run_cap, protection)
            if not any(giveable.values()):
                excluded.append(
                    Exclusion(
                        node=code,
                        reason="store keeps its stock: min display, its own "
                        f"{protection.protect_days}-day sales or its core size run",
                    )
                )
                continue
        candidates.append(Candidate(node, figures[code], atp[code], giveable, rate, load))
    return PoolView(candidates, excluded, facts, total_today)


def _min_display(
    session: Session, stores: Sequence[str], skus: Sequence[str]
) -> dict[tuple[str, str], int]:
    if not stores:
        return {}
    rows = session.execute(
        sa.select(_POS.location_code, _POS.sku_code, _POS.min_display).where(
            _POS.location_code.in_(list(stores)), _POS.sku_code.in_(list(skus))
        )
    ).all()
    return {(loc, sku): int(n or 0) for loc, sku, n in rows}


def _protected(
    store: str,
    atp: dict[str, int],
    rate: dict[str, float],
    min_display: dict[tuple[str, str], int],
    run_cap: dict[tuple[str, str], int],
    protection: Protection,
) -> dict[str, int]:
    """ATP less what the transfer rules keep at the store (``eligibility.movable_units``)."""
    days = protection.protect_days
    giveable = {}
    for sku, units in atp.items():
        own = math.ceil(rate.get(sku, 0.0) * days - 1e-9)
        keep = max(min_display.get((store, sku), 0), own)
        movable = units - keep
        if (store, sku) in run_cap:
            movable = min(movable, run_cap[(store, sku)])
        giveable[sku] = max(0, movable)
    return giveable


def store_allowance(code: str, total_today: int, settings: RoutingSettings) -> int:
    """The most orders ``code`` may ship today with this one: its capacity and its share of
    the day's orders (``total_today`` already routed, this one included), whichever is lower."""
    limits = settings.stores
    share = max(limits.share_floor_orders, math.floor(limits.max_share_per_day * (total_today + 1)))
    return min(limits.capacity(code), share)


_DAY = sa.bindparam("day", type_=_LOAD.day.type)
_STORES = sa.select(_LOC.code).where(_LOC.kind == "store")
#: The day's live orders, read only for a row with a load (its lazy sub-plan runs at most once).
_TODAY_TOTAL = (
    sa.select(sa.func.count())
    .select_from(OnlineOrder.__table__)  # type: ignore[arg-type]
    .where(_ORDER.routing_day == _DAY, _ORDER.status != OnlineOrderStatus.CANCELLED.value)
    .scalar_subquery()
)
#: Each store that ships no online order (its flag off) or has shipped some today, with its
#: load and the day's total: everything ``stores_not_shipping_online`` decides on, one statement.
_NOT_SHIPPING_OR_LOADED = (
    sa.select(
        _LOC.code,
        _LOC.ship_from_store,
        sa.func.coalesce(_LOAD.orders, 0),
        sa.case((_LOAD.orders.is_not(None), _TODAY_TOTAL), else_=0),
    )
    .select_from(
        Location.__table__.outerjoin(  # type: ignore[attr-defined]
            OnlineNodeLoad.__table__,
            sa.and_(_LOAD.node_code == _LOC.code, _LOAD.day == _DAY, _LOAD.orders > 0),
        )
    )
    .where(_LOC.kind == "store", sa.or_(_LOC.ship_from_store.is_(False), _LOAD.orders.is_not(None)))
)


def stores_not_shipping_online(
    session: Session, now: dt.datetime, settings: RoutingSettings
) -> dict[str, str]:
    """Stores whose stock no online order can get now (code → why), whatever their
    entitlements: every store while the policy's ``ship_from_store`` is off, a store not
    flagged ``ship_from_store``, and a store that reached today's limits (capacity or share
    cap, from the day counters the placing transaction raises: ``online_node_load``). Routing
    leaves them out the same way (``read_pool``).

    Availability leaves their stock out of every channel but the in-store ones, so a channel is
    not offered units no store can ship. It asks on every request (a hot path), so this is one
    statement, built once and run on the connection."""
    connection = session.connection()
    if not settings.ship_from_store:
        return dict.fromkeys(connection.execute(_STORES).scalars(), "ship-from-store is off")
    closed = {}
    rows = connection.execute(_NOT_SHIPPING_OR_LOADED, {"day": local_day(now, settings)})
    for code, ships, load, total in rows:
        if ships is False:
            closed[code] = "store does not ship online"
        # The counter counts this day's orders at the store, the new one not yet: as routing.
        elif (
            why := _store_limit(code, int(load), max(int(total), int(load)), settings)
        ) is not None:
            closed[code] = why
    return closed


def _store_limit(code: str, load: int, total_today: int, settings: RoutingSettings) -> str | None:
    """Why a store may take no more orders today (capacity, share cap), or None."""
    limits = settings.stores
    capacity = limits.capacity(code)
    if load >= capacity:
        return f"pick/pack capacity reached ({load} of {capacity} orders today)"
    allowed = max(
        limits.share_floor_orders, math.floor(limits.max_share_per_day * (total_today + 1))
    )
    if load + 1 > allowed:
        return (
            f"share cap: {load} of today's {total_today} orders already "
            f"(at most {limits.max_share_per_day:.0%}, floor {limits.share_floor_orders})"
        )
    return None
