"""The routing decision as ``inventory.online_orders`` takes it (a ``Router``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from sqlmodel import Session

from inventory.online_orders import RoutedPart, Router, Routing
from tools.route_order.models import RouteOrderInput, RouteOrderOutput
from tools.route_order.pool import local_day, orders_today, store_allowance
from tools.route_order.settings import RoutingSettings
from tools.route_order.tool import plan_route


def as_routing(decision: RouteOrderOutput) -> Routing:
    chosen = decision.chosen
    stored = decision.model_dump(
        mode="json",
        include={"chosen", "runners_up", "excluded", "strategy", "promised_by", "candidates"},
    )
    if chosen is None:
        return Routing(
            routable=False,
            reason=decision.reason,
            destination_city=decision.destination_city,
            destination_region=decision.destination_region,
            decision=stored,
        )
    parts = tuple(
        RoutedPart(line.line_no, line.sku, line.qty, parcel.node, parcel.lead_time_hours)
        for parcel in chosen.parcels
        for line in parcel.lines
    )
    return Routing(
        routable=True,
        reason=None,
        destination_city=decision.destination_city,
        destination_region=decision.destination_region,
        parts=parts,
        delivery_cost=chosen.parts.delivery_cost,
        eta=max(parcel.eta for parcel in chosen.parcels),
        decision=stored,
    )


def order_router(request: RouteOrderInput, settings: RoutingSettings, now: dt.datetime) -> Router:
    """Decide on the placing transaction's own session, so the read and the holds agree."""

    def route(session: Session, exclude: frozenset[tuple[str, str]]) -> Routing:
        decision = plan_route(session, request, settings, now, exclude=exclude)
        routing = as_routing(decision)
        stores = sorted(
            {p.node for p in decision.chosen.parcels if p.node_kind == "store"}
            if decision.chosen is not None
            else set()
        )
        if not stores:
            return routing
        # The write checks and counts these atomically (the read above may race on PostgreSQL).
        total, _ = orders_today(session, local_day(now, settings))
        return replace(routing, slots={s: store_allowance(s, total, settings) for s in stores})

    return route
