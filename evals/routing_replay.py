"""Replay a day of online orders through order routing, against peers, on private world copies.

Peers (each on its own copy of the same world, fed the very same orders):

* ``ship_from_store`` — the routing score over every entitled node, stores included;
* ``no_ship_from_store`` — the same score over DCs and the online pool only;
* ``regional_dc`` — always ship from the destination region's DC (the baseline).

The demo world's DCs do not sell online; the replay lets them (every peer), since the baseline
ships from them. The demo world has a DC at the centre of every city, so the "regional" DC is
always a same-city parcel and ship-from-store can hardly save freight; ``REGIONAL_DCS`` is the
network most apparel brands run instead (a few hub DCs, each serving several cities), which
``prepare_world(network="regional")`` makes of the same world: the other DCs' stock is moved to
the hub serving their city and their cities join the hub's region, so the DC-only peer ships
from the hub. Each order goes to the simulated OMS first (its reference keys the parcels),
then through ``agents.executor.parcels.place_order`` exactly as ``POST /v1/orders`` does. An order
no node can ship is a lost online sale.

Reported per peer: share of orders shipped (at least partly) from stores, delivery cost (in all
and per shipped order), promised-time hit rate (planned ETA against the promise), lost online
units and value, store stock turns over the day (annualised; walk-in demand of the day served
first from what routing left, so a store that gave away its shelf shows it as walk-in loss),
and routing placements per second.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from agents.executor import parcels
from connectors.models import OmsOnlineOrder, WmsLine
from connectors.oms import OmsClient
from evals.order_stream import StreamOrder
from inventory import schema
from inventory.db import make_engine, session_scope
from inventory.demo_world.template import copy_world
from inventory.models import (
    ChannelEntitlement,
    City,
    FutureDemand,
    Location,
    OnlineOrder,
    OnlineOrderLine,
    Sku,
    StockPosition,
    Style,
)
from inventory.online_orders import OrderError, OrderSpec
from tools.route_order.models import OrderLineInput, RouteOrderInput, Strategy
from tools.route_order.pool import local_day
from tools.route_order.router import order_router
from tools.route_order.settings import RoutingSettings, load_routing_settings

CHANNEL = "online"


@dataclass(frozen=True)
class Peer:
    strategy: Strategy
    ship_from_store: bool


PEERS: dict[str, Peer] = {
    "ship_from_store": Peer("score", True),
    "no_ship_from_store": Peer("score", False),
    "regional_dc": Peer("regional_dc", False),
}


@dataclass
class PeerResult:
    peer: str
    orders: int
    routed: int
    lost_orders: int
    lost_units: int
    lost_value: float
    units_shipped: int
    store_units: int
    orders_from_stores: int
    share_from_stores: float
    parcels: int
    delivery_cost: float
    cost_per_shipped_order: float
    on_time_rate: float
    store_turns: float
    store_walkin_lost: int
    placements_per_s: float


#: Hub city → the cities its DC serves (North from Beijing, East from Shanghai, South and
#: Southwest from Guangzhou): three DCs for the demo world's five cities.
REGIONAL_DCS: dict[str, tuple[str, ...]] = {
    "Beijing": ("Beijing", "Shenyang"),
    "Shanghai": ("Shanghai",),
    "Guangzhou": ("Guangzhou", "Chengdu"),
}
Network = Literal["city", "regional"]


def prepare_world(
    template: Path,
    directory: Path,
    name: str,
    *,
    network: Network = "city",
    hubs: dict[str, tuple[str, ...]] | None = None,
) -> Engine:
    """A private copy of ``template`` at head, its DCs allowed to ship online orders
    (``network="regional"``: only the hub DCs of ``REGIONAL_DCS``, holding the others' stock)."""
    path = copy_world(template, directory / f"{name}.sqlite")
    engine = make_engine(f"sqlite:///{path}")
    schema.upgrade(engine)
    with session_scope(engine) as session:
        if network == "regional":
            _regional_network(session, REGIONAL_DCS if hubs is None else hubs)
        dcs = sa.select(Location.code).where(Location.kind == "dc")
        session.execute(
            sa.update(ChannelEntitlement)
            .where(ChannelEntitlement.channel == CHANNEL, ChannelEntitlement.location_code.in_(dcs))  # type: ignore[attr-defined]
            .values(allowed=True)
        )
    return engine


def _regional_network(session: Session, hubs: dict[str, tuple[str, ...]]) -> None:
    """Fold each non-hub DC into the hub serving its city: its stock and its cities' region
    (the emptied DC stays, with nothing to ship).

    The world is fresh (no holds, nothing in transit), so moving on-hand rows is the whole
    move; it is done here, before the replay, not through the stock writer (no business event).
    """
    dcs = {
        city: (code, region)
        for code, city, region in session.execute(
            sa.select(Location.code, Location.city, Location.region).where(Location.kind == "dc")
        )
    }
    for hub_city, served in hubs.items():
        if hub_city not in dcs:
            continue  # a smaller world without that city
        hub, region = dcs[hub_city]
        for city in (c for c in served if c in dcs):
            session.execute(sa.update(City).where(City.code == city).values(region=region))
            session.execute(sa.update(Location).where(Location.city == city).values(region=region))
            old, _ = dcs[city]
            if old == hub:
                continue
            moved = dict(
                session.execute(
                    sa.select(StockPosition.sku_code, StockPosition.on_hand).where(
                        StockPosition.location_code == old, StockPosition.on_hand > 0
                    )
                ).all()
            )
            for sku, units in moved.items():
                position = session.exec(
                    select(StockPosition).where(
                        StockPosition.location_code == hub, StockPosition.sku_code == sku
                    )
                ).first()
                if position is None:
                    position = StockPosition(location_code=hub, sku_code=sku)
                position.on_hand += units
                session.add(position)
            session.execute(
                sa.update(StockPosition)
                .where(StockPosition.location_code == old)
                .values(on_hand=0, reserved=0)
            )
    session.flush()


def _store_snapshot(engine: Engine, day: dt.date) -> tuple[dict, dict]:
    with Session(engine) as session:
        on_hand = {
            (loc, sku): n
            for loc, sku, n in session.execute(
                sa.select(
                    StockPosition.location_code, StockPosition.sku_code, StockPosition.on_hand
                )
                .join(Location, Location.code == StockPosition.location_code)  # type: ignore[arg-type]
                .where(Location.kind == "store")
            )
        }
        demand = {
            (loc, sku): n
            for loc, sku, n in session.execute(
                sa.select(FutureDemand.location_code, FutureDemand.sku_code, FutureDemand.units)
                .join(Location, Location.code == FutureDemand.location_code)  # type: ignore[arg-type]
                .where(Location.kind == "store", FutureDemand.date == day)
            )
        }
    return on_hand, demand


def _prices(engine: Engine) -> dict[str, float]:
    with Session(engine) as session:
        rows = session.execute(
            sa.select(Sku.code, Style.price).join(Style, Style.code == Sku.style_code)
        )  # type: ignore[arg-type]
        return {sku: float(price) for sku, price in rows}


def replay(
    engine: Engine,
    orders: list[StreamOrder],
    name: str,
    *,
    settings: RoutingSettings | None = None,
    oms: OmsClient | None = None,
) -> PeerResult:
    """Route every order of the stream on ``engine`` as peer ``name``; returns its KPIs."""
    peer = PEERS[name]
    settings = settings or load_routing_settings()
    prices = _prices(engine)
    on_hand, demand = _store_snapshot(engine, orders[0].placed_at.date())
    lost_orders = lost_units = 0
    lost_value = 0.0
    elapsed = 0.0
    for order in orders:
        oms_ref = None
        if oms is not None:
            ack = oms.accept_online_order(
                OmsOnlineOrder(
                    order_id=order.order_id,
                    channel=CHANNEL,
                    lines=[WmsLine(sku=sku, qty=qty) for sku, qty in order.lines],
                    destination_city=order.destination_city,
                    promise_hours=order.promise_hours,
                    placed_at=order.placed_at,
                ),
                idempotency_key=f"{name}:{order.order_id}",
            )
            oms_ref = ack.reference
        spec = OrderSpec(
            channel=CHANNEL,
            channel_order_id=order.order_id,
            lines=order.lines,
            destination_city=order.destination_city,
            address="",
            promised_by=order.placed_at + dt.timedelta(hours=order.promise_hours),
            oms_ref=oms_ref,
        )
        request = RouteOrderInput(
            lines=[OrderLineInput(sku=sku, qty=qty) for sku, qty in order.lines],
            destination_city=order.destination_city,
            channel=CHANNEL,
            promise_hours=order.promise_hours,
            strategy=peer.strategy,
            ship_from_store=peer.ship_from_store,
        )
        started = time.perf_counter()
        try:
            with session_scope(engine) as session:
                parcels.place_order(
                    session,
                    spec,
                    order_router(request, settings, order.placed_at),
                    actor=f"replay-{name}",
                    now=order.placed_at,
                    ttl_s=int(settings.reservation_ttl_hours * 3600),
                    routing_day=local_day(order.placed_at, settings),
                )
        except OrderError:
            lost_orders += 1
            lost_units += order.units
            lost_value += sum(prices.get(sku, 0.0) * qty for sku, qty in order.lines)
        elapsed += time.perf_counter() - started
    return _result(
        engine, name, orders, lost_orders, lost_units, lost_value, elapsed, on_hand, demand
    )


def _result(
    engine: Engine,
    name: str,
    orders: list[StreamOrder],
    lost_orders: int,
    lost_units: int,
    lost_value: float,
    elapsed: float,
    on_hand: dict,
    demand: dict,
) -> PeerResult:
    with Session(engine) as session:
        routed = list(session.exec(select(OnlineOrder)))
        lines = list(session.exec(select(OnlineOrderLine)))
        kinds = dict(session.execute(sa.select(Location.code, Location.kind)).all())
    shipped: dict[tuple[str, str], int] = defaultdict(int)
    from_store: set[str] = set()
    parcels = set()
    for line in lines:
        parcels.add((line.order_id, line.node_code))
        if kinds.get(line.node_code) == "store":
            shipped[(line.node_code, line.sku_code)] += line.qty
            from_store.add(line.order_id)
    walk = walk_base = 0
    for key, units in demand.items():
        stock = on_hand.get(key, 0)
        walk_base += min(units, stock)
        walk += min(units, max(0, stock - shipped.get(key, 0)))
    online_store_units = sum(shipped.values())
    sold = walk + online_store_units
    avg_stock = max(1.0, sum(on_hand.values()) - sold / 2)
    cost = sum(order.delivery_cost for order in routed)
    on_time = sum(1 for order in routed if order.eta <= order.promised_by)
    return PeerResult(
        peer=name,
        orders=len(orders),
        routed=len(routed),
        lost_orders=lost_orders,
        lost_units=lost_units,
        lost_value=round(lost_value, 2),
        units_shipped=sum(line.qty for line in lines),
        store_units=online_store_units,
        orders_from_stores=len(from_store),
        share_from_stores=round(len(from_store) / max(1, len(routed)), 4),
        parcels=len(parcels),
        delivery_cost=round(cost, 2),
        cost_per_shipped_order=round(cost / max(1, len(routed)), 2),
        on_time_rate=round(on_time / max(1, len(routed)), 4),
        store_turns=round(sold / avg_stock * 365, 3),
        store_walkin_lost=walk_base - walk,
        placements_per_s=round(len(orders) / elapsed, 1) if elapsed > 0 else 0.0,
    )


def compare(results: dict[str, PeerResult]) -> dict[str, object]:
    """Routing (ship-from-store) against the regional-DC baseline and the no-store peer."""
    best, dc = results["ship_from_store"], results["regional_dc"]
    out: dict[str, object] = {
        "share_from_stores": best.share_from_stores,
        "share_anchor": 0.35,
        "delivery_cost": best.delivery_cost,
        "delivery_cost_regional_dc": dc.delivery_cost,
        "cost_per_order": best.cost_per_shipped_order,
        "cost_per_order_regional_dc": dc.cost_per_shipped_order,
        "lost_units": best.lost_units,
        "lost_units_regional_dc": dc.lost_units,
        "lost_online_units_avoided": dc.lost_units - best.lost_units,
        "lost_online_value_avoided": round(dc.lost_value - best.lost_value, 2),
        "cost_below_regional_dc": best.delivery_cost < dc.delivery_cost,
        "lost_below_regional_dc": best.lost_units < dc.lost_units,
    }
    if "no_ship_from_store" in results:
        without = results["no_ship_from_store"]
        out["lost_online_units_avoided_by_stores"] = without.lost_units - best.lost_units
        out["store_turns_uplift"] = (
            round(best.store_turns / without.store_turns - 1, 4) if without.store_turns else None
        )
    return out


def as_dict(result: PeerResult) -> dict[str, object]:
    return asdict(result)
