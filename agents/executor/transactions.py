"""Write steps that are atomic on their own yet commit with the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlmodel import Session


@contextmanager
def atomic_step(session: Session) -> Iterator[None]:
    """A savepoint around one executor step, opened as a writer.

    On SQLite the transaction is begun with ``BEGIN IMMEDIATE`` (as ``inventory.movements`` does)
    because a deferred transaction that read first cannot upgrade to a writer under WAL when
    another writer committed meanwhile; waiting for the lock up front avoids that failure. The
    savepoint undoes a refused step without spoiling the caller's other work.
    """
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        dbapi_connection = connection.connection.dbapi_connection
        if dbapi_connection is not None and not dbapi_connection.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
    with session.begin_nested():
        yield
