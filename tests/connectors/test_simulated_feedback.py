"""The simulated WMS reports what happened to the transfers it received: its stories follow the
event contract and vary the way a real network does, and they reach a real service, signed,
where the lanes learn from them (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from statistics import mean
from types import SimpleNamespace

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter
from sqlalchemy.engine import Engine

from api.auth import seed_demo_keys
from connectors.base import ConnectorSet
from connectors.models import WmsLine, WmsTransferOrder
from connectors.simulated.app import create_app as create_simulated_app
from connectors.simulated.feedback import FeedbackSubscription, LanePlan, lane_bias, story
from connectors.simulated.state import SimulatedState
from inventory.db import session_scope
from inventory.fulfilment import FulfilmentEventIn
from tests.api.conftest import KEYS
from tests.utils.fulfilment_events import add_network
from tests.utils.service import drain, embedded_app_state, served_service

EVENT = TypeAdapter(FulfilmentEventIn)
RELEASED = datetime(2026, 6, 1, 9, tzinfo=UTC)
SENDER, SECRET = "demo-wms", "a-test-secret-of-the-simulated-wms"


def order(n: int, source: str = "DC-SHA", dest: str = "SHA-A1", qty: int = 6) -> WmsTransferOrder:
    return WmsTransferOrder(
        order_id=f"TO-{n}",
        source=source,
        dest=dest,
        lines=[WmsLine(sku=f"RB001-BLK-{36 + k}", qty=qty) for k in range(4)],
    )


def subscription(url: str = "http://127.0.0.1:1/none", **changes: object) -> FeedbackSubscription:
    lanes = [
        LanePlan(
            source="DC-SHA",
            dest="SHA-A1",
            lead_time_hours=24,
            cost_per_unit=2.0,
            cost_per_shipment=40.0,
        )
    ]
    return FeedbackSubscription(url=url, sender=SENDER, secret=SECRET, lanes=lanes, **changes)


def test_stories_follow_the_event_contract_and_are_reproducible() -> None:
    sub = subscription()
    for n in range(200):
        events = story(sub, f"WMS-{n:06d}", order(n), RELEASED)
        assert events == story(sub, f"WMS-{n:06d}", order(n), RELEASED)
        parsed = [EVENT.validate_python(body) for _, body in events]
        kinds = [event.type for event in parsed]
        assert kinds in (["shipped", "delivered", "cost"], ["cancelled"])
        assert [hours for hours, _ in events] == sorted(hours for hours, _ in events)
        assert all(event.client_ref == f"TO-{n}" for event in parsed)


def test_lead_times_vary_by_lane_and_some_lines_are_picked_short() -> None:
    sub = subscription()
    lanes = [("DC-SHA", f"SHA-{k:02d}") for k in range(40)]
    biases = [lane_bias(*lane) for lane in lanes]
    assert min(biases) < 1.1 and max(biases) > 1.3  # some lanes run to plan, some run slow
    leads, lines, short = [], 0, 0
    for n in range(300):
        told = story(sub, f"WMS-{n:06d}", order(n), RELEASED)
        events = {body["type"]: (hours, body) for hours, body in told}
        if "shipped" in events:
            leads.append(events["delivered"][0])
            for line in events["shipped"][1]["lines"]:
                lines += 1
                short += line["qty_shipped"] < line["qty_ordered"]
    assert max(leads) - min(leads) > 6  # noise per delivery, around the lane's biased plan
    assert mean(leads) == pytest.approx(24 * lane_bias("DC-SHA", "SHA-A1"), rel=0.1)
    assert 0 < short < lines


def test_the_wms_queues_a_story_only_for_new_orders_with_a_subscriber() -> None:
    state = SimulatedState()
    client = TestClient(create_simulated_app(state))
    body = order(1).model_dump(mode="json")
    client.post("/wms/transfer-orders", json=body, headers={"Idempotency-Key": "k-1"})
    assert state.outgoing_events() == []  # nobody subscribed yet
    sub = subscription().model_dump(mode="json")
    assert client.post("/admin/subscriptions/wms", json=sub).status_code == 204
    for key in ("k-2", "k-2"):  # a retry of the same order queues nothing twice
        client.post(
            "/wms/transfer-orders",
            json=order(2).model_dump(mode="json"),
            headers={"Idempotency-Key": key},
        )
    listed = client.get("/admin/events").json()
    assert {item["body"]["client_ref"] for item in listed} == {"TO-2"}
    assert len(listed) in (1, 3) and all("secret" not in item for item in listed)


@pytest.fixture
def service_url(engine: Engine, tmp_path) -> Iterator[str]:
    """The service on a real port, taking events from the simulated WMS's sender."""
    seed_demo_keys(engine)
    with session_scope(engine) as session:
        add_network(session)
    with served_service(engine, tmp_path, fulfilment_secrets={SENDER: SECRET}) as url:
        yield url


def test_the_loop_closes_the_service_learns_from_what_the_wms_reports(service_url: str) -> None:
    with ConnectorSet.simulated() as systems:
        state = systems.simulated_server.state  # type: ignore[union-attr]
        state.subscribe(subscription(f"{service_url}/v1/fulfilment/events", seconds_per_hour=0.001))
        for n in range(12):
            systems.wms.create_transfer_order(order(n), idempotency_key=f"wms:{n}")
        sent = drain(state)
    assert {item.status for item in sent} == {"sent"}
    lanes = httpx.get(
        f"{service_url}/v1/fulfilment/lanes",
        params={"observed_only": True},
        headers={"x-api-key": KEYS["demo-viewer"]},
    ).json()
    (lane,) = lanes
    delivered = sum(1 for item in sent if item.body["type"] == "delivered")
    assert (lane["origin"], lane["destination"]) == ("DC-SHA", "SHA-A1")
    assert lane["learnt"]["deliveries"] == delivered >= 10
    assert lane["learnt"]["costed"] == delivered and lane["learnt"]["lines"] == 4 * delivered
    assert lane["effective"]["lead_time_hours"] != 24.0  # the configured figure moved


def test_the_service_subscribes_to_the_embedded_wms_only_with_a_secret(engine: Engine) -> None:
    from api.fulfilment_feedback import subscribe_simulated_wms

    with session_scope(engine) as session:
        add_network(session, lead_hours=30)
    with ConnectorSet.simulated() as systems:

        def app_state(**settings: object) -> SimpleNamespace:
            return embedded_app_state(engine, systems, **settings)

        state = systems.simulated_server.state  # type: ignore[union-attr]
        assert not subscribe_simulated_wms(app_state())  # no secret for demo-wms: no reports
        assert state.subscription() is None
        assert not subscribe_simulated_wms(
            app_state(fulfilment_secrets={SENDER: SECRET}, wms_url="http://wms.example")
        )  # a real WMS is configured: the simulated one is not ours to subscribe to
        assert subscribe_simulated_wms(app_state(fulfilment_secrets={SENDER: SECRET}))
        subscribed = state.subscription()
    assert subscribed is not None
    assert subscribed.url == "http://127.0.0.1:8342/v1/fulfilment/events"
    assert (subscribed.sender, subscribed.secret) == (SENDER, SECRET)
    assert [(lane.source, lane.dest, lane.lead_time_hours) for lane in subscribed.lanes] == [
        ("DC-SHA", "SHA-A1", 30.0)
    ]
