"""The simulated OMS reports what happened to the online parcels it accepted, as signed webhooks.

A real OMS (or the store/DC app behind it) tells the retailer when a parcel was picked and
handed to the courier (and what was missing on the shelf), when the customer got it and what
the courier charged. The simulated one does the same for every new parcel (``POST
/oms/shipments``) once a subscriber is registered for ``oms``, through the same outbox and
emitter as the simulated WMS (``connectors.simulated.feedback``: signed like an alert,
compressed time, retried until the receiver answers 2xx).

Each event names the parcel by the OMS's own reference (``order_ref``), our order id
(``client_ref``), the node that ships it (``origin``) and the customer's delivery zone
(``destination``, ``inventory.online_fulfilment.delivery_zone``), so what is learnt is a
per-(node, zone) parcel lane and a per-node pick-short rate and handling time.

**The noise model** (seeded by the parcel's reference, so a replay tells the same story):

- handling (accepted → handed to the courier): stores 1–6 h, DCs and the online pool 2–10 h,
  times a lasting per-node factor (×0.8–1.6);
- each node has its own pick-short rate (stores 0–12 %, others 0–4 %): a line picked short ships
  1 to a third of its units fewer (a one-unit line ships none). A parcel that ships nothing is
  then reported ``cancelled`` (nothing to send);
- transit is the plan's lead time for the (node, zone) lane × a lasting lane factor (most ×0.9–1.1,
  one in four ×1.3–1.8) × lognormal noise (σ 0.2: the last mile is noisier than a line haul);
- cost = (per parcel + per unit × units shipped) × a lasting lane factor (×0.9–1.4) ± 10 %;
- 1 % of parcels are cancelled before picking (only ``cancelled`` is reported);
- webhooks are imperfect: 5 % of ``shipped`` events are sent after the ``delivered`` one (the
  courier's scan beat the store's confirmation) and 5 % of events are sent twice.

A (node, zone) the subscriber did not plan is planned at 20 h from a store, 30 h from elsewhere,
¥1 per unit and ¥8 per parcel.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

from connectors.models import OmsShipment
from connectors.simulated.feedback import FeedbackSubscription, _unit, lane_bias
from inventory.online_fulfilment import delivery_zone

#: One event to queue: (simulated hours after acceptance it is sent, outbox key, body).
Planned = tuple[float, str, dict]

DEFAULT_PARCEL_PLAN = {"store": (20.0, 1.0, 8.0), "other": (30.0, 1.0, 8.0)}


def _handling(rng: random.Random, node: str, kind: str) -> float:
    low, high = (1.0, 6.0) if kind == "store" else (2.0, 10.0)
    return rng.uniform(low, high) * (0.8 + 0.8 * _unit("handling", node))


def _short_rate(node: str, kind: str) -> float:
    return (0.12 if kind == "store" else 0.04) * _unit("pick", node)


def parcel_story(
    subscription: FeedbackSubscription,
    reference: str,
    parcel: OmsShipment,
    released_at: datetime,
) -> list[Planned]:
    """The parcel's events as ``(hours after acceptance to send it, key, body)``."""
    rng = random.Random(f"{reference}|{parcel.shipment_ref}")
    zone = delivery_zone(parcel.destination_city)
    plans = {(lane.source, lane.dest): lane for lane in subscription.lanes}
    plan = plans.get((parcel.node, zone))
    lead, per_unit, per_parcel = (
        (plan.lead_time_hours, plan.cost_per_unit, plan.cost_per_shipment)
        if plan
        else DEFAULT_PARCEL_PLAN["store" if parcel.node_kind == "store" else "other"]
    )
    common = {
        "system": "oms",
        "order_ref": reference,
        "client_ref": parcel.order_id,
        "order_kind": "online",
        "origin": parcel.node,
        "destination": zone,
    }

    def event(kind: str, hours: float, **fields: object) -> tuple[float, dict]:
        at = released_at + timedelta(hours=hours)
        body = {"event_id": f"{reference}:{kind}", "type": kind, **common}
        return hours, body | {"occurred_at": at.isoformat(), **fields}

    handling = _handling(rng, parcel.node, parcel.node_kind)
    if rng.random() < 0.01:
        events = [event("cancelled", handling, reason="cancelled by the OMS before picking")]
        return _imperfect(rng, events)
    short_rate = _short_rate(parcel.node, parcel.node_kind)
    lines = []
    seen: dict[str, int] = {}
    for line in parcel.lines:
        shipped = line.qty
        if rng.random() < short_rate:
            shipped = max(0, line.qty - rng.randint(1, max(1, line.qty // 3)))
        # A parcel's lines carry no order-line number: the OMS keys them by SKU (the receiver
        # matches a line by its number, else its SKU; a number here would name another line).
        seen[line.sku] = seen.get(line.sku, 0) + 1
        line_id = line.sku if seen[line.sku] == 1 else f"{line.sku}:{seen[line.sku]}"
        lines.append(
            {"line": line_id, "sku": line.sku, "qty_ordered": line.qty, "qty_shipped": shipped}
        )
    units = sum(item["qty_shipped"] for item in lines)
    shipped_event = event("shipped", handling, released_at=released_at.isoformat(), lines=lines)
    if units == 0:
        nothing = event("cancelled", handling + 0.1, reason="picked short: nothing to ship")
        return _imperfect(rng, [shipped_event, nothing])
    transit = lead * lane_bias(parcel.node, zone) * math.exp(rng.gauss(0.0, 0.2))
    delivered = handling + max(1.0, transit)
    cost_bias = 0.9 + 0.5 * _unit("cost", parcel.node, zone)
    cost = (per_parcel + per_unit * units) * cost_bias * rng.uniform(0.9, 1.1)
    if rng.random() < 0.05:  # the courier's delivery scan arrives before the ship confirmation
        shipped_event = (delivered + 0.5, shipped_event[1])
    return _imperfect(
        rng,
        [
            shipped_event,
            event("delivered", delivered),
            event("cost", delivered, amount=round(cost, 2), trips=1, units=units),
        ],
    )


def _imperfect(rng: random.Random, events: list[tuple[float, dict]]) -> list[Planned]:
    """Key each event for the outbox; resend some (same body, a later send)."""
    planned: list[Planned] = []
    for hours, body in events:
        planned.append((hours, body["event_id"], body))
        if rng.random() < 0.05:
            planned.append((hours + 0.25, f"{body['event_id']}#resent", body))
    return planned
