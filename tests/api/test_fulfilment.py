"""``/v1/fulfilment``: signed WMS events in, learnt lane and node figures out (both backends)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from api.app import create_app
from api.auth import Role, create_api_key, seed_demo_keys
from api.signatures import signed_headers
from inventory.config import Settings
from inventory.db import session_scope
from tests.api.conftest import KEYS, tiny_catalog
from tests.utils.fulfilment_events import add_network, event_body, story

SENDER, SECRET = "wms-east", "a-long-test-secret-for-the-wms"
READS = [
    "/v1/fulfilment/lanes",
    "/v1/fulfilment/nodes",
    "/v1/fulfilment/events",
    "/v1/fulfilment/outcomes",
]


@pytest.fixture
def fulfil_client(engine: Engine, tmp_path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    seed_demo_keys(engine)
    with session_scope(engine) as session:
        add_network(session)
        channel = create_api_key(session, "tmall-shop", [Role.CHANNEL], channel="tmall")
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        data_dir=tmp_path,
        fulfilment_secrets={SENDER: SECRET},
        alert_secrets={"demo-weather": "demo-weather-secret"},
    )
    app = create_app(settings, engine=engine, catalog=tiny_catalog(engine))
    with TestClient(app) as client:
        yield client, KEYS | {"channel": channel}


def send(client: TestClient, body: dict, *, sender: str = SENDER, secret: str = SECRET):
    raw = json.dumps(body).encode()
    return client.post(
        "/v1/fulfilment/events", content=raw, headers=signed_headers(sender, secret, raw)
    )


def test_signed_events_are_recorded_once_and_a_changed_body_is_a_conflict(fulfil_client) -> None:
    client, _ = fulfil_client
    body = event_body("cost", "WMS-000001", amount=55.0, units=5)
    first = send(client, body)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "event_id": "WMS-000001:cost",
        "sender": SENDER,
        "type": "cost",
        "system": "wms",
        "order_ref": "WMS-000001",
        "duplicate": False,
    }
    assert send(client, body).json()["duplicate"] is True
    changed = send(client, body | {"amount": 60.0})
    assert changed.status_code == 409
    assert "differs in: amount" in changed.json()["error"]["message"]


def test_unsigned_forged_and_unknown_senders_are_refused(fulfil_client) -> None:
    client, _ = fulfil_client
    body = event_body("delivered", "WMS-000002")
    raw = json.dumps(body).encode()
    unsigned = client.post("/v1/fulfilment/events", content=raw)
    assert unsigned.status_code == 401
    assert "unsigned fulfilment event" in unsigned.json()["error"]["message"]
    assert send(client, body, secret="wrong").status_code == 401
    stranger = send(client, body, sender="demo-weather", secret="demo-weather-secret")
    assert stranger.status_code == 401  # an alert sender is not a fulfilment sender
    assert "unknown fulfilment event sender" in stranger.json()["error"]["message"]


def test_bad_events_are_422_naming_the_field(fulfil_client) -> None:
    client, _ = fulfil_client
    short = event_body(
        "shipped",
        "WMS-000003",
        released_at="2026-06-01T08:00:00+00:00",
        lines=[{"line": "1", "sku": "X", "qty_ordered": 2, "qty_shipped": 3}],
    )
    answer = send(client, short)
    assert answer.status_code == 422 and "qty_shipped 3 exceeds" in answer.text
    naive = send(client, event_body("delivered", "WMS-000003", occurred_at="2026-06-01T08:00:00"))
    assert naive.status_code == 422 and "occurred_at" in answer.text + naive.text
    unknown = send(client, event_body("delivered", "WMS-000003", origin="DC-NOWHERE"))
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "body.origin"
    kinds = send(client, event_body("teleported", "WMS-000003"))
    assert kinds.status_code == 422


@pytest.mark.parametrize("path", READS)
def test_reads_are_for_staff_only(fulfil_client, path: str) -> None:
    client, keys = fulfil_client
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"x-api-key": keys["channel"]}).status_code == 403
    for who in ("demo-viewer", "demo-ops", "demo-approver", "demo-admin"):
        answer = client.get(path, headers={"x-api-key": keys[who]})
        assert answer.status_code == 200, (who, answer.text)


def test_lanes_show_configured_learnt_and_effective_figures(fulfil_client) -> None:
    client, keys = fulfil_client
    viewer = {"x-api-key": keys["demo-viewer"]}
    (fresh,) = client.get("/v1/fulfilment/lanes", headers=viewer).json()
    assert fresh["effective"] == fresh["configured"] and fresh["deviations"] == []
    for n in range(5):
        for body in story(f"WMS-{n:06d}", hours=48, cost=100.0, shipped=[(5, 5), (5, 4)]):
            assert send(client, body).status_code == 200
    (lane,) = client.get(
        "/v1/fulfilment/lanes", params={"differs_only": True}, headers=viewer
    ).json()
    assert lane["learnt"]["deliveries"] == 5 and lane["learnt"]["lead_time_hours"] == 48.0
    assert lane["effective"]["lead_time_hours"] == 36.0 and lane["weights"]["lead_time"] == 0.5
    assert lane["learnt"]["cost_ratio"] == 2.0 and lane["effective"]["cost_per_unit"] == 3.0
    assert (lane["learnt"]["lines"], lane["learnt"]["picked_short"]) == (10, 5)
    assert lane["deviations"][0].startswith("lead time 36 h vs 24 h configured (+50%")
    (node,) = client.get("/v1/fulfilment/nodes", headers=viewer).json()
    assert (node["node"], node["orders"], node["picked_short"]) == ("DC-SHA", 5, 5)
    outcomes = client.get(
        "/v1/fulfilment/outcomes", params={"order_ref": "WMS-000003"}, headers=viewer
    ).json()
    assert outcomes["total"] == 1 and outcomes["items"][0]["cost"] == 100.0
    events = client.get("/v1/fulfilment/events", params={"limit": 500}, headers=viewer).json()
    assert events["total"] == 15
    none = client.get("/v1/fulfilment/lanes", params={"origin": "SHA-A1"}, headers=viewer).json()
    assert none == []
