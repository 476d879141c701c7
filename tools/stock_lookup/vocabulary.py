"""The codes a pool knows (SKUs, styles, sizes, locations), held in memory per pool.

Checking that a typed code exists is on the lookup's hot path; asking the database each time
cost two round trips per filter. The vocabulary is read once per pool and column, and refreshed
(a) at once when a value is not in it, so a SKU or store added a moment ago is found, and
(b) after ``TTL_S``, so a removed code stops being accepted (until then it matches no positions,
which is the truth, rather than raising).
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass

from sqlalchemy import ColumnElement
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

#: Seconds a vocabulary is trusted for codes it contains.
TTL_S = 60.0


@dataclass(frozen=True)
class _Entry:
    codes: frozenset[str]
    loaded_at: float


_CACHE: weakref.WeakKeyDictionary[Engine, dict[str, _Entry]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _key(column: ColumnElement[str]) -> str:
    table = getattr(column, "table", None)
    return f"{getattr(table, 'name', '?')}.{getattr(column, 'name', column)}"


def _load(session: Session, column: ColumnElement[str]) -> _Entry:
    codes = frozenset(session.exec(select(column).distinct()).all())
    return _Entry(codes=codes, loaded_at=time.monotonic())


def known_codes(
    session: Session, column: ColumnElement[str], *, fresh: bool = False
) -> frozenset[str]:
    """Every distinct value of ``column`` in the session's pool; ``fresh`` re-reads it."""
    engine = session.get_bind()
    key = _key(column)
    with _LOCK:
        entry = _CACHE.get(engine, {}).get(key)  # type: ignore[arg-type]
    if fresh or entry is None or time.monotonic() - entry.loaded_at > TTL_S:
        entry = _load(session, column)
        with _LOCK:
            _CACHE.setdefault(engine, {})[key] = entry  # type: ignore[arg-type]
    return entry.codes


def forget(engine: Engine) -> None:
    """Drop a pool's vocabulary (after bulk changes to its master data)."""
    with _LOCK:
        _CACHE.pop(engine, None)
