"""The simulated OMS reports what happened to the parcels it accepted (``oms_feedback``): stories
follow the event contract, vary like a courier network, and a parcel can be withdrawn until it
ships (then 409)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from statistics import mean

import httpx
from fastapi.testclient import TestClient
from pydantic import TypeAdapter

from connectors.models import OmsShipment, OmsShipmentCancel, WmsLine
from connectors.simulated.app import create_app
from connectors.simulated.feedback import FeedbackSubscription, LanePlan
from connectors.simulated.oms_feedback import parcel_story
from connectors.simulated.state import SimulatedState
from inventory.fulfilment import FulfilmentEventIn

EVENT = TypeAdapter(FulfilmentEventIn)
RELEASED = datetime(2026, 6, 1, 9, tzinfo=UTC)


def parcel(n: int, node: str = "SHA-A1", kind: str = "store", qty: int = 1) -> OmsShipment:
    return OmsShipment(
        shipment_ref=f"WEB-{n}/{node}",
        order_id=f"ord-{n:020d}",
        channel="online",
        channel_order_id=f"WEB-{n}",
        node=node,
        node_kind=kind,
        destination_city="Shanghai",
        lines=[WmsLine(sku="RB001-BLK-38", qty=qty)],
        promised_by=RELEASED + timedelta(hours=48),
    )


def subscription(**changes: object) -> FeedbackSubscription:
    plan = LanePlan(
        source="SHA-A1",
        dest="zone-Shanghai",
        lead_time_hours=18,
        cost_per_unit=1.0,
        cost_per_shipment=6.0,
    )
    fields = {"url": "http://testserver/none", "sender": "demo-oms", "secret": "s" * 20}
    return FeedbackSubscription(**(fields | {"lanes": [plan]} | changes))


def test_parcel_stories_follow_the_event_contract_and_are_reproducible() -> None:
    sub = subscription()
    first = parcel_story(sub, "OMS-000001", parcel(1), RELEASED)
    assert first == parcel_story(sub, "OMS-000001", parcel(1), RELEASED)
    for _hours, _key, body in first:
        event = EVENT.validate_python(body)  # what /v1/fulfilment/events accepts
        assert event.system == "oms" and event.order_kind == "online"
        assert (event.origin, event.destination) == ("SHA-A1", "zone-Shanghai")
        assert event.client_ref == "ord-00000000000000000001"


def test_a_parcels_lines_are_keyed_by_sku() -> None:
    """A parcel carries no order-line numbers; numbering its lines 1, 2 … would name other
    lines of the order at the receiver (which matches a number first, then a SKU)."""
    two = parcel(9).model_copy(
        update={"lines": [WmsLine(sku="RB001-BLK-39", qty=1), WmsLine(sku="RB001-BLK-40", qty=2)]}
    )
    story = parcel_story(subscription(), "OMS-000009", two, RELEASED)
    (shipped,) = [body for _h, key, body in story if body["type"] == "shipped" and "#" not in key]
    assert [line["line"] for line in shipped["lines"]] == ["RB001-BLK-39", "RB001-BLK-40"]


def test_parcel_stories_vary_like_a_courier_network() -> None:
    sub = subscription()
    kinds: dict[str, int] = {}
    leads, costs, late_shipped, resent = [], [], 0, 0
    for n in range(600):
        story = parcel_story(sub, f"OMS-{n:06d}", parcel(n, qty=3), RELEASED)
        sent = {body["type"]: hours for hours, key, body in story if "#" not in key}
        resent += sum("#resent" in key for _h, key, _b in story)
        for _hours, key, body in story:
            if "#" not in key:
                kinds[body["type"]] = kinds.get(body["type"], 0) + 1
            if body["type"] == "delivered" and "#" not in key:
                at = datetime.fromisoformat(body["occurred_at"])
                leads.append((at - RELEASED).total_seconds() / 3600)
            if body["type"] == "cost" and "#" not in key:
                costs.append(body["amount"] / (6.0 + 1.0 * body["units"]))
        if "delivered" in sent and sent["shipped"] > sent["delivered"]:
            late_shipped += 1
    assert kinds["shipped"] > 570 and 0 < kinds.get("cancelled", 0) < 40
    assert 16 < mean(leads) < 40  # handling 1-6 h (× node) + 18 h × lane bias × noise
    assert all(0.8 < ratio < 1.6 for ratio in costs)
    assert 10 < late_shipped < 60  # delivered reported before shipped, about 5 %
    assert 40 < resent < 140  # about 5 % of events sent twice


def test_a_parcel_is_withdrawn_until_it_ships_then_refused() -> None:
    state = SimulatedState()
    client = TestClient(create_app(state))
    state.subscribe(subscription(seconds_per_hour=3600), "oms")  # its events are far off
    key = {"Idempotency-Key": "online-shipment:ord-1:SHA-A1"}
    ack = client.post("/oms/shipments", json=parcel(1).model_dump(mode="json"), headers=key)
    assert ack.status_code == 200, ack.text
    reference = ack.json()["reference"]
    assert {e.status for e in state.outgoing_events()} == {"pending"}
    cancel = OmsShipmentCancel(shipment_ref="WEB-1/SHA-A1", order_id="ord-1", node="SHA-A1")
    ckey = {"Idempotency-Key": "online-shipment-cancel:ord-1:SHA-A1"}
    body = cancel.model_dump(mode="json")
    withdrawn = client.post("/oms/shipments/cancellations", json=body, headers=ckey)
    assert withdrawn.status_code == 200 and not withdrawn.json()["duplicate"]
    again = client.post("/oms/shipments/cancellations", json=body, headers=ckey)
    assert again.json() == withdrawn.json() | {"duplicate": True}
    events = state.outgoing_events()
    pending = [e for e in events if e.status == "pending"]
    assert [e.body["type"] for e in pending] == ["cancelled"]
    assert pending[0].body["order_ref"] == reference and pending[0].due_at <= time.time()
    assert {e.status for e in events if e not in pending} == {"withdrawn"}
    assert len(client.get("/oms/shipments/cancellations").json()) == 1
    assert len(client.get("/oms/shipments").json()) == 1
    assert client.get("/oms/reservations").json() == []

    state.subscribe(subscription(seconds_per_hour=0), "oms")  # now everything is due at once
    key2 = {"Idempotency-Key": "online-shipment:ord-2:SHA-A1"}
    client.post("/oms/shipments", json=parcel(2).model_dump(mode="json"), headers=key2)
    late = cancel.model_copy(update={"shipment_ref": "WEB-2/SHA-A1", "order_id": "ord-2"})
    refused = client.post(
        "/oms/shipments/cancellations",
        json=late.model_dump(mode="json"),
        headers={"Idempotency-Key": "online-shipment-cancel:ord-2:SHA-A1"},
    )
    assert refused.status_code == 409 and "already shipped from SHA-A1" in refused.text


def test_a_cancellation_that_overtakes_its_parcel_stops_it_shipping() -> None:
    state = SimulatedState()
    client = TestClient(create_app(state))
    state.subscribe(subscription(seconds_per_hour=0), "oms")
    cancel = OmsShipmentCancel(shipment_ref="WEB-3/SHA-A1", order_id="ord-3", node="SHA-A1")
    ahead = client.post(
        "/oms/shipments/cancellations",
        json=cancel.model_dump(mode="json"),
        headers={"Idempotency-Key": "c-3"},
    )
    assert ahead.status_code == 200
    client.post(
        "/oms/shipments",
        json=parcel(3).model_dump(mode="json"),
        headers={"Idempotency-Key": "s-3"},
    )
    assert state.outgoing_events() == []  # it will never ship


def test_the_emitter_posts_parcel_events_signed(monkeypatch) -> None:
    """The OMS's events go out through the same signed emitter as the WMS's."""
    from connectors.simulated.feedback import FeedbackEmitter

    state = SimulatedState()
    client = TestClient(create_app(state))
    state.subscribe(subscription(seconds_per_hour=0), "oms")
    client.post(
        "/oms/shipments",
        json=parcel(4).model_dump(mode="json"),
        headers={"Idempotency-Key": "s-4"},
    )
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        sent = FeedbackEmitter(state).send_due(http)
    assert sent == len(state.outgoing_events()) == len(seen) > 0
    assert all(r.headers["X-Stockpilot-Sender"] == "demo-oms" for r in seen)
    assert all(r.headers["X-Stockpilot-Signature"].startswith("sha256=") for r in seen)
