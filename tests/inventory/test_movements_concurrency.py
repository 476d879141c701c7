"""8 workers × 200 conflicting reservations on the same positions, on SQLite and real Postgres.

Each worker is a real thread with its own engine (its own connections), committing every
attempt in its own transaction, as separate API workers would.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from inventory import movements
from inventory.db import make_engine, session_scope
from inventory.models import StockMovement, StockPosition
from inventory.movements import MovementRefused
from tests.utils import factories

WORKERS = 8
ATTEMPTS = 200
LOCATIONS = ("SHA-S01", "SHA-S02")
SKUS = ("RB001-BLK-37", "RB001-BLK-38")
ON_HAND, SAFETY = 300, 7


@dataclass(frozen=True)
class Outcome:
    key: str
    location: str
    sku: str
    qty: int
    movement_id: int | None
    refusal: str | None


def seed(engine: Engine) -> None:
    with session_scope(engine) as session:
        for code in LOCATIONS:
            factories.add_location(session, code)
        factories.add_skus(session, factories.add_style(session, "RB001"))
        for code in LOCATIONS:
            for sku in SKUS:
                factories.add_position(session, code, sku, on_hand=ON_HAND, safety=SAFETY)


def worker(db_url: str, worker_id: int, start: threading.Barrier, out: list[Outcome]) -> None:
    engine = make_engine(db_url)
    rng = random.Random(worker_id)
    start.wait()
    try:
        for attempt in range(ATTEMPTS):
            location, sku, qty = rng.choice(LOCATIONS), rng.choice(SKUS), rng.randint(1, 3)
            key = f"w{worker_id}-{attempt}"
            try:
                with session_scope(engine) as session:
                    moved = movements.reserve(
                        session, location, sku, qty, ref=key, idempotency_key=key, actor="load"
                    )
                out.append(Outcome(key, location, sku, qty, moved.id, None))
            except MovementRefused as refused:
                out.append(Outcome(key, location, sku, qty, None, str(refused)))
    finally:
        engine.dispose()


@pytest.mark.slow
def test_concurrent_reservations_never_oversell_and_none_is_lost(
    engine: Engine, db_url: str
) -> None:
    seed(engine)
    outcomes: list[Outcome] = []
    start = threading.Barrier(WORKERS)
    threads = [
        threading.Thread(target=worker, args=(db_url, i, start, outcomes)) for i in range(WORKERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"

    # Every attempt has an outcome: recorded as a movement or refused with a reason.
    assert len(outcomes) == WORKERS * ATTEMPTS
    accepted = [o for o in outcomes if o.movement_id is not None]
    refused = [o for o in outcomes if o.refusal is not None]
    assert len(accepted) + len(refused) == WORKERS * ATTEMPTS
    assert refused, "demand must exceed ATP for the test to mean anything"

    with Session(engine) as session:
        rows = session.exec(select(StockMovement)).all()
        positions = session.exec(select(StockPosition)).all()
    assert sorted(m.idempotency_key for m in rows) == sorted(o.key for o in accepted)

    booked = Counter[tuple[str, str]]()
    for outcome in accepted:
        booked[outcome.location, outcome.sku] += outcome.qty
    for pos in positions:
        assert pos.reserved == booked[pos.location_code, pos.sku_code]
        assert pos.reserved <= pos.on_hand - pos.safety
        # Refusals happen only when the position was nearly full: at most 2 units left over.
        assert pos.on_hand - pos.safety - pos.reserved <= 2
        assert pos.version == sum(
            1 for o in accepted if (o.location, o.sku) == (pos.location_code, pos.sku_code)
        )
    for outcome in refused:
        assert outcome.location in outcome.refusal and outcome.sku in outcome.refusal
        assert f"asked {outcome.qty}" in outcome.refusal and "ATP" in outcome.refusal


def test_concurrent_repeats_of_one_key_book_once(engine: Engine, db_url: str) -> None:
    """Retries of one request racing each other (e.g. two API workers) reserve exactly once."""
    seed(engine)
    results: list[int | None] = []
    start = threading.Barrier(4)

    def repeat() -> None:
        own = make_engine(db_url)
        start.wait()
        try:
            with session_scope(own) as session:
                moved = movements.reserve(
                    session, LOCATIONS[0], SKUS[0], 5, ref="o", idempotency_key="same", actor="t"
                )
            results.append(moved.id)
        finally:
            own.dispose()

    threads = [threading.Thread(target=repeat) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 4 and len(set(results)) == 1
    with Session(engine) as session:
        pos = session.exec(
            select(StockPosition).where(
                StockPosition.location_code == LOCATIONS[0], StockPosition.sku_code == SKUS[0]
            )
        ).one()
    assert pos.reserved == 5
