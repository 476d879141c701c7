"""``/v1/orders`` over HTTP: every role, channel keys on their own orders, bad input (both DBs)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api.auth import Role, create_api_key, seed_demo_keys
from inventory.db import session_scope
from inventory.models import OutboxMessage, StockPosition
from tests.utils.routing_pool import SKU, seed_routing_pool
from tests.utils.service import order_body, post_signed, routing_pool_with_keys, tiny_service


@pytest.fixture
def orders_client(engine: Engine, tmp_path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    keys = routing_pool_with_keys(
        engine, {"web": ("web-shop", "online"), "douyin": ("douyin-shop", "douyin")}
    )
    with TestClient(tiny_service(engine, tmp_path, clock="world")) as client:
        yield client, keys


def post(client: TestClient, key: str, **body: object):
    return client.post("/v1/orders", json=order_body(**body), headers={"x-api-key": key})


def test_a_channel_posts_an_order_and_gets_the_routing_explained(orders_client) -> None:
    client, keys = orders_client
    first = post(client, keys["web"], oms_ref="OMS-000001")
    assert first.status_code == 201, first.text
    order = first.json()
    assert order["channel"] == "online" and order["status"] == "routed"
    assert order["destination_city"] == "Shanghai" and order["on_time"]
    (line,) = order["lines"]
    assert line["node"] == "SHA-A1" and line["shipment_ref"] == "OMS-000001/SHA-A1"
    assert line["hold"] == "open"
    routing = order["routing"]
    assert routing["chosen"]["nodes"] == ["SHA-A1"]
    assert [o["nodes"] for o in routing["runners_up"]] == [["DC-SHA"], ["DC-BEI"]]
    assert set(routing["chosen"]["parts"]) == {
        "delivery_cost",
        "late_penalty",
        "stock_health",
        "split_penalty",
        "total",
    }
    time.sleep(1.1)  # the service's world clock ticks: "48 h from now" has moved
    replay = post(client, keys["web"], oms_ref="OMS-000001")
    assert replay.status_code == 200 and replay.json()["id"] == order["id"]
    reused = post(client, keys["web"], oms_ref="OMS-000001", lines=[{"sku": SKU, "qty": 2}])
    assert reused.status_code == 409 and "different order" in reused.text
    held = client.get(
        f"/v1/reservations/{line['reservation_id']}", headers={"x-api-key": keys["web"]}
    )
    assert held.json()["status"] == "open" and held.json()["location"] == "SHA-A1"


def test_who_may_do_what_on_orders(orders_client) -> None:
    client, keys = orders_client
    order = post(client, keys["web"]).json()
    path = f"/v1/orders/{order['id']}"
    viewer = post(client, keys["demo-viewer"], channel="online", order_id="V-1")
    assert viewer.status_code == 403
    approver = post(client, keys["demo-approver"], channel="online", order_id="A-1")
    assert approver.status_code == 403
    ops_without_channel = post(client, keys["demo-ops"], order_id="O-1")
    assert ops_without_channel.status_code == 422
    assert "channel is required" in ops_without_channel.text
    assert post(client, keys["demo-ops"], channel="online", order_id="O-1").status_code == 201
    assert post(client, keys["demo-admin"], channel="online", order_id="AD-1").status_code == 201
    foreign = post(client, keys["web"], channel="douyin", order_id="X-1")
    assert foreign.status_code == 403
    for name in ("demo-viewer", "demo-ops", "demo-approver", "demo-admin", "web"):
        read = client.get(path, headers={"x-api-key": keys[name]})
        assert read.status_code == 200, name
    assert client.get(path, headers={"x-api-key": keys["douyin"]}).status_code == 403
    listed = client.get("/v1/orders", headers={"x-api-key": keys["douyin"]}).json()
    assert listed["total"] == 0
    assert client.get("/v1/orders", headers={"x-api-key": keys["web"]}).json()["total"] == 3
    by_node = client.get(
        "/v1/orders", params={"node": "SHA-A1"}, headers={"x-api-key": keys["demo-viewer"]}
    )
    assert by_node.json()["total"] >= 1
    assert client.post(f"{path}/cancel", headers={"x-api-key": keys["douyin"]}).status_code == 403
    assert (
        client.post(f"{path}/cancel", headers={"x-api-key": keys["demo-viewer"]}).status_code == 403
    )
    cancelled = client.post(f"{path}/cancel", headers={"x-api-key": keys["web"]})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert {line["hold"] for line in cancelled.json()["lines"]} == {"released"}
    assert client.get(path).status_code == 401


def test_bad_orders_get_a_clear_4xx(orders_client) -> None:
    client, keys = orders_client
    web = keys["web"]
    cases = {
        "unknown city": (post(client, web, destination={"city": "Atlantis"}), 422, "city"),
        "unknown sku": (post(client, web, lines=[{"sku": "NOPE-1", "qty": 1}]), 422, "NOPE-1"),
        "zero qty": (post(client, web, lines=[{"sku": SKU, "qty": 0}]), 422, "qty"),
        "no lines": (post(client, web, lines=[]), 422, "lines"),
        "past promise": (
            post(client, web, promised_by="2000-01-01T00:00:00Z"),
            422,
            "promised_by",
        ),
        "two promises": (
            post(client, web, promised_by="2030-01-01T00:00:00Z", promise_hours=5),
            422,
            "not both",
        ),
        "not enough stock": (post(client, web, lines=[{"sku": SKU, "qty": 100}]), 409, "asked"),
        "unknown order": (
            client.get("/v1/orders/ord-nope", headers={"x-api-key": web}),
            404,
            "ord-nope",
        ),
    }
    for name, (answer, status, words) in cases.items():
        assert answer.status_code == status, (name, answer.text)
        assert words in answer.text, name
        assert "Traceback" not in answer.text


def test_signed_oms_events_close_the_loop_on_a_routed_order(engine: Engine, tmp_path) -> None:
    """Order in over /v1/orders, its parcel queued for the OMS, the OMS's shipped event (keyed
    on the OMS reference) books the held units once, replayed or not."""
    seed_demo_keys(engine)
    seed_routing_pool(engine)
    with session_scope(engine) as session:
        web = create_api_key(session, "web-shop", [Role.CHANNEL], channel="online")

    def on_hand() -> tuple[int, int]:
        with Session(engine) as session:
            row = session.exec(
                select(StockPosition).where(
                    StockPosition.location_code == "SHA-A1", StockPosition.sku_code == SKU
                )
            ).one()
            return row.on_hand, row.reserved

    before, _ = on_hand()
    secrets = {"oms-east": "a-long-test-secret-for-the-oms"}
    app = tiny_service(engine, tmp_path, clock="world", fulfilment_secrets=secrets)
    with TestClient(app) as client:
        placed = post(client, web, oms_ref="OMS-000042", lines=[{"sku": SKU, "qty": 2}])
        assert placed.status_code == 201, placed.text
        order = placed.json()
        with Session(engine) as session:
            (parcel,) = session.exec(
                select(OutboxMessage).where(OutboxMessage.subject_id == order["id"])
            ).all()
        assert (parcel.target, parcel.action) == ("oms", "ship")
        assert on_hand() == (before, 2)
        body = {
            "event_id": "OMS-000042:SHA-A1:shipped",
            "type": "shipped",
            "system": "oms",
            "order_kind": "online",
            "order_ref": "OMS-000042",
            "origin": "SHA-A1",
            "destination": "zone-Shanghai",
            "occurred_at": "2015-07-01T12:00:00+00:00",
            "released_at": "2015-07-01T09:30:00+00:00",
            "lines": [{"line": "1", "sku": SKU, "qty_ordered": 2, "qty_shipped": 2}],
        }
        for _ in range(2):
            sent = post_signed(client, "oms-east", secrets["oms-east"], body)
            assert sent.status_code == 200, sent.text
        assert on_hand() == (before - 2, 0)
        shown = client.get(f"/v1/orders/{order['id']}", headers={"x-api-key": web})
        assert shown.json()["lines"][0]["hold"] == "confirmed"
