"""``POST /v1/reservations/batch`` over HTTP with channel keys, on both backends: per-line
answers, replays, the channel rules of the single call, and a 500-line batch."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, select

from inventory.clock import set_world_clock
from inventory.models import ChannelReservation, StockPosition
from tests.api.test_channels import SIZES, SKU, T0, call, channel_client, reserve

__all__ = ["channel_client"]  # the fixture, shared with test_channels


def hold(client, key: str, lines: list[dict], **body: object):
    return call(client, key, "POST", "/v1/reservations/batch", json={"lines": lines} | body)


def test_a_batch_answers_each_line(channel_client) -> None:
    client, keys = channel_client
    answer = hold(
        client,
        keys["tmall"],
        [
            {"sku": SKU, "qty": 3, "idempotency_key": "o-1"},
            {"sku": SKU, "qty": 5, "idempotency_key": "o-2"},  # 4 left after o-1
            {"sku": SKU, "qty": 1, "idempotency_key": "o-3", "location": "SHA-OUT"},
            {"sku": "NOPE", "qty": 1, "idempotency_key": "o-4"},
            {"sku": "ST2-BLK-7", "qty": 2, "idempotency_key": "o-5", "ttl_s": 60},
        ],
        ttl_s=600,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["channel"], body["reserved"], body["replayed"], body["refused"]) == (
        "tmall",
        2,
        0,
        3,
    )
    lines = body["lines"]
    assert [line["outcome"] for line in lines] == [
        "reserved",
        "refused",
        "refused",
        "refused",
        "reserved",
    ]
    assert [line["status"] for line in lines] == [201, 409, 409, 404, 201]
    assert [line["index"] for line in lines] == list(range(5))
    assert lines[0]["reservation"]["location"] == "SHA-A1"
    assert lines[0]["reservation"]["ttl_s"] == 600 and lines[4]["reservation"]["ttl_s"] == 60
    assert "sellable 4 in total" in lines[1]["error"]["message"]
    assert lines[2]["error"]["field"] == "location"
    assert lines[3]["error"] == {
        "code": "not_found",
        "message": "unknown SKU 'NOPE'",
        "field": "sku",
    }
    available = call(client, keys["tmall"], "GET", "/v1/availability", params={"sku": SKU})
    assert available.json()["items"][0]["sellable"] == 4


def test_replay_and_changed_body_per_line(channel_client) -> None:
    client, keys = channel_client
    lines = [
        {"sku": SKU, "qty": 2, "idempotency_key": "r-1"},
        {"sku": SKU, "qty": 1, "idempotency_key": "r-2"},
    ]
    first = hold(client, keys["tmall"], lines).json()
    again = hold(client, keys["tmall"], lines).json()
    assert [line["outcome"] for line in again["lines"]] == ["replayed", "replayed"]
    assert [line["status"] for line in again["lines"]] == [200, 200]
    assert [line["reservation"]["id"] for line in again["lines"]] == [
        line["reservation"]["id"] for line in first["lines"]
    ]
    changed = hold(client, keys["tmall"], [lines[0], {**lines[1], "qty": 2}]).json()
    assert [line["status"] for line in changed["lines"]] == [200, 409]
    assert changed["lines"][1]["error"]["code"] == "conflict"
    assert "already used for reservation" in changed["lines"][1]["error"]["message"]
    # A single call replays a batch's key and the other way round.
    single = reserve(client, keys["tmall"], idempotency_key="r-1")
    assert (single.status_code, single.json()["id"]) == (
        200,
        first["lines"][0]["reservation"]["id"],
    )
    engine = client.app.state.stockpilot.engine
    with Session(engine) as session:
        assert len(session.exec(select(ChannelReservation)).all()) == 2


def test_channel_rules_hold_for_batches(channel_client) -> None:
    client, keys = channel_client
    line = {"sku": SKU, "qty": 1, "idempotency_key": "same-key"}
    spoof = hold(client, keys["douyin"], [line], channel="tmall")
    assert spoof.status_code == 403
    staff_without_channel = hold(client, keys["demo-ops"], [line])
    assert staff_without_channel.status_code == 422
    assert hold(client, keys["demo-viewer"], [line], channel="tmall").status_code == 403
    # Keys are each channel's own: douyin's "same-key" is not tmall's.
    tmall = hold(client, keys["tmall"], [line]).json()["lines"][0]
    douyin = hold(client, keys["douyin"], [line]).json()["lines"][0]
    assert (tmall["outcome"], douyin["outcome"]) == ("reserved", "reserved")
    assert tmall["reservation"]["id"] != douyin["reservation"]["id"]
    foreign = call(
        client, keys["douyin"], "POST", f"/v1/reservations/{tmall['reservation']['id']}/release"
    )
    assert foreign.status_code == 403
    ops = hold(client, keys["demo-ops"], [{**line, "idempotency_key": "ops-1"}], channel="tmall")
    assert ops.json()["lines"][0]["reservation"]["channel"] == "tmall"


def test_bad_batches_are_422(channel_client) -> None:
    client, keys = channel_client
    line = {"sku": SKU, "qty": 1, "idempotency_key": "k"}
    for lines in ([], [line, line], [{**line, "qty": 0}], [{**line, "ttl_s": 1}]):
        answer = hold(client, keys["tmall"], lines)
        assert answer.status_code == 422, lines
    twice = hold(client, keys["tmall"], [line, line]).json()["error"]
    assert "appears twice" in twice["message"]
    too_many = [{"sku": SKU, "qty": 1, "idempotency_key": f"k{n}"} for n in range(501)]
    assert hold(client, keys["tmall"], too_many).status_code == 422


def test_a_batch_of_500_lines_and_its_lapse(channel_client) -> None:
    client, keys = channel_client
    engine = client.app.state.stockpilot.engine
    skus = [f"ST{n}-BLK-{size}" for n in range(2, 7) for size in SIZES]
    lines = [{"sku": sku, "qty": 2, "idempotency_key": f"big-{sku}"} for sku in skus]
    answer = hold(client, keys["tmall"], lines, ttl_s=60)
    assert answer.status_code == 200
    assert answer.json()["reserved"] == 500
    with Session(engine) as session:
        held = session.exec(select(StockPosition).where(StockPosition.sku_code.in_(skus))).all()
        assert {p.reserved for p in held} == {2}
    set_world_clock(engine, T0 + dt.timedelta(minutes=5))
    after = call(client, keys["tmall"], "POST", "/v1/availability", json={"skus": skus})
    assert {item["sellable"] for item in after.json()["items"]} == {3}  # every line lapsed


def test_openapi_lists_the_batch_route(channel_client) -> None:
    client, _ = channel_client
    paths = client.get("/openapi.json").json()["paths"]
    assert paths["/v1/reservations/batch"]["post"]["tags"] == ["channels"]


def test_odd_text_in_lines_is_answered_not_a_server_error(channel_client) -> None:
    client, keys = channel_client
    odd = ['quote"and\\back', "中文-键", "x" * 128, "emoji-🧥", "semi;--drop"]
    lines = [{"sku": text[:64], "qty": 1, "idempotency_key": text} for text in odd]
    lines += [{"sku": SKU, "qty": 1, "idempotency_key": "odd-loc", "location": 'A"B\\C'}]
    answer = hold(client, keys["tmall"], lines)
    assert answer.status_code == 200, answer.text
    assert [line["status"] for line in answer.json()["lines"]] == [404] * 5 + [409]
    again = hold(client, keys["tmall"], lines)
    assert again.json() == answer.json()


def test_a_nul_character_is_a_422_not_a_server_error(channel_client) -> None:
    """PostgreSQL stores no NUL in text: refused at the boundary, single call and batch alike."""
    client, keys = channel_client
    single = reserve(client, keys["tmall"], idempotency_key="a\u0000b")
    assert single.status_code == 422, single.text
    for line in (
        {"sku": SKU, "qty": 1, "idempotency_key": "a\u0000b"},
        {"sku": "S\u0000", "qty": 1, "idempotency_key": "k"},
        {"sku": SKU, "qty": 1, "idempotency_key": "k", "location": "L\u0000"},
    ):
        assert hold(client, keys["tmall"], [line]).status_code == 422, line
