"""Engines and sessions for SQLite (the embedded default) and PostgreSQL, one code path for both."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

from inventory.config import get_settings

_ENGINES: dict[str, Engine] = {}
log = logging.getLogger(__name__)
T = TypeVar("T")

#: PostgreSQL aborts one of two transactions that wait on each other (deadlock, 40P01) or that
#: cannot be serialised (40001). The other one commits; the aborted one succeeds when run again.
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})


#: Connections an engine keeps, and how many more it opens under load: 30 at most, on SQLite
#: and PostgreSQL alike. The API's 12 request threads (``api.app.REQUEST_THREADS``) hold one
#: each at a time (a REST decision or a runs/wait command holds no request session while its
#: run opens its own: ``api.decisions.decide``, ``api.langgraph_compat.commands``); the runs'
#: lease heartbeats and checkpoint fences take one each for a moment, plus the worker, the
#: outbox dispatcher and the sweeps. 50 concurrent decisions peak at 14-20 in use.
POOL_SIZE = 10
POOL_OVERFLOW = 20


def normalise_url(url: str) -> str:
    """Accept the plain ``postgresql://`` spelling and route it to psycopg 3."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the one writer; busy_timeout queues writers instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # The same bound as PostgreSQL's (see POOL_SIZE). A SQLite connection is only a file
        # handle, but an unbounded pool hides a leak (a request that holds two connections, or
        # parks one while it waits) until the process runs out of file descriptors; bounded, a
        # leak shows as a wait for a connection. Writers queue on the file's one write lock
        # (busy_timeout, begin_write), not on the pool: 50 concurrent decisions fit in it.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)
    event.listen(engine, "checkin", _mark_idle)
    dialect = engine.dialect

    def ping_if_idle(dbapi_connection, record, _proxy) -> None:  # type: ignore[no-untyped-def]
        _ping_if_idle(dialect, dbapi_connection, record)

    event.listen(engine, "checkout", ping_if_idle)
    return engine


#: A pooled connection idle longer than this is pinged before use (PostgreSQL).
PING_AFTER_IDLE_S = 10.0


def _mark_idle(_dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dialect, dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
    """``pool_pre_ping``, but only for connections that sat idle: a restarted server or a
    dropped link is still caught before a request uses the connection, while a busy pool (a
    channel's reservations, a round trip each) does not pay a ``SELECT 1`` on every checkout.
    Raising ``DisconnectionError`` makes the pool discard it and connect afresh."""
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
        return
    try:
        alive = dialect.do_ping(dbapi_connection)
    except Exception as error:
        raise exc.DisconnectionError(f"idle connection failed its ping: {error}") from error
    if alive is False:
        raise exc.DisconnectionError("idle connection failed its ping")


def get_engine(url: str | None = None) -> Engine:
    """One engine per URL per process (engines own connection pools)."""
    key = normalise_url(url or get_settings().database_url)
    if key not in _ENGINES:
        _ENGINES[key] = make_engine(key)
    return _ENGINES[key]


def dispose_engines() -> None:
    for engine in _ENGINES.values():
        engine.dispose()
    _ENGINES.clear()


def begin_write(session: Session) -> None:
    """On SQLite, open the transaction as a writer so concurrent writers queue instead of racing.

    pysqlite opens transactions lazily (only before DML), and a deferred transaction that read
    first cannot upgrade to a writer under WAL once another writer committed; ``BEGIN IMMEDIATE``
    takes the write lock up front and ``busy_timeout`` makes others wait for it. PostgreSQL needs
    nothing here: guarded UPDATEs take row locks.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    dbapi_connection = connection.connection.dbapi_connection
    if dbapi_connection is not None and not dbapi_connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except Exception:
            session.rollback()
            raise


def is_transient(error: BaseException) -> bool:
    """A transaction that failed only because another one got in its way (a PostgreSQL deadlock
    or serialization failure; SQLite still locked after its busy timeout)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, exc.DBAPIError):
            orig = seen.orig
            if getattr(orig, "sqlstate", None) in TRANSIENT_SQLSTATES:
                return True
            if "database is locked" in str(orig):
                return True
        seen = seen.__cause__ or seen.__context__
    return False


def retrying(
    engine: Engine,
    work: Callable[[Session], T],
    *,
    attempts: int = 5,
    first_delay_s: float = 0.05,
) -> T:
    """Run ``work`` in its own transaction (``session_scope``), again from the start when it
    fails with a retryable conflict (``is_transient``); jittered backoff between attempts.

    The one way to write stock from outside a graph node (graph nodes get the same through
    LangGraph's retry policy on ``is_transient``). ``work`` must be safe to re-run: it runs in a
    fresh transaction each time, the failed one rolled back whole.
    """
    for attempt in range(1, attempts + 1):
        try:
            with session_scope(engine) as session:
                return work(session)
        except Exception as error:
            if attempt == attempts or not is_transient(error):
                raise
            delay = first_delay_s * 2 ** (attempt - 1) * (0.5 + random.random())
            log.warning("transaction conflict (attempt %d): %s; retrying", attempt, error)
            time.sleep(delay)
    raise AssertionError("unreachable")
