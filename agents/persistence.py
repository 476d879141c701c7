"""Where graph checkpoints live: a SQLite file next to the pool, or the pool's Postgres.

Runs survive a restart because every superstep is checkpointed here; a resumed thread continues
from its last checkpoint in whichever process picks it up.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool
from sqlalchemy.engine import make_url

from inventory.config import Settings
from inventory.db import normalise_url

#: Connections the Postgres checkpointer may hold at once (one per run checkpointing).
CHECKPOINT_POOL_SIZE = 20


def _strict_serde() -> JsonPlusSerializer:
    # Only LangGraph's allowlist (messages, datetimes, ...) may be revived from a checkpoint,
    # whatever the environment says; compiled graphs add their own state types to it.
    return JsonPlusSerializer(allowed_msgpack_modules=None)


def checkpoint_path(database_url: str) -> Path | None:
    """The checkpoint file beside a SQLite pool (``pool.sqlite`` → ``pool.checkpoints.sqlite``);
    None for an in-memory pool."""
    parsed = make_url(normalise_url(database_url))
    if parsed.get_backend_name() != "sqlite":
        raise ValueError(f"not a SQLite URL: {database_url!r}")
    if not parsed.database or parsed.database == ":memory:":
        return None
    pool = Path(parsed.database)
    return pool.with_name(f"{pool.stem}.checkpoints.sqlite")


def postgres_conninfo(database_url: str) -> str:
    """psycopg's spelling of a SQLAlchemy Postgres URL."""
    url = normalise_url(database_url)
    return "postgresql://" + url.split("://", 1)[1]


@contextmanager
def open_checkpointer(settings: Settings) -> Iterator[BaseCheckpointSaver]:
    """The checkpointer for ``settings.database_url``, set up and ready; closed on exit."""
    url = normalise_url(settings.database_url)
    if url.startswith("postgresql"):
        # A pool, not one shared connection: every concurrent run checkpoints on a connection
        # of its own (PostgresSaver takes a pool as its ``conn``).
        with ConnectionPool(
            postgres_conninfo(url),
            min_size=1,
            max_size=CHECKPOINT_POOL_SIZE,
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
            open=True,
        ) as pool:
            saver = PostgresSaver(pool, serde=_strict_serde())  # type: ignore[arg-type]
            saver.setup()
            yield saver
        return
    path = checkpoint_path(url)
    if path is None:
        yield InMemorySaver(serde=_strict_serde())
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
    try:
        # WAL so a reader (the API listing threads) never blocks the worker writing checkpoints.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA busy_timeout=30000")
        saver = SqliteSaver(conn, serde=_strict_serde())
        saver.setup()
        yield saver
    finally:
        conn.close()
