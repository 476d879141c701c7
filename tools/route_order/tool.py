"""route_order and the read tools beside it: where an online order ships from, and why.

``plan_route`` is the one routing decision: the tool calls it on a read-only session (a dry
run), ``/v1/orders`` inside the transaction that reserves the chosen units.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import sqlalchemy as sa
from sqlmodel import Session, select

from inventory.models import (
    ChannelEntitlement,
    City,
    Location,
    OnlineOrder,
    OnlineOrderLine,
    StockPosition,
)
from inventory.movement_core import POSITION, atp_expr
from tools.context import ToolContext, ToolError, resolve_city
from tools.route_order.figures import node_lane_figures
from tools.route_order.models import (
    ExplainOrderInput,
    ExplainOrderOutput,
    RouteOrderInput,
    RouteOrderOutput,
    RoutingOption,
    ShipNode,
    ShipNodesInput,
    ShipNodesOutput,
)
from tools.route_order.plan import Line, Scorer, rank_options
from tools.route_order.pool import local_day, orders_today, read_pool, sku_facts
from tools.route_order.settings import RoutingSettings, load_routing_settings

MAX_EXCLUDED = 20


def routing_settings(ctx: ToolContext) -> RoutingSettings:
    return load_routing_settings(ctx.settings.routing_file)


def destination(session: Session, city: str, *, field: str = "destination_city") -> tuple[str, str]:
    code = resolve_city(session, city, field=field)
    row = session.get(City, code)
    return code, (row.region if row is not None else "")


def plan_route(
    session: Session,
    request: RouteOrderInput,
    settings: RoutingSettings,
    now: dt.datetime,
    *,
    exclude: Iterable[tuple[str, str]] = (),
) -> RouteOrderOutput:
    """Rank the ways to ship ``request`` at ``now``; ``exclude`` (node, SKU) pairs a concurrent
    order just took (the placement re-plans without them)."""
    city, region = destination(session, request.destination_city)
    lines = [Line(i, line.sku, line.qty) for i, line in enumerate(request.lines, start=1)]
    skus = list(dict.fromkeys(line.sku for line in lines))
    unknown = sorted(set(skus) - set(sku_facts(session, skus)))
    if unknown:
        raise ToolError(f"unknown SKU(s): {unknown}", field="lines", value=unknown)
    view = read_pool(
        session,
        channel=request.channel,
        skus=skus,
        destination_city=city,
        destination_region=region,
        settings=settings,
        now=now,
        regional_dc_only=request.strategy == "regional_dc",
        ship_from_store=request.ship_from_store,
    )
    for node, sku in exclude:
        for cand in view.candidates:
            if cand.node.code == node:
                cand.giveable[sku] = 0
    promised_by = now + dt.timedelta(hours=request.promise_hours)
    scorer = Scorer(settings, now, promised_by, view.skus)
    options, why = rank_options(scorer, lines, view.candidates)
    if not view.candidates:
        why = (
            f"no node entitled to {request.channel!r} may ship "
            + ("(regional DC only) " if request.strategy == "regional_dc" else "")
            + f"these SKUs to {city}"
        )
    return RouteOrderOutput(
        as_of=now,
        channel=request.channel,
        destination_city=city,
        destination_region=region,
        promised_by=promised_by,
        strategy=request.strategy,
        routable=bool(options),
        reason=why,
        chosen=options[0] if options else None,
        runners_up=options[1:3],
        excluded=view.excluded[:MAX_EXCLUDED],
        candidates=len(view.candidates),
    )


def route_order(ctx: ToolContext, request: RouteOrderInput) -> RouteOrderOutput:
    """A dry run of the routing decision for an order; nothing is reserved."""
    with ctx.read() as session:
        return plan_route(session, request, routing_settings(ctx), ctx.now)


def ship_nodes(ctx: ToolContext, request: ShipNodesInput) -> ShipNodesOutput:
    """Which nodes may ship this channel's orders to ``city`` now, stores first."""
    settings = routing_settings(ctx)
    with ctx.read() as session:
        city, region = destination(session, request.city, field="city")
        ent = ChannelEntitlement.__table__.c  # type: ignore[attr-defined]
        loc = Location.__table__.c  # type: ignore[attr-defined]
        stmt = (
            sa.select(Location)
            .join(ChannelEntitlement.__table__, ent.location_code == loc.code)  # type: ignore[arg-type]
            .where(ent.channel == request.channel, ent.allowed.is_(True))
            # A store not flagged ship-from-store ships no online order, whatever is asked
            # (routing leaves it out, availability offers none of its stock online).
            .where(sa.or_(loc.kind != "store", loc.ship_from_store.is_(True)))
            .order_by(loc.code)
        )
        if request.kind == "store":
            stmt = stmt.where(loc.kind == "store", loc.city == city)
        nodes = list(session.execute(stmt).scalars())
        atp = atp_expr()
        units = dict(
            session.execute(
                sa.select(POSITION.location_code, sa.func.sum(atp))
                .select_from(StockPosition.__table__)  # type: ignore[arg-type]
                .where(POSITION.location_code.in_([n.code for n in nodes]), atp > 0)
                .group_by(POSITION.location_code)
            ).all()
        )
        figures = node_lane_figures(
            session,
            [n.code for n in nodes],
            city,
            region,
            parcel_share_of_trip=settings.parcel_share_of_trip,
        )
        _, load = orders_today(session, local_day(ctx.now, settings))
        rows = []
        for node in nodes:
            fig = figures.get(node.code)
            rows.append(
                ShipNode(
                    node=node.code,
                    name_en=node.name_en,
                    name_zh=node.name_zh,
                    kind=node.kind,  # type: ignore[arg-type]
                    city=node.city,
                    tier=node.tier,
                    atp_units=int(units.get(node.code) or 0),
                    orders_today=load.get(node.code, 0),
                    capacity_per_day=settings.stores.capacity(node.code)
                    if node.kind == "store"
                    else None,
                    lead_time_hours=None
                    if fig is None
                    else round(settings.handling_hours.of(node.kind) + fig.lead_time_hours, 1),
                    parcel_cost=None
                    if fig is None
                    else round(
                        settings.pick_pack_cost.of(node.kind) + fig.parcel_cost + fig.cost_per_unit,
                        2,
                    ),
                )
            )
    rows.sort(key=lambda r: (r.kind != "store", -r.atp_units, r.node))
    note = (
        "Stores ship only what the transfer rules let leave them (min display, their own "
        f"{settings.protection.protect_days}-day sales, core size runs), at most "
        f"{settings.stores.max_share_per_day:.0%} of the day's orders each."
    )
    if not settings.ship_from_store:
        note = "Ship-from-store is switched off in the routing policy. " + note
    return ShipNodesOutput(
        city=city,
        channel=request.channel,
        ship_from_store=settings.ship_from_store,
        nodes=rows,
        note=note,
    )


def find_order(session: Session, ref: str) -> OnlineOrder | None:
    """By our id, the channel's order id or the OMS reference (the first that matches)."""
    order = session.get(OnlineOrder, ref)
    if order is not None:
        return order
    for column in (OnlineOrder.channel_order_id, OnlineOrder.oms_ref):
        found = session.exec(
            select(OnlineOrder).where(column == ref).order_by(OnlineOrder.created_at.desc())  # type: ignore[attr-defined]
        ).first()
        if found is not None:
            return found
    return None


def explain_order(ctx: ToolContext, request: ExplainOrderInput) -> ExplainOrderOutput:
    """The stored routing decision of an order: chosen node(s), runners-up, exclusions."""
    with ctx.read() as session:
        order = find_order(session, request.order)
        if order is None:
            raise ToolError(
                f"no online order {request.order!r} (give our id ord-…, the channel's order id "
                "or the OMS reference)",
                field="order",
                value=request.order,
            )
        nodes = sorted(
            set(
                session.exec(
                    select(OnlineOrderLine.node_code).where(OnlineOrderLine.order_id == order.id)
                )
            )
        )
        decision = order.decision or {}
        chosen = (
            RoutingOption.model_validate(decision["chosen"]) if decision.get("chosen") else None
        )
        runners = [RoutingOption.model_validate(o) for o in decision.get("runners_up", [])]
        excluded = decision.get("excluded", [])
        asked = None if request.node is None else request.node in nodes
        return ExplainOrderOutput(
            order_id=order.id,
            channel=order.channel,
            channel_order_id=order.channel_order_id,
            oms_ref=order.oms_ref,
            status=order.status,
            destination_city=order.destination_city,
            shipped_from=nodes,
            asked_node_used=asked,
            chosen=chosen,
            runners_up=runners,
            excluded=excluded,
            summary=summarise(order, nodes, chosen, runners, request.node),
        )


def _parts(option: RoutingOption) -> str:
    p = option.parts
    return (
        f"{'+'.join(option.nodes)}: score {p.total:.2f} = delivery {p.delivery_cost:.2f} "
        f"+ late {p.late_penalty:.2f} + stock health {p.stock_health:+.2f} "
        f"+ split {p.split_penalty:.2f}"
    )


_PART_WORDS = {
    "delivery_cost": "cheaper to deliver",
    "late_penalty": "on time sooner",
    "stock_health": "better for stock health",
    "split_penalty": "fewer parcels",
}


def why_it_won(chosen: RoutingOption, runner: RoutingOption) -> str:
    """The part of the score that decided between the chosen plan and the best runner-up."""
    a, b = chosen.parts, runner.parts
    gaps = {name: getattr(b, name) - getattr(a, name) for name in _PART_WORDS}
    name = max(gaps, key=lambda key: gaps[key])
    margin = b.total - a.total
    if margin <= 0.005:
        return (
            f"It tied with {'+'.join(runner.nodes)} (¥{a.total:.2f}); ties go to DCs, then the "
            "online pool, then fewer parcels."
        )
    return (
        f"It beat {'+'.join(runner.nodes)} by ¥{margin:.2f}, mostly {_PART_WORDS[name]} "
        f"({name.replace('_', ' ')} {getattr(a, name):.2f} vs {getattr(b, name):.2f})."
    )


def summarise(
    order: OnlineOrder,
    nodes: list[str],
    chosen: RoutingOption | None,
    runners: list[RoutingOption],
    asked: str | None,
) -> str:
    head = f"Order {order.channel_order_id} ({order.id}) to {order.destination_city}"
    if asked is not None and asked not in nodes:
        head += f" was not shipped from {asked}; it ships from {', '.join(nodes)}"
    else:
        head += f" ships from {', '.join(nodes)}"
    if chosen is None:
        return head + "."
    text = f"{head}. Chosen {_parts(chosen)} (lowest wins)."
    if runners:
        text += " " + why_it_won(chosen, runners[0])
        text += " Runners-up: " + "; ".join(_parts(o) for o in runners) + "."
    on_time = all(p.on_time for p in chosen.parcels)
    text += " Delivery is expected on time." if on_time else " Delivery may miss the promise."
    return text
