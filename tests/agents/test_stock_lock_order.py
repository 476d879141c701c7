"""Several positions in one transaction are locked in (location, SKU) order, so concurrent
reservations and dispatches of orders whose lines run in opposite orders never deadlock; and a
transaction that does hit a deadlock is retried by the one helper (``inventory.db.retrying``)."""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from agents.executor import orders
from inventory.db import is_transient, retrying, session_scope
from tests.agents.executor_helpers import DEST, NOW, SOURCE, decided, position, seed_pool, shipment

ORDERS = 16


def _orders(engine: Engine, skus: list[str]) -> list[str]:
    ids = []
    with session_scope(engine) as session:
        for index in range(ORDERS):
            lines = [(sku, 1) for sku in skus[:4]]
            if index % 2:
                lines.reverse()  # the planner's line order, opposite on every other order
            ids.append(orders.create_transfer_order(session, shipment(lines), at=NOW).id)
    return ids


def _all_at_once(engine: Engine, ids: list[str], step) -> list[BaseException]:
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def one(order_id: str) -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=10)
        try:
            with session_scope(engine) as session:  # no retry: the lock order alone must hold
                step(session, order_id)
        except BaseException as exc:
            errors.append(exc)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(one, ids))
    return errors


def test_opposite_line_orders_reserve_and_dispatch_concurrently_without_deadlock(engine: Engine):
    skus = seed_pool(engine, on_hand=1000)
    ids = _orders(engine, skus)

    def approve(session, order_id):
        decided(session, order_id, "lee")
        orders.approve_transfer_order(session, order_id, decided_by="lee", at=NOW)

    def dispatch(session, order_id):
        orders.mark_dispatched(session, order_id, external_ref=f"WMS-{order_id}", at=NOW, actor="d")

    assert _all_at_once(engine, ids, approve) == []
    assert _all_at_once(engine, ids, dispatch) == []
    for sku in skus[:4]:
        source, dest = position(engine, SOURCE, sku), position(engine, DEST, sku)
        assert (source.on_hand, source.reserved, source.in_transit_out) == (
            1000 - ORDERS,
            0,
            ORDERS,
        )
        assert dest.in_transit_in == ORDERS


@pytest.mark.postgres
def test_a_real_deadlock_is_retried_by_the_one_helper(engine: Engine):
    """Two transactions lock two rows in opposite orders: PostgreSQL aborts one with a deadlock;
    ``retrying`` runs it again and both succeed."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: no deadlock to provoke")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE pair (id int primary key, n int)"))
        conn.execute(sa.text("INSERT INTO pair VALUES (1, 0), (2, 0)"))
    both_hold_one = threading.Barrier(2)
    attempts = {"a": 0, "b": 0}

    def work(name: str, first: int, second: int):
        def body(session):
            attempts[name] += 1
            session.execute(sa.text("UPDATE pair SET n = n + 1 WHERE id = :i"), {"i": first})
            if attempts[name] == 1:
                both_hold_one.wait(timeout=10)
            session.execute(sa.text("UPDATE pair SET n = n + 1 WHERE id = :i"), {"i": second})

        return lambda: retrying(engine, body)

    errors: list[BaseException] = []

    def run(fn) -> None:
        try:
            fn()
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(work("a", 1, 2),)),
        threading.Thread(target=run, args=(work("b", 2, 1),)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(attempts.values()) == [1, 2]  # exactly one of them was the deadlock victim
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT sum(n) FROM pair")).scalar() == 4


def test_only_conflicts_are_retryable(engine: Engine):
    with pytest.raises(sa.exc.DBAPIError) as raised, engine.connect() as conn:
        conn.execute(sa.text("SELECT * FROM no_such_table"))
    assert not is_transient(raised.value)
    calls = []

    def broken(session):
        calls.append(1)
        session.execute(sa.text("SELECT * FROM no_such_table"))

    with pytest.raises(sa.exc.DBAPIError):
        retrying(engine, broken)
    assert calls == [1]  # a real error is not retried
