"""Every position change goes through inventory.movements: invariants, refusals, idempotency."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from inventory import movements
from inventory.db import session_scope
from inventory.models import StockMovement, StockPosition
from inventory.movements import MovementRefused
from tests.utils import factories

SKU = "RB001-BLK-38"


def seed(engine: Engine) -> Engine:
    """Two stores and a DC; SHA-S01 holds 10 units of SKU with safety 2."""
    with session_scope(engine) as session:
        for code in ("SHA-S01", "SHA-S02"):
            factories.add_location(session, code)
        factories.add_location(session, "DC-SHA", kind="dc")
        style = factories.add_style(session, "RB001")
        factories.add_skus(session, style)
        factories.add_position(session, "SHA-S01", SKU, on_hand=10, safety=2)
    return engine


@pytest.fixture
def pool(engine: Engine) -> Engine:
    return seed(engine)


@pytest.fixture
def sqlite_pool(sqlite_engine: Engine) -> Engine:
    """For input checks that never reach the database's own behaviour."""
    return seed(sqlite_engine)


def position(engine: Engine, location: str, sku: str = SKU) -> StockPosition:
    with Session(engine) as session:
        found = session.exec(
            select(StockPosition).where(
                StockPosition.location_code == location, StockPosition.sku_code == sku
            )
        ).one()
        session.expunge(found)
        return found


def movement_rows(engine: Engine) -> list[StockMovement]:
    with Session(engine) as session:
        return list(session.exec(select(StockMovement).order_by(StockMovement.id)).all())


def test_reserve_records_movement_with_levels_after(pool: Engine) -> None:
    with session_scope(pool) as session:
        moved = movements.reserve(
            session, "SHA-S01", SKU, 3, ref="TO-1", idempotency_key="k1", actor="ops:ana"
        )
    assert (moved.kind, moved.qty, moved.on_hand_after, moved.reserved_after) == (
        "reserve",
        3,
        10,
        3,
    )
    pos = position(pool, "SHA-S01")
    assert (pos.reserved, pos.atp, pos.version) == (3, 5, 1)


def test_reserve_beyond_atp_is_refused_with_location_sku_qty_and_atp(pool: Engine) -> None:
    with session_scope(pool) as session, pytest.raises(MovementRefused) as refused:
        movements.reserve(session, "SHA-S01", SKU, 9, ref=None, idempotency_key=None, actor="t")
    message = str(refused.value)
    assert "SHA-S01" in message and SKU in message and "asked 9" in message and "ATP 8" in message
    assert refused.value.available == 8
    assert isinstance(refused.value, ValueError)
    assert position(pool, "SHA-S01").reserved == 0
    assert movement_rows(pool) == []


def test_refusal_keeps_the_callers_other_work(pool: Engine) -> None:
    with session_scope(pool) as session:
        movements.reserve(session, "SHA-S01", SKU, 8, ref=None, idempotency_key="a", actor="t")
        with pytest.raises(MovementRefused):
            movements.reserve(session, "SHA-S01", SKU, 1, ref=None, idempotency_key="b", actor="t")
    assert position(pool, "SHA-S01").reserved == 8
    assert [m.idempotency_key for m in movement_rows(pool)] == ["a"]


def test_callers_rollback_undoes_the_movement(pool: Engine) -> None:
    with pytest.raises(RuntimeError), session_scope(pool) as session:
        movements.reserve(session, "SHA-S01", SKU, 2, ref=None, idempotency_key="x", actor="t")
        raise RuntimeError("caller failed after reserving")
    assert position(pool, "SHA-S01").reserved == 0
    assert movement_rows(pool) == []


def test_repeated_key_returns_first_movement_and_changes_nothing(pool: Engine) -> None:
    with session_scope(pool) as session:
        first = movements.reserve(
            session, "SHA-S01", SKU, 2, ref="r", idempotency_key="same", actor="t"
        )
    with session_scope(pool) as session:
        again = movements.reserve(
            session, "SHA-S01", SKU, 2, ref="r", idempotency_key="same", actor="t"
        )
    assert again.id == first.id
    assert position(pool, "SHA-S01").reserved == 2
    assert len(movement_rows(pool)) == 1


def test_repeated_key_with_a_different_request_is_refused(sqlite_pool: Engine) -> None:
    with session_scope(sqlite_pool) as session:
        movements.reserve(session, "SHA-S01", SKU, 2, ref=None, idempotency_key="k", actor="t")
    with (
        session_scope(sqlite_pool) as session,
        pytest.raises(MovementRefused, match="already used"),
    ):
        movements.reserve(session, "SHA-S01", SKU, 3, ref=None, idempotency_key="k", actor="t")


def test_release_cannot_exceed_reserved(pool: Engine) -> None:
    with session_scope(pool) as session:
        movements.reserve(session, "SHA-S01", SKU, 2, ref=None, idempotency_key="r", actor="t")
        movements.release(session, "SHA-S01", SKU, 1, ref=None, idempotency_key="l1", actor="t")
        with pytest.raises(MovementRefused, match="release exceeds reserved"):
            movements.release(session, "SHA-S01", SKU, 2, ref=None, idempotency_key="l2", actor="t")
    assert position(pool, "SHA-S01").reserved == 1


def test_transfer_lifecycle_moves_stock_through_in_transit(pool: Engine) -> None:
    received_at = dt.datetime(2015, 7, 2, 15, 0)
    with session_scope(pool) as session:
        movements.reserve(session, "SHA-S01", SKU, 4, ref="TO-9", idempotency_key="r", actor="t")
        dispatched = movements.dispatch_transfer(
            session, "SHA-S01", "SHA-S02", SKU, 4, ref="TO-9", idempotency_key="d", actor="wms"
        )
    assert (dispatched.location_code, dispatched.on_hand_after) == ("SHA-S01", 6)
    src, dst = position(pool, "SHA-S01"), position(pool, "SHA-S02")
    assert (src.on_hand, src.reserved, src.in_transit_out) == (6, 0, 4)
    assert (dst.on_hand, dst.in_transit_in) == (0, 4)

    with session_scope(pool) as session:
        received = movements.receive_transfer(
            session,
            "SHA-S01",
            "SHA-S02",
            SKU,
            4,
            ref="TO-9",
            idempotency_key="v",
            actor="wms",
            at=received_at,
        )
    assert (received.location_code, received.on_hand_after) == ("SHA-S02", 4)
    src, dst = position(pool, "SHA-S01"), position(pool, "SHA-S02")
    assert src.in_transit_out == 0
    assert (dst.on_hand, dst.in_transit_in) == (4, 0)
    assert dst.last_received_at == received_at.replace(tzinfo=dt.UTC)
    keys = {m.idempotency_key for m in movement_rows(pool)}
    assert {"r", "d", "d:dest", "v", "v:source"} == keys


def test_dispatch_without_reservation_is_refused_and_changes_nothing(pool: Engine) -> None:
    with session_scope(pool) as session, pytest.raises(MovementRefused, match="reservation"):
        movements.dispatch_transfer(
            session, "SHA-S01", "SHA-S02", SKU, 1, ref=None, idempotency_key="d", actor="t"
        )
    assert position(pool, "SHA-S01").on_hand == 10
    with Session(pool) as session:
        assert session.exec(select(StockPosition)).all().__len__() == 1


def test_receive_more_than_in_transit_is_refused(pool: Engine) -> None:
    with session_scope(pool) as session, pytest.raises(MovementRefused, match="in transit"):
        movements.receive_transfer(
            session, "DC-SHA", "SHA-S01", SKU, 1, ref=None, idempotency_key="v", actor="t"
        )
    assert position(pool, "SHA-S01").on_hand == 10


def test_sale_may_use_safety_but_never_reserved_units(pool: Engine) -> None:
    with session_scope(pool) as session:
        movements.reserve(session, "SHA-S01", SKU, 3, ref="o", idempotency_key="r", actor="t")
        movements.record_sale(session, "SHA-S01", SKU, 7)
        with pytest.raises(MovementRefused, match="unreserved"):
            movements.record_sale(session, "SHA-S01", SKU, 1)
        movements.record_sale(session, "SHA-S01", SKU, 3, from_reservation=True)
    pos = position(pool, "SHA-S01")
    assert (pos.on_hand, pos.reserved) == (0, 0)


def test_adjust_creates_position_and_never_drops_below_reserved(pool: Engine) -> None:
    with session_scope(pool) as session:
        movements.adjust(session, "DC-SHA", SKU, 50, reason="opening balance")
        movements.reserve(session, "DC-SHA", SKU, 30, ref=None, idempotency_key="r", actor="t")
        with pytest.raises(MovementRefused, match="below reserved"):
            movements.adjust(session, "DC-SHA", SKU, -21, reason="count")
        movements.adjust(session, "DC-SHA", SKU, -20, reason="count")
    assert position(pool, "DC-SHA").on_hand == 30


def test_set_safety_changes_atp_and_is_recorded(pool: Engine) -> None:
    with session_scope(pool) as session:
        moved = movements.set_safety(
            session, "SHA-S01", SKU, safety=6, min_display=2, reason="rain season"
        )
    assert moved.kind == "safety"
    pos = position(pool, "SHA-S01")
    assert (pos.safety, pos.min_display, pos.atp) == (6, 2, 4)


@pytest.mark.parametrize(
    ("location", "sku", "message"),
    [("NOPE", SKU, "unknown location 'NOPE'"), ("SHA-S01", "NOPE-1", "unknown SKU 'NOPE-1'")],
)
def test_unknown_codes_are_named(pool: Engine, location: str, sku: str, message: str) -> None:
    with session_scope(pool) as session, pytest.raises(MovementRefused, match=message):
        movements.adjust(session, location, sku, 5, reason="count")


@pytest.mark.parametrize("qty", [0, -1, 1.5, True])
def test_non_positive_or_non_integer_qty_is_refused(sqlite_pool: Engine, qty: object) -> None:
    with (
        session_scope(sqlite_pool) as session,
        pytest.raises(MovementRefused, match="positive integer"),
    ):
        movements.reserve(
            session,
            "SHA-S01",
            SKU,
            qty,  # type: ignore[arg-type]
            ref=None,
            idempotency_key=None,
            actor="t",
        )
