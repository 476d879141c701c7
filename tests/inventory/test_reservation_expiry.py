"""Lapsed holds are expired set-based through the stock writer, on SQLite and PostgreSQL.

When the worker is behind (or absent: ``--no-worker``) lapsed holds pile up and availability
expires them on its request path, so their cost must not grow with how many there are.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from inventory import reservations
from inventory.db import session_scope
from inventory.models import ChannelReservation, MovementKind, StockMovement, StockPosition
from tests.inventory.test_channel_reservations import SKU, T0, create, position, request, seed
from tests.utils.racing import race

STORES = {
    "SHA-A1": ("store", "A", 40, 0, ("online",)),
    "SHA-A2": ("store", "A", 40, 0, ("online",)),
}
LAPSED = T0 + dt.timedelta(seconds=90)


def hold(engine: Engine, count: int, prefix: str = "k") -> list[str]:
    """``count`` one-unit holds of 60 s, alternating between the two stores."""
    return [
        create(engine, request(f"{prefix}{i}", qty=1, ttl_s=60, location=f"SHA-A{1 + i % 2}")).id
        for i in range(count)
    ]


@contextmanager
def counted(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def sweep(engine: Engine, skus: list[str] | None = None) -> int:
    with session_scope(engine) as session:
        return reservations.sweep_expired(session, now=LAPSED, skus=skus)


def releases(engine: Engine) -> list[StockMovement]:
    with Session(engine) as session:
        stmt = select(StockMovement).where(StockMovement.kind == MovementKind.RELEASE)
        return list(session.exec(stmt.order_by(StockMovement.id)))


def test_the_cost_of_a_sweep_does_not_grow_with_the_lapsed_holds(engine: Engine) -> None:
    """3 and 15 lapsed holds on a SKU take the same statements (one at a time took ~5 each)."""
    seed(engine, STORES)
    hold(engine, 3, "few")
    with counted(engine) as few:
        assert sweep(engine, [SKU]) == 3
    hold(engine, 15, "many")
    with counted(engine) as many:
        assert sweep(engine, [SKU]) == 15
    assert len(many) == len(few) <= 8


def test_each_lapsed_hold_gets_its_release_movement_once(engine: Engine) -> None:
    seed(engine, STORES)
    ids = hold(engine, 5)
    kept = create(engine, request("kept", qty=2, ttl_s=3600, location="SHA-A1")).id
    assert sweep(engine, [SKU]) == 5
    assert sweep(engine, [SKU]) == 0 and sweep(engine) == 0  # idempotent
    moved = releases(engine)
    assert sorted(m.ref for m in moved) == sorted(ids)
    assert {m.idempotency_key for m in moved} == {f"reservation:{i}:release" for i in ids}
    assert {(m.actor, m.reason, m.qty, m.sku_code) for m in moved} == {
        ("ttl", "online reservation expired", 1, SKU)
    }
    # Levels after each movement, as if the holds had been given back one by one.
    # SHA-A1 held 3 lapsed + 2 kept, SHA-A2 2 lapsed: levels after each release, in turn.
    after = {
        store: sorted((m.reserved_after for m in moved if m.location_code == store), reverse=True)
        for store in ("SHA-A1", "SHA-A2")
    }
    assert after == {"SHA-A1": [4, 3, 2], "SHA-A2": [1, 0]}
    assert {m.on_hand_after for m in moved} == {40}
    assert (position(engine, "SHA-A1").reserved, position(engine, "SHA-A2").reserved) == (2, 0)
    with Session(engine) as session:
        statuses = {r.id: r.status for r in session.exec(select(ChannelReservation))}
    assert statuses == {**dict.fromkeys(ids, "expired"), kept: "open"}


def test_a_broken_hold_does_not_keep_the_others_from_lapsing(engine: Engine) -> None:
    seed(engine, STORES)
    broken, fine = hold(engine, 2)  # at SHA-A1 and SHA-A2
    with engine.begin() as conn:  # someone changed SHA-A1 behind the pool's back
        table = StockPosition.__table__
        conn.execute(sa.update(table).where(table.c.location_code == "SHA-A1").values(reserved=0))
    assert sweep(engine) == 1
    with Session(engine) as session:
        assert session.get(ChannelReservation, broken).status == "open"
        assert session.get(ChannelReservation, fine).status == "expired"
    assert [m.ref for m in releases(engine)] == [fine]


def test_racing_sweeps_expire_each_hold_once(engine: Engine) -> None:
    """Availability requests and the worker sweeping the same lapsed holds at once: each hold
    lapses once, its units come back once (PostgreSQL: row locks; SQLite: the writer lock)."""
    seed(engine, STORES)
    ids = hold(engine, 30)
    swept: list[int] = []
    race(engine, 6, lambda own, index: swept.append(sweep(own, [SKU] if index % 2 else None)))
    assert sum(swept) == 30
    assert sorted(m.ref for m in releases(engine)) == sorted(ids)
    assert (position(engine, "SHA-A1").reserved, position(engine, "SHA-A2").reserved) == (0, 0)


def _sellable(engine: Engine, now: dt.datetime) -> tuple[int, list[str]]:
    """``/v1/availability``'s lookup on the online channel (nothing closed) and its statements."""
    with counted(engine) as statements, Session(engine) as session:
        (item,) = reservations.available_json(session, "online", [SKU], [], now=now)
    return json.loads(item)["sellable"], statements


def test_availability_asks_about_lapsed_holds_in_its_own_statement(engine: Engine) -> None:
    """No lapsed hold: one statement answers (the probe is folded into it); a lapsed hold: it
    is swept and its units are in the answer; a hold not yet lapsed keeps its units."""
    seed(engine, STORES)
    (lapsing,) = hold(engine, 1)
    sellable, statements = _sellable(engine, T0 + dt.timedelta(seconds=30))
    assert (sellable, len(statements)) == (79, 1)
    with Session(engine) as session:
        assert session.get(ChannelReservation, lapsing).status == "open"
    sellable, statements = _sellable(engine, LAPSED)
    assert sellable == 80 and len(statements) > 1  # swept, then read again
    with Session(engine) as session:
        assert session.get(ChannelReservation, lapsing).status == "expired"
    assert position(engine, "SHA-A1").reserved == 0
    sellable, statements = _sellable(engine, LAPSED)
    assert (sellable, len(statements)) == (80, 1)  # nothing lapsed any more: one statement
