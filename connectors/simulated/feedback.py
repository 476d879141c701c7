"""The simulated WMS reports what happened to the transfers it received, as signed webhooks.

A real WMS/TMS tells its customer when an order shipped (and what was picked short), when it
was delivered and what it cost. The simulated one does the same for every new transfer order
once a subscriber is registered (``SimulatedState.subscribe``): it writes the order's story to
its own outbox at once, and ``FeedbackEmitter`` posts each event when it comes due, signed like
an alert (HMAC-SHA256 over ``"<timestamp>.<body>"``), retrying with backoff until the receiver
answers 2xx (a 4xx is recorded as rejected and not retried).

**Compressed time.** Lead times are hours to days; the demo cannot wait that long, so each
event is *sent* ``seconds_per_hour`` real seconds per simulated hour after the order arrived
(default 0.05: a 48 h delivery reports after 2.4 s), while its timestamps say the simulated
time (release + hours). What the service learns from is the timestamps.

**The noise model** (seeded by the order's reference, so a replay tells the same story):

- each lane has a fixed bias on its planned lead time: most lanes run close to plan
  (×0.9–1.1), one in four is slow (×1.3–1.8); each delivery adds lognormal noise (σ 0.15);
- handling at the source (release → shipped) takes 1–6 h;
- each source node has its own pick-short rate (0–10 %): a line picked short ships 1 to a third
  of its units fewer;
- each lane's cost runs ×0.9–1.4 of plan (per trip + per unit shipped), ±10 % per order;
- 2 % of orders are cancelled before they ship (then only ``cancelled`` is reported).

A lane the subscriber did not describe is planned at 24 h, ¥2 per unit and ¥40 per trip.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import random
import threading
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import httpx
from pydantic import BaseModel, ConfigDict, Field

from connectors.client import tls_context
from connectors.models import WmsTransferOrder

if TYPE_CHECKING:
    from connectors.simulated.state import SimulatedState

log = logging.getLogger(__name__)
DEFAULT_PLAN = (24.0, 2.0, 40.0)  # lead time h, cost per unit, cost per trip


class LanePlan(BaseModel):
    """One lane as the simulated system plans it. Read from attributes too, so a layer above
    hands its own figures in (routing's ``ParcelPlan``) without a copy of this model."""

    model_config = ConfigDict(from_attributes=True)

    source: str
    dest: str
    lead_time_hours: float = Field(gt=0)
    cost_per_unit: float = Field(ge=0)
    cost_per_shipment: float = Field(ge=0)


class FeedbackSubscription(BaseModel):
    """Where the simulated WMS sends its events, as whom, and the lanes it plans with."""

    url: str = Field(description="The receiver, e.g. http://127.0.0.1:8000/v1/fulfilment/events.")
    sender: str = Field(min_length=1)
    secret: str = Field(min_length=1)
    seconds_per_hour: float = Field(default=0.05, ge=0, le=3600)
    lanes: list[LanePlan] = Field(default_factory=list)


def _unit(*parts: str) -> float:
    """A fixed number in [0, 1) for ``parts`` (a lane's or a node's lasting character)."""
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def lane_bias(source: str, dest: str) -> float:
    roll = _unit("lead", source, dest)
    if roll < 0.25:
        return 1.3 + 0.5 * (roll / 0.25)
    return 0.9 + 0.2 * ((roll - 0.25) / 0.75)


def story(
    subscription: FeedbackSubscription,
    reference: str,
    order: WmsTransferOrder,
    released_at: datetime,
) -> list[tuple[float, dict]]:
    """The order's events as ``(simulated hours after release, body)``, in the order they
    happen."""
    rng = random.Random(f"{reference}|{order.order_id}")
    plans = {(lane.source, lane.dest): lane for lane in subscription.lanes}
    plan = plans.get((order.source, order.dest))
    lead, per_unit, per_trip = (
        (plan.lead_time_hours, plan.cost_per_unit, plan.cost_per_shipment) if plan else DEFAULT_PLAN
    )
    common = {
        "system": "wms",
        "order_ref": reference,
        "client_ref": order.order_id,
        "order_kind": "transfer",
        "origin": order.source,
        "destination": order.dest,
    }

    def event(kind: str, hours: float, **fields: object) -> tuple[float, dict]:
        at = released_at + timedelta(hours=hours)
        body = {"event_id": f"{reference}:{kind}", "type": kind, **common}
        return hours, body | {"occurred_at": at.isoformat(), **fields}

    handling = rng.uniform(1.0, 6.0)
    if rng.random() < 0.02:
        return [event("cancelled", handling, reason="cancelled at the source before picking")]
    short_rate = 0.10 * _unit("pick", order.source)
    lines = []
    for number, line in enumerate(order.lines, start=1):
        shipped = line.qty
        if rng.random() < short_rate:
            shipped = max(0, line.qty - rng.randint(1, max(1, line.qty // 3)))
        lines.append(
            {"line": str(number), "sku": line.sku, "qty_ordered": line.qty, "qty_shipped": shipped}
        )
    transit = lead * lane_bias(order.source, order.dest) * math.exp(rng.gauss(0.0, 0.15))
    delivered = max(handling + 1.0, transit)
    units = sum(item["qty_shipped"] for item in lines)
    cost_bias = 0.9 + 0.5 * _unit("cost", order.source, order.dest)
    cost = (per_trip + per_unit * units) * cost_bias * rng.uniform(0.9, 1.1)
    return [
        event("shipped", handling, released_at=released_at.isoformat(), lines=lines),
        event("delivered", delivered),
        event("cost", delivered, amount=round(cost, 2), trips=1, units=units),
    ]


def signed_headers(sender: str, secret: str, body: bytes) -> dict[str, str]:
    """The sender's side of the webhook signature (the receiver's is ``api/signatures.py``)."""
    timestamp = str(int(time.time()))
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return {
        "X-Stockpilot-Sender": sender,
        "X-Stockpilot-Timestamp": timestamp,
        "X-Stockpilot-Signature": "sha256=" + mac.hexdigest(),
        "Content-Type": "application/json",
    }


class FeedbackEmitter:
    """Posts the simulated systems' due events from a daemon thread."""

    def __init__(self, state: SimulatedState, *, poll_s: float = 0.2) -> None:
        self.state = state
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="simulated-feedback", daemon=True)

    def start(self) -> FeedbackEmitter:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        with httpx.Client(timeout=10, verify=tls_context()) as http:
            while not self._stop.is_set():
                try:
                    self.send_due(http)
                except Exception:  # the state closed under us, or a bug: say so, keep going
                    log.exception("simulated feedback: sending failed")
                self._stop.wait(self.poll_s)

    def send_due(self, http: httpx.Client) -> int:
        """Send every event due now; returns how many the receiver took."""
        sent = 0
        for item in self.state.due_events(time.time()):
            body = json.dumps(item.body).encode()
            try:
                answer = http.post(
                    item.url, content=body, headers=signed_headers(item.sender, item.secret, body)
                )
            except httpx.HTTPError as error:
                self.state.event_failed(item.id, repr(error), retry=True)
                continue
            if answer.is_success:
                self.state.event_sent(item.id)
                sent += 1
            else:
                retry = answer.status_code >= 500 or answer.status_code in (408, 429)
                self.state.event_failed(
                    item.id, f"HTTP {answer.status_code}: {answer.text[:300]}", retry=retry
                )
        return sent
