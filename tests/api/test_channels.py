"""``/v1/availability`` and ``/v1/reservations`` over HTTP with channel keys, on both backends."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api.app import create_app
from api.auth import Role, create_api_key, seed_demo_keys
from inventory.clock import set_world_clock, wall_clock
from inventory.config import Settings
from inventory.db import session_scope
from inventory.models import ApiKey, ChannelEntitlement, StockPosition
from tests.api.conftest import KEYS, tiny_catalog
from tests.utils import factories

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
SKU = "RB001-BLK-38"
SIZES = [str(n) for n in range(100)]  # five styles of 100 sizes: a batch of 500 SKUs


def seed(engine: Engine) -> dict[str, str]:
    """Two stores (A-tier online-entitled, outlet store-only), five styles, two channel keys.

    Both stores can ship parcels (``ship_from_store``), so what a channel may sell is the
    entitlements' call alone here."""
    with session_scope(engine) as session:
        factories.add_location(session, "SHA-A1", tier="A", ship_from_store=True)
        factories.add_location(session, "SHA-OUT", tier="outlet", ship_from_store=True)
        for channel in ("tmall", "douyin"):
            session.add(ChannelEntitlement(location_code="SHA-A1", channel=channel))
            session.add(ChannelEntitlement(location_code="SHA-OUT", channel=channel, allowed=False))
        session.add(ChannelEntitlement(location_code="SHA-OUT", channel="pos"))
        factories.add_skus(session, factories.add_style(session, "RB001"))
        factories.add_position(session, "SHA-A1", SKU, on_hand=8, safety=1)
        factories.add_position(session, "SHA-OUT", SKU, on_hand=50)
        for n in range(2, 7):
            style = factories.add_style(session, f"ST{n}", sizes=SIZES)
            for sku in factories.add_skus(session, style):
                factories.add_position(session, "SHA-A1", sku.code, on_hand=3)
        keys = {
            channel: create_api_key(session, f"{channel}-shop", [Role.CHANNEL], channel=channel)
            for channel in ("tmall", "douyin", "pos")
        }
    set_world_clock(engine, T0)
    return keys


@pytest.fixture
def channel_client(engine: Engine, tmp_path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    seed_demo_keys(engine)
    keys = seed(engine) | KEYS
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        data_dir=tmp_path,
        clock="world",
    )
    app = create_app(settings, engine=engine, catalog=tiny_catalog(engine))
    with TestClient(app) as client:
        yield client, keys


def call(client: TestClient, key: str, method: str, path: str, **kwargs: object):
    return client.request(method, path, headers={"x-api-key": key}, **kwargs)


def reserve(client: TestClient, key: str, **body: object):
    return call(client, key, "POST", "/v1/reservations", json={"sku": SKU, "qty": 2} | body)


def test_availability_follows_entitlements_and_the_callers_channel(channel_client) -> None:
    client, keys = channel_client
    tmall = call(client, keys["tmall"], "GET", "/v1/availability", params={"sku": SKU}).json()
    assert tmall["channel"] == "tmall"
    # Outlet stock never online: only SHA-A1's 8 less its safety of 1.
    assert tmall["items"] == [
        {"sku": SKU, "known": True, "sellable": 7, "locations": [{"location": "SHA-A1", "atp": 7}]}
    ]
    pos = call(client, keys["pos"], "GET", "/v1/availability", params={"sku": SKU}).json()
    assert pos["items"][0]["sellable"] == 50
    viewer = call(
        client,
        keys["demo-viewer"],
        "GET",
        "/v1/availability",
        params={"sku": SKU, "channel": "tmall"},
    )
    assert viewer.status_code == 200 and viewer.json()["items"][0]["sellable"] == 7


def test_availability_refuses_a_foreign_channel_and_needs_one_from_staff(channel_client) -> None:
    client, keys = channel_client
    foreign = call(
        client, keys["tmall"], "GET", "/v1/availability", params={"sku": SKU, "channel": "douyin"}
    )
    assert foreign.status_code == 403
    assert "acts for channel 'tmall', not 'douyin'" in foreign.json()["error"]["message"]
    missing = call(client, keys["demo-viewer"], "GET", "/v1/availability", params={"sku": SKU})
    assert missing.status_code == 422
    assert "channel is required" in missing.json()["error"]["message"]


def test_a_batch_of_500_answers_and_501_is_refused(channel_client) -> None:
    client, keys = channel_client
    skus = [f"ST{n}-BLK-{size}" for n in range(2, 7) for size in SIZES]
    answer = call(client, keys["tmall"], "POST", "/v1/availability", json={"skus": skus})
    assert answer.status_code == 200
    items = answer.json()["items"]
    assert [item["sku"] for item in items] == skus
    assert {item["sellable"] for item in items} == {3}
    too_many = call(client, keys["tmall"], "POST", "/v1/availability", json={"skus": [*skus, SKU]})
    assert too_many.status_code == 422
    assert "skus" in too_many.text


def test_reservation_lifecycle_and_idempotency(channel_client) -> None:
    client, keys = channel_client
    first = reserve(client, keys["tmall"], idempotency_key="order-1")
    assert first.status_code == 201, first.text
    held = first.json()
    assert (held["channel"], held["location"], held["status"]) == ("tmall", "SHA-A1", "open")
    replay = reserve(client, keys["tmall"], idempotency_key="order-1")
    assert (replay.status_code, replay.json()["id"]) == (200, held["id"])
    other_body = reserve(client, keys["tmall"], idempotency_key="order-1", qty=3)
    assert other_body.status_code == 409
    assert "already used" in other_body.json()["error"]["message"]
    available = call(client, keys["tmall"], "GET", "/v1/availability", params={"sku": SKU})
    assert available.json()["items"][0]["sellable"] == 5

    path = f"/v1/reservations/{held['id']}/confirm"
    for _ in range(2):
        confirmed = call(client, keys["tmall"], "POST", path)
        assert (confirmed.status_code, confirmed.json()["status"]) == (200, "confirmed")
    engine = client.app.state.stockpilot.engine
    with Session(engine) as session:
        position = session.get(StockPosition, _position_id(session))
        assert (position.on_hand, position.reserved) == (6, 0)

    second = reserve(client, keys["tmall"], idempotency_key="order-2", qty=3).json()
    released = call(client, keys["tmall"], "POST", f"/v1/reservations/{second['id']}/release")
    assert released.json()["status"] == "released"
    after = call(client, keys["tmall"], "GET", "/v1/availability", params={"sku": SKU})
    assert after.json()["items"][0]["sellable"] == 5
    mine = call(client, keys["tmall"], "GET", "/v1/reservations").json()["items"]
    assert {r["id"] for r in mine} == {held["id"], second["id"]}


def _position_id(session: Session) -> int:
    from sqlmodel import select

    stmt = select(StockPosition.id).where(
        StockPosition.location_code == "SHA-A1", StockPosition.sku_code == SKU
    )
    return session.exec(stmt).one()


def test_a_channel_cannot_touch_another_channels_reservation(channel_client) -> None:
    client, keys = channel_client
    held = reserve(client, keys["tmall"], idempotency_key="t-1").json()
    for method, suffix in (("GET", ""), ("POST", "/confirm"), ("POST", "/release")):
        answer = call(client, keys["douyin"], method, f"/v1/reservations/{held['id']}{suffix}")
        assert answer.status_code == 403, (suffix, answer.text)
        assert "belongs to channel 'tmall'" in answer.json()["error"]["message"]
    assert call(client, keys["douyin"], "GET", "/v1/reservations").json()["total"] == 0
    spoof = reserve(client, keys["douyin"], idempotency_key="d-1", channel="tmall")
    assert spoof.status_code == 403
    # Staff: ops sees and releases every channel's; a viewer holds nothing.
    assert call(client, keys["demo-ops"], "GET", "/v1/reservations").json()["total"] == 1
    ops = call(client, keys["demo-ops"], "POST", f"/v1/reservations/{held['id']}/release")
    assert ops.json()["status"] == "released"
    viewer = reserve(client, keys["demo-viewer"], idempotency_key="v-1", channel="tmall")
    assert viewer.status_code == 403


def test_a_channel_key_reads_nothing_else_of_the_pool(channel_client) -> None:
    client, keys = channel_client
    assert call(client, keys["tmall"], "GET", "/v1/stock").status_code == 403
    assert call(client, keys["tmall"], "GET", "/v1/transfer-orders").status_code == 403


def test_refusals_are_clear_4xx(channel_client) -> None:
    client, keys = channel_client
    outlet = reserve(client, keys["tmall"], idempotency_key="x-1", location="SHA-OUT")
    assert outlet.status_code == 409
    assert "SHA-OUT may not sell on channel 'tmall'" in outlet.json()["error"]["message"]
    too_much = reserve(client, keys["tmall"], idempotency_key="x-2", qty=8)
    assert too_much.status_code == 409
    assert "sellable 7 in total" in too_much.json()["error"]["message"]
    unknown = reserve(client, keys["tmall"], idempotency_key="x-3", sku="NOPE")
    assert unknown.status_code == 404
    for bad in ({"qty": 0}, {"qty": 10_001}, {"ttl_s": 1}, {"idempotency_key": ""}):
        answer = reserve(client, keys["tmall"], **({"idempotency_key": "x-4"} | bad))
        assert answer.status_code == 422, bad
    missing = call(client, keys["tmall"], "POST", "/v1/reservations/res-nope/confirm")
    assert missing.status_code == 404


def test_an_unconfirmed_hold_lapses_on_the_world_clock(channel_client) -> None:
    client, keys = channel_client
    engine = client.app.state.stockpilot.engine
    held = reserve(client, keys["tmall"], idempotency_key="ttl-1", qty=4, ttl_s=60).json()
    before = call(client, keys["tmall"], "GET", "/v1/availability", params={"sku": SKU})
    assert before.json()["items"][0]["sellable"] == 3
    set_world_clock(engine, T0 + dt.timedelta(minutes=5))
    after = call(client, keys["tmall"], "GET", "/v1/availability", params={"sku": SKU})
    assert after.json()["items"][0]["sellable"] == 7  # the read gave the lapsed hold back
    read = call(client, keys["tmall"], "GET", f"/v1/reservations/{held['id']}")
    assert read.json()["status"] == "expired"
    late = call(client, keys["tmall"], "POST", f"/v1/reservations/{held['id']}/confirm")
    assert late.status_code == 409 and "is expired" in late.json()["error"]["message"]


def test_openapi_lists_the_channel_routes(channel_client) -> None:
    client, _ = channel_client
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/v1/availability",
        "/v1/reservations",
        "/v1/reservations/{reservation_id}/confirm",
    ):
        assert path in paths
        assert all(op["tags"] == ["channels"] for op in paths[path].values())


def test_the_worker_pass_expires_lapsed_holds(channel_client) -> None:
    from api.worker import Worker

    client, keys = channel_client
    state = client.app.state.stockpilot
    # This catalog has no agents' runtime, so the worker runs on the wall clock: the holds are
    # taken two minutes before it.
    set_world_clock(state.engine, wall_clock() - dt.timedelta(minutes=2))
    held = reserve(client, keys["tmall"], idempotency_key="w-1", qty=4, ttl_s=60).json()
    kept = reserve(client, keys["tmall"], idempotency_key="w-2", qty=1, ttl_s=3600)
    assert Worker(state.runner).expire_reservations() == 1
    with Session(state.engine) as session:
        assert session.get(StockPosition, _position_id(session)).reserved == 1
    ops = call(client, keys["demo-ops"], "GET", "/v1/reservations", params={"status": "expired"})
    assert [r["id"] for r in ops.json()["items"]] == [held["id"]]
    assert kept.status_code == 201


def _set_key(engine: Engine, name: str, **values: object) -> None:
    """Change or (no values) delete a key's row, as ``stockpilot api-key revoke`` does from
    another process: the service learns of it only from the pool."""
    with session_scope(engine) as session:
        row = session.exec(select(ApiKey).where(ApiKey.name == name)).one()
        if not values:
            session.delete(row)
        for field, value in values.items():
            setattr(row, field, value)


def test_a_revoked_key_is_refused_at_once(channel_client, engine: Engine) -> None:
    client, keys = channel_client
    assert call(client, keys["tmall"], "GET", "/v1/availability", params={"sku": SKU}).is_success
    held = reserve(client, keys["tmall"], idempotency_key="before-revoke")
    assert held.status_code == 201
    assert call(client, keys["tmall"], "GET", "/v1/reservations").is_success
    _set_key(engine, "tmall-shop")
    for answer in (
        call(client, keys["tmall"], "GET", "/v1/availability", params={"sku": SKU}),
        call(client, keys["tmall"], "POST", "/v1/availability", json={"skus": [SKU]}),
        reserve(client, keys["tmall"], idempotency_key="after-revoke"),
        call(
            client,
            keys["tmall"],
            "POST",
            "/v1/reservations/batch",
            json={"lines": [{"sku": SKU, "qty": 1, "idempotency_key": "b"}]},
        ),
        call(client, keys["tmall"], "GET", "/v1/reservations"),
    ):
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["message"] == "unknown API key"
    # No hold was taken with the revoked key.
    listed = call(client, KEYS["demo-ops"], "GET", "/v1/reservations").json()["items"]
    assert [r["id"] for r in listed] == [held.json()["id"]]


def test_a_changed_role_is_seen_at_once(channel_client, engine: Engine) -> None:
    client, _ = channel_client
    assert (
        reserve(client, KEYS["demo-ops"], channel="tmall", idempotency_key="ops-1").status_code
        == 201
    )
    _set_key(engine, "demo-ops", roles=["viewer"])
    refused = reserve(client, KEYS["demo-ops"], channel="tmall", idempotency_key="ops-2")
    assert refused.status_code == 403 and refused.json()["error"]["field"] == "role"
    # A viewer still reads availability (every role may).
    read = call(
        client, KEYS["demo-ops"], "GET", "/v1/availability", params={"sku": SKU, "channel": "tmall"}
    )
    assert read.status_code == 200


def test_an_entitlement_change_is_seen_at_once(channel_client, engine: Engine) -> None:
    client, keys = channel_client

    def locations() -> list[dict]:
        answer = call(client, keys["tmall"], "GET", "/v1/availability", params={"sku": SKU})
        return answer.json()["items"][0]["locations"]

    assert locations() == [{"location": "SHA-A1", "atp": 7}]
    _entitle(engine, "SHA-OUT", allowed=True)
    assert locations() == [{"location": "SHA-OUT", "atp": 50}, {"location": "SHA-A1", "atp": 7}]
    _entitle(engine, "SHA-A1", allowed=False)
    assert locations() == [{"location": "SHA-OUT", "atp": 50}]
    # The reservation path reads the same rows: SHA-A1 may no longer sell on tmall.
    refused = reserve(client, keys["tmall"], location="SHA-A1", idempotency_key="gone")
    assert refused.status_code == 409 and refused.json()["error"]["field"] == "location"


def _entitle(engine: Engine, location: str, *, allowed: bool) -> None:
    with session_scope(engine) as session:
        row = session.exec(
            select(ChannelEntitlement).where(
                ChannelEntitlement.location_code == location, ChannelEntitlement.channel == "tmall"
            )
        ).one()
        row.allowed = allowed
