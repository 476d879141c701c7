"""A batch of channel reservations: per-line answers on the single stock writer, on SQLite and
PostgreSQL (the ``engine`` fixture runs each test on both)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from inventory import reservations
from inventory.db import session_scope
from inventory.models import ChannelReservation, MovementKind, StockMovement, StockPosition
from inventory.reservations import BatchLine, ReservationRequest
from tests.inventory.test_channel_reservations import NETWORK, T0, create, position, seed
from tests.inventory.test_channel_reservations import request as line
from tests.utils.racing import race


def batch(
    engine: Engine, lines: list[ReservationRequest], channel: str = "online", now=T0
) -> list[BatchLine]:
    with session_scope(engine) as session:
        return reservations.create_batch(session, channel, lines, actor="tmall-key", now=now)


def outcomes(answers: list[BatchLine]) -> list[str]:
    return [answer.outcome for answer in answers]


def movements_of(engine: Engine, ref: str) -> list[StockMovement]:
    with Session(engine) as session:
        return list(session.exec(select(StockMovement).where(StockMovement.ref == ref)).all())


def reserved_total(engine: Engine) -> int:
    with Session(engine) as session:
        return sum(p.reserved for p in session.exec(select(StockPosition)).all())


def open_held(engine: Engine) -> int:
    with Session(engine) as session:
        rows = session.exec(
            select(ChannelReservation).where(ChannelReservation.status == "open")
        ).all()
    return sum(row.qty for row in rows)


def test_a_batch_holds_each_line_in_order_at_the_most_atp(engine: Engine) -> None:
    seed(engine)  # online: SHA-A1 ATP 10, SHA-A2 ATP 6
    answers = batch(
        engine, [line("a", qty=5), line("b", qty=5), line("c", qty=3, location="SHA-A1")]
    )
    assert outcomes(answers) == ["reserved"] * 3
    # a: A1 (ATP 10 → 5); b: A2 (6) now beats A1 (5); c: A1 as asked (5 → 2).
    locations = [answer.reservation.location_code for answer in answers if answer.reservation]
    assert locations == ["SHA-A1", "SHA-A2", "SHA-A1"]
    assert position(engine, "SHA-A1").reserved + position(engine, "SHA-A2").reserved == 13
    for answer in answers:
        (moved,) = movements_of(engine, answer.reservation.id)
        assert (moved.kind, moved.qty) == (MovementKind.RESERVE, answer.reservation.qty)
        assert moved.idempotency_key == f"reservation:{answer.reservation.id}:reserve"
    assert open_held(engine) == reserved_total(engine) == 13


def test_lines_are_refused_on_their_own_with_the_reason(engine: Engine) -> None:
    seed(engine)
    answers = batch(
        engine,
        [
            line("big", qty=11),  # more than any one entitled location (A1 has 10)
            line("outlet", qty=1, location="SHA-OUT"),  # not entitled online
            line("ghost", qty=1, sku="NOPE-1"),  # unknown SKU
            line("ok", qty=4),
            line("short", qty=7, location="SHA-A2"),  # A2 has 6
        ],
    )
    assert outcomes(answers) == ["refused", "refused", "refused", "reserved", "refused"]
    errors = [answer.error for answer in answers]
    assert errors[0].kind == "refused" and "at most 10 at one location" in errors[0].message
    assert errors[1].kind == "refused" and errors[1].field == "location"
    assert "SHA-OUT may not sell on channel 'online'" in errors[1].message
    assert errors[2].kind == "not_found" and errors[2].field == "sku"
    assert errors[4].kind == "refused" and "asked 7, ATP 6" in errors[4].message
    assert reserved_total(engine) == 4 and position(engine, "SHA-OUT").reserved == 0


def test_later_lines_see_the_units_earlier_lines_took(engine: Engine) -> None:
    seed(engine, {"SHA-A1": ("store", "A", 5, 0, ("online",))})
    answers = batch(engine, [line(f"k{n}", qty=2) for n in range(4)])
    assert outcomes(answers) == ["reserved", "reserved", "refused", "refused"]
    assert position(engine, "SHA-A1").reserved == 4


def test_a_replay_answers_the_first_reservations_and_a_changed_line_conflicts(
    engine: Engine,
) -> None:
    seed(engine)
    single = create(engine, line("s1", qty=1))
    first = batch(engine, [line("b1", qty=2), line("b2", qty=3)])
    again = batch(engine, [line("b1", qty=2), line("b2", qty=4), line("s1", qty=1), line("n")])
    assert outcomes(again) == ["replayed", "refused", "replayed", "reserved"]
    assert again[0].reservation.id == first[0].reservation.id
    assert again[2].reservation.id == single.id  # a single call's key replays in a batch too
    assert again[1].error.kind == "conflict" and again[1].error.field == "idempotency_key"
    assert reserved_total(engine) == 1 + 2 + 3 + 2
    # And a batch's key replays through the single call.
    with session_scope(engine) as session:
        row, created = reservations.create(session, line("b2", qty=3), actor="x", now=T0)
    assert (row.id, created) == (first[1].reservation.id, False)


def test_keys_are_the_channels_own_and_lines_act_for_the_batch_channel(engine: Engine) -> None:
    seed(engine)
    online = batch(engine, [line("order-1", qty=1)])
    store = batch(engine, [line("order-1", qty=1, channel="store")], channel="store")
    assert outcomes(store) == ["reserved"] and store[0].reservation.id != online[0].reservation.id
    with pytest.raises(ValueError, match="batch's channel"), session_scope(engine) as session:
        reservations.create_batch(
            session, "online", [line("x", channel="store")], actor="a", now=T0
        )
    twice = [line("x"), line("x")]
    with (
        pytest.raises(ValueError, match="each idempotency key once"),
        session_scope(engine) as session,
    ):
        reservations.create_batch(session, "online", twice, actor="a", now=T0)


def test_batch_lines_lapse_with_their_ttl(engine: Engine) -> None:
    seed(engine)
    answers = batch(engine, [line("short", qty=3, ttl_s=60), line("long", qty=2, ttl_s=3600)])
    assert reserved_total(engine) == 5
    with session_scope(engine) as session:
        assert reservations.sweep_expired(session, now=T0 + dt.timedelta(seconds=90)) == 1
    assert reserved_total(engine) == 2
    with session_scope(engine) as session:
        lapsed = session.get(ChannelReservation, answers[0].reservation.id)
        assert lapsed.status == "expired"
        kinds = sorted(m.kind for m in movements_of(engine, lapsed.id))
    assert kinds == [MovementKind.RELEASE, MovementKind.RESERVE]
    # The lapsed key replays as the expired reservation; the units went back to ATP.
    again = batch(engine, [line("short", qty=3, ttl_s=60)], now=T0 + dt.timedelta(seconds=90))
    assert again[0].outcome == "replayed" and again[0].reservation.status == "expired"


def test_batch_holds_confirm_and_release_like_single_ones(engine: Engine) -> None:
    seed(engine)
    a, b = batch(engine, [line("a", qty=2, location="SHA-A2"), line("b", qty=1, location="SHA-A2")])
    with session_scope(engine) as session:
        reservations.confirm(session, a.reservation.id, channel="online", actor="k", now=T0)
        reservations.release(session, b.reservation.id, channel="online", actor="k", now=T0)
    after = position(engine, "SHA-A2")
    assert (after.on_hand, after.reserved) == (NETWORK["SHA-A2"][2] - 2, 0)


CLIENTS, LAST_UNITS = 12, 7


def test_racing_batches_never_oversell_the_last_units(engine: Engine) -> None:
    """Batches of three lines (two for the contested SKU at two stores, one elsewhere) race;
    each unit is held once, and every open reservation is backed by its position."""
    seed(
        engine,
        {
            "SHA-A1": ("store", "A", 4, 0, ("online",)),
            "SHA-A2": ("store", "A", 3, 0, ("online",)),
        },
    )
    held: list[str] = []

    def racer(own: Engine, index: int) -> None:
        for attempt in range(2):
            lines = [
                line(f"c{index}-{attempt}-a", qty=1),
                line(f"c{index}-{attempt}-b", qty=1, location="SHA-A2"),
                line(f"c{index}-{attempt}-c", qty=1, location="SHA-A1"),
            ]
            answers = batch(own, lines)
            held.extend(a.reservation.id for a in answers if a.outcome == "reserved")

    race(engine, CLIENTS, racer)
    assert len(held) == LAST_UNITS and len(set(held)) == LAST_UNITS
    assert (position(engine, "SHA-A1").reserved, position(engine, "SHA-A2").reserved) == (4, 3)
    assert open_held(engine) == LAST_UNITS
    with Session(engine) as session:
        reserves = session.exec(
            select(StockMovement).where(StockMovement.kind == MovementKind.RESERVE)
        ).all()
    assert sorted(m.ref for m in reserves) == sorted(held)
