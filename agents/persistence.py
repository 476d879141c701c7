"""Where graph checkpoints live: a SQLite file next to the pool, or the pool's Postgres.

Runs survive a restart because every superstep is checkpointed here; a resumed thread continues
from its last checkpoint in whichever process picks it up.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool
from sqlalchemy.engine import make_url

from agents.lease import verify_current
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


def _fenced_class(base: type) -> type:
    """``base`` with its checkpoint writes refused for a run that lost its thread's lease.

    The check reads the lease from the pool just before the write, on another connection than
    the checkpoint's own: a narrow window, not one transaction (``agents.lease.Lease.verify``).
    Reads, and writes outside a run (tests, tools), are untouched.
    """

    def put(self: Any, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        verify_current()
        return base.put(self, config, checkpoint, metadata, new_versions)

    def put_writes(
        self: Any,
        config: Any,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        verify_current()
        return base.put_writes(self, config, writes, task_id, task_path)

    async def aput(
        self: Any, config: Any, checkpoint: Any, metadata: Any, new_versions: Any
    ) -> Any:
        verify_current()
        return await base.aput(self, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self: Any,
        config: Any,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        verify_current()
        return await base.aput_writes(self, config, writes, task_id, task_path)

    methods = {"put": put, "put_writes": put_writes, "aput": aput, "aput_writes": aput_writes}
    namespace = {"__slots__": (), "__module__": __name__, "fenced": True, **methods}
    return type(f"Fenced{base.__name__}", (base,), namespace)


_FENCED: dict[type, type] = {}


def fenced(saver: BaseCheckpointSaver) -> BaseCheckpointSaver:
    """``saver`` itself, its writes fenced by the running run's lease (``_fenced_class``).

    The saver keeps its own class underneath (a subclass is put on top), so LangGraph sees the
    SqliteSaver / PostgresSaver it knows, with every method and attribute it has.
    """
    base = type(saver)
    if getattr(base, "fenced", False):
        return saver
    if base not in _FENCED:
        _FENCED[base] = _fenced_class(base)
    saver.__class__ = _FENCED[base]
    return saver


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
            yield fenced(saver)
        return
    path = checkpoint_path(url)
    if path is None:
        yield fenced(InMemorySaver(serde=_strict_serde()))
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
    try:
        # WAL so a reader (the API listing threads) never blocks the worker writing checkpoints.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA busy_timeout=30000")
        saver = SqliteSaver(conn, serde=_strict_serde())
        saver.setup()
        yield fenced(saver)
    finally:
        conn.close()
