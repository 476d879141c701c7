"""What a replayed day of routed parcels realised, by the simulated OMS's own events.

``evals.routing_replay`` scores routing on its *planned* figures (lane cost, ETA). Here the
parcels it wrote to the outbox are sent to the simulated OMS by the executor's dispatcher; the
OMS tells each parcel's noisy story (``connectors.simulated.oms_feedback``: handling, short
picks, transit, courier cost) and every event is recorded through ``record_event`` as the
signed webhook would, so the holds are settled by the single stock writer. Reported: parcels
delivered, realised freight (the courier's cost events) against the planned freight, realised
lead time (release → delivery) and the share delivered within the promise, lines picked short,
and holds left open (0 unless an event is missing).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from statistics import mean

import httpx
import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from agents.executor.dispatcher import Dispatcher
from connectors.base import ConnectorSet
from connectors.notify import NotifyClient
from connectors.oms import OmsClient
from connectors.pricing import PricingClient
from connectors.simulated.feedback import FeedbackSubscription
from connectors.simulated.state import SimulatedState
from connectors.wms import WmsClient
from inventory.db import retrying
from inventory.fulfilment import FulfilmentEventIn, record_event
from inventory.models import (
    ChannelReservation,
    FulfilmentOutcome,
    Location,
    OnlineOrder,
    OnlineOrderLine,
    ReservationStatus,
)
from inventory.models.fulfilment import ORDER_LINE
from tools.route_order.figures import parcel_plans
from tools.route_order.settings import RoutingSettings

SENDER = "demo-oms"
_EVENT = TypeAdapter(FulfilmentEventIn)


@dataclass(frozen=True)
class Realised:
    parcels_sent: int
    events_recorded: int
    parcels_delivered: int
    freight_realised: float  # CNY, the courier's cost events
    freight_planned: float  # CNY, the same parcels' planned freight (order cost less pick/pack)
    lead_time_h_mean: float | None  # release → delivery, delivered parcels
    on_time_share: float | None  # delivered within the promise (promise measured from placing)
    lines_picked_short: int
    open_holds_left: int


def connectors_over(http: httpx.Client) -> ConnectorSet:
    """Every client through one in-process HTTP client (the simulated systems' TestClient)."""
    base = "http://simulated"
    return ConnectorSet(
        wms=WmsClient(base, client=http),
        oms=OmsClient(base, client=http),
        pricing=PricingClient(base, client=http),
        notify=NotifyClient(base, client=http),
    )


def realise(
    engine: Engine,
    http: httpx.Client,
    state: SimulatedState,
    settings: RoutingSettings,
    *,
    now: dt.datetime,
) -> Realised:
    """Send the peer's parcels, record the OMS's events for them, and measure what happened."""
    with Session(engine) as session:
        plans = parcel_plans(session, settings.parcel_share_of_trip)
        orders = {row.id: row for row in session.exec(select(OnlineOrder))}
    state.subscribe(
        FeedbackSubscription(
            url="http://unused.invalid/", sender=SENDER, secret="x" * 16, lanes=plans
        ),
        "oms",
    )
    report = Dispatcher(engine, connectors_over(http), clock=lambda: now).run_pending(limit=100_000)
    recorded = 0
    for event in state.outgoing_events():
        if event.body.get("client_ref") not in orders or event.status != "pending":
            continue
        parsed = _EVENT.validate_python(event.body)
        retrying(engine, lambda s, e=parsed: record_event(s, SENDER, e, now=now))
        state.event_sent(event.id)
        recorded += 1
    return _measure(engine, orders, settings, len(report.sent), recorded)


def _measure(
    engine: Engine,
    orders: dict[str, OnlineOrder],
    settings: RoutingSettings,
    sent: int,
    recorded: int,
) -> Realised:
    with Session(engine) as session:
        outcomes = list(
            session.exec(select(FulfilmentOutcome).where(FulfilmentOutcome.order_kind == "online"))
        )
        lines = list(session.exec(select(OnlineOrderLine)))
        kinds = dict(session.execute(sa.select(Location.code, Location.kind)).all())
        holds = {
            row.id: row.status
            for row in session.exec(select(ChannelReservation))
            if row.id in {line.reservation_id for line in lines}
        }
    parcel_rows = [o for o in outcomes if o.line == ORDER_LINE]
    delivered = [o for o in parcel_rows if o.delivered_at and o.released_at and not o.cancelled_at]
    leads = [(o.delivered_at - o.released_at).total_seconds() / 3600 for o in delivered]
    on_time = [
        lead
        <= (orders[o.client_ref].promised_by - orders[o.client_ref].created_at).total_seconds()
        / 3600
        for o, lead in zip(delivered, leads, strict=True)
        if o.client_ref in orders
    ]
    planned = 0.0  # the routed parcels' freight: delivery cost less each parcel's pick/pack
    for order in orders.values():
        nodes = {line.node_code for line in lines if line.order_id == order.id}
        pick_pack = sum(settings.pick_pack_cost.of(kinds.get(node, "dc")) for node in nodes)
        planned += order.delivery_cost - pick_pack
    return Realised(
        parcels_sent=sent,
        events_recorded=recorded,
        parcels_delivered=len(delivered),
        freight_realised=round(sum(o.cost or 0.0 for o in parcel_rows), 2),
        freight_planned=round(planned, 2),
        lead_time_h_mean=round(mean(leads), 1) if leads else None,
        on_time_share=round(sum(on_time) / len(on_time), 3) if on_time else None,
        lines_picked_short=sum(
            1
            for o in outcomes
            if o.line != ORDER_LINE and o.qty_shipped is not None and o.qty_shipped < o.qty_ordered
        ),
        open_holds_left=sum(status == ReservationStatus.OPEN for status in holds.values()),
    )


def as_dict(result: Realised) -> dict[str, object]:
    return asdict(result)
