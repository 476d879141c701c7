"""Random sequences of movements against a plain-Python model of the rules (SQLite)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from inventory import movements
from inventory.db import session_scope
from inventory.models import Location, StockMovement, StockPosition
from inventory.movements import MovementRefused
from tests.utils import factories

SKU = "RB001-BLK-38"
A, B = "SHA-S01", "SHA-S02"


@dataclass
class Level:
    on_hand: int = 0
    reserved: int = 0
    safety: int = 0
    transit_in: int = 0
    transit_out: int = 0


def expected(op: tuple[str, str, int], levels: dict[str, Level]) -> bool:
    """Apply ``op`` to the model if the rules allow it; return whether they did."""
    name, loc, qty = op
    here, other = levels[loc], levels[B if loc == A else A]
    allowed = {
        "reserve": here.on_hand - here.reserved - here.safety >= qty,
        "release": here.reserved >= qty,
        "sale": here.on_hand - here.reserved >= qty,
        "adjust_down": here.on_hand - qty >= here.reserved,
        "adjust_up": True,
        "dispatch": here.reserved >= qty and here.on_hand >= qty,
        "receive": here.transit_in >= qty and other.transit_out >= qty,
    }[name]
    if not allowed:
        return False
    if name == "reserve":
        here.reserved += qty
    elif name == "release":
        here.reserved -= qty
    elif name in ("sale", "adjust_down"):
        here.on_hand -= qty
    elif name == "adjust_up":
        here.on_hand += qty
    elif name == "dispatch":
        here.on_hand, here.reserved, here.transit_out = (
            here.on_hand - qty,
            here.reserved - qty,
            here.transit_out + qty,
        )
        other.transit_in += qty
    else:
        here.on_hand, here.transit_in = here.on_hand + qty, here.transit_in - qty
        other.transit_out -= qty
    return True


def apply(session: Session, op: tuple[str, str, int], key: str) -> None:
    name, loc, qty = op
    other = B if loc == A else A
    common = {"ref": None, "idempotency_key": key, "actor": "prop"}
    if name == "reserve":
        movements.reserve(session, loc, SKU, qty, **common)
    elif name == "release":
        movements.release(session, loc, SKU, qty, **common)
    elif name == "sale":
        movements.record_sale(session, loc, SKU, qty, idempotency_key=key)
    elif name == "adjust_down":
        movements.adjust(session, loc, SKU, -qty, reason="count", idempotency_key=key)
    elif name == "adjust_up":
        movements.adjust(session, loc, SKU, qty, reason="count", idempotency_key=key)
    elif name == "dispatch":
        movements.dispatch_transfer(session, loc, other, SKU, qty, **common)
    else:
        movements.receive_transfer(session, other, loc, SKU, qty, **common)


operations = st.lists(
    st.tuples(
        st.sampled_from(
            ["reserve", "release", "sale", "adjust_down", "adjust_up", "dispatch", "receive"]
        ),
        st.sampled_from([A, B]),
        st.integers(min_value=1, max_value=6),
    ),
    max_size=25,
)


def reset(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.execute(sa.delete(StockMovement))
        session.execute(sa.delete(StockPosition))
        factories.add_position(session, A, SKU, on_hand=10, safety=2)
        factories.add_position(session, B, SKU, on_hand=3)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=operations)
def test_movements_follow_the_rules_and_keep_invariants(
    sqlite_engine: Engine, ops: list[tuple[str, str, int]]
) -> None:
    with Session(sqlite_engine) as session:
        if session.get(Location, A) is None:
            with session_scope(sqlite_engine) as setup:
                factories.add_location(setup, A)
                factories.add_location(setup, B)
                factories.add_skus(setup, factories.add_style(setup, "RB001"))
    reset(sqlite_engine)
    levels = {A: Level(on_hand=10, safety=2), B: Level(on_hand=3)}
    accepted = 0
    for index, op in enumerate(ops):
        allowed = expected(op, levels)
        with session_scope(sqlite_engine) as session:
            try:
                apply(session, op, f"op-{index}")
                assert allowed, f"{op} should have been refused"
                accepted += 1
            except MovementRefused:
                assert not allowed, f"{op} should have been allowed"
    with Session(sqlite_engine) as session:
        rows = {p.location_code: p for p in session.exec(select(StockPosition))}
        n_rows = len(session.exec(select(StockMovement)).all())
    for loc, level in levels.items():
        pos = rows[loc]
        got = (pos.on_hand, pos.reserved, pos.in_transit_in, pos.in_transit_out)
        assert got == (level.on_hand, level.reserved, level.transit_in, level.transit_out)
        assert 0 <= pos.reserved <= pos.on_hand
    two_leg = sum(1 for i, op in enumerate(ops) if op[0] in ("dispatch", "receive"))
    assert n_rows >= accepted and n_rows <= accepted + two_leg
