"""Executor timestamps: stored timezone-aware (UTC), as the pool's columns require.

Callers may pass the world clock, which is naive; it is read as UTC, the same rule
``inventory.movements`` applies, so one decision's rows agree on the instant.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def as_utc_or_none(at: datetime | None) -> datetime | None:
    return None if at is None else as_utc(at)
