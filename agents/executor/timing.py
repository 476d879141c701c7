"""Executor timestamps: stored timezone-aware (UTC), as the pool's columns require.

"Now" itself comes from ``inventory.clock`` (the runtime's clock); a naive instant (the stored
world clock, SQLite's columns) is read as UTC, so one decision's rows agree on the instant.
"""

from __future__ import annotations

from datetime import datetime

from inventory.clock import as_utc, wall_clock

__all__ = ["as_utc", "as_utc_or_none", "utcnow"]

#: The default clock of a dispatcher built without the runtime's (a real pool's wall clock).
utcnow = wall_clock


def as_utc_or_none(at: datetime | None) -> datetime | None:
    return None if at is None else as_utc(at)
