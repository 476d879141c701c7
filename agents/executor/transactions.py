"""Write steps that are atomic on their own yet commit with the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlmodel import Session

from inventory.db import begin_write


@contextmanager
def atomic_step(session: Session) -> Iterator[None]:
    """A savepoint around one executor step, opened as a writer (``inventory.db.begin_write``).

    The savepoint undoes a refused step without spoiling the caller's other work.
    """
    begin_write(session)
    with session.begin_nested():
        yield
