"""The engine's connection pool is bounded on SQLite as on PostgreSQL (``inventory.db``).

Unbounded, a request that held a second connection (or parked one while it waited) went
unseen until the process ran out of file handles; bounded, the next checkout waits for a
connection to come back."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import text

from inventory.db import POOL_OVERFLOW, POOL_SIZE, make_engine


def test_the_sqlite_pool_hands_out_at_most_its_bound_and_then_waits(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'pool.sqlite'}")
    bound = POOL_SIZE + POOL_OVERFLOW
    assert bound <= 30  # the API's 12 request threads plus its background work (inventory.db)
    held = [engine.connect() for _ in range(bound)]
    try:
        for connection in held:
            assert connection.execute(text("SELECT 1")).scalar() == 1
        got = threading.Event()

        def one_more() -> None:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
                got.set()

        waiter = threading.Thread(target=one_more, daemon=True)
        waiter.start()
        assert not got.wait(0.5), f"a connection beyond the pool's {bound} was handed out"
        held.pop().close()  # one comes back: the waiting checkout takes it
        assert got.wait(30)
        waiter.join(30)
    finally:
        for connection in held:
            connection.close()
        engine.dispose()
