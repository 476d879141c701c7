"""The one source of "now" for the whole product.

A real pool runs on the wall clock. The generated demo world lives in the past (its sales and
weather end around 2015-07-01), so in demo mode and in evals "now" is the world's own clock,
stored in ``world_meta['clock']``. Which one applies is a single setting
(``STOCKPILOT_CLOCK=wall|world``; unset → ``world`` in demo mode, ``wall`` otherwise); every
caller asks :func:`pool_clock` (or, in evals and tests that move time on purpose,
:func:`world_clock`) instead of reading a clock of its own.

Every instant handed out is timezone-aware UTC, as the pool's timestamp columns require.
What this clock stamps is the business record: tool answers, orders, approvals and their expiry,
outbox rows and their retries, decisions and their audit events. Run bookkeeping (run rows,
leases, their audit events, alert receipt times, API-key caches) measures real elapsed time and
stays on the wall clock everywhere; in a real pool the two are the same clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

Clock = Callable[[], dt.datetime]
ClockMode = Literal["wall", "world"]

#: The ``world_meta`` key the demo generator and evals write the world's clock under.
WORLD_CLOCK_KEY = "clock"


class ClockUnavailable(ValueError):
    """The world clock was asked for but the pool has none (it is not a demo or eval world)."""


def as_utc(at: dt.datetime) -> dt.datetime:
    """A naive instant (the stored world clock, SQLite's columns) is read as UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


def wall_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _world_meta() -> sa.Table:
    from inventory.models import WorldMeta  # models import SQLModel; keep this module light

    return WorldMeta.__table__  # type: ignore[return-value]


#: Beside ``now``: the wall-clock instant from which a ticking pool's world clock advances.
TICKING_SINCE_KEY = "ticking_since"


def _read_clock_value(engine: Engine) -> dict | None:
    table = _world_meta()
    with engine.connect() as conn:
        value = conn.execute(
            sa.select(table.c.value).where(table.c.key == WORLD_CLOCK_KEY)
        ).scalar_one_or_none()
    return value if isinstance(value, dict) and "now" in value else None


def _elapsed_since_anchor(value: dict, wall: Clock) -> dt.timedelta:
    anchor = value.get(TICKING_SINCE_KEY)
    if not anchor:
        return dt.timedelta(0)
    elapsed = int((wall() - as_utc(dt.datetime.fromisoformat(anchor))).total_seconds())
    return dt.timedelta(seconds=max(0, elapsed))  # never before where ticking began


def read_world_clock(engine: Engine, *, wall: Clock = wall_clock) -> dt.datetime | None:
    """The world's "now", or None when the pool has no world clock.

    In a pool a service has set ticking, that is the stored instant plus the real time elapsed
    since the anchor, so every process (the service, a restarted service, a one-shot CLI
    command) reads the same clock and it never goes back across restarts. A pool nobody set
    ticking (evals, tests) reads exactly as stored.
    """
    value = _read_clock_value(engine)
    if value is None:
        return None
    return as_utc(dt.datetime.fromisoformat(value["now"])) + _elapsed_since_anchor(value, wall)


def set_world_clock(engine: Engine, now: dt.datetime) -> None:
    """Move the world's clock (evals advance it; the demo generator writes the first value).

    Stored as naive UTC ISO text, the form the demo generator has always written. A move stops
    any ticking: a running service re-anchors at the moved instant on its next read.
    """
    table = _world_meta()
    stamp = as_utc(now).astimezone(dt.UTC).replace(tzinfo=None).isoformat()
    with engine.begin() as conn:
        current = conn.execute(
            sa.select(table.c.value).where(table.c.key == WORLD_CLOCK_KEY)
        ).scalar_one_or_none()
        if current is None:
            conn.execute(sa.insert(table).values(key=WORLD_CLOCK_KEY, value={"now": stamp}))
        else:
            kept = {k: v for k, v in current.items() if k != TICKING_SINCE_KEY}
            conn.execute(
                sa.update(table)
                .where(table.c.key == WORLD_CLOCK_KEY)
                .values(value={**kept, "now": stamp})
            )


def _start_ticking(engine: Engine, wall: Clock) -> None:
    """Anchor the stored clock to the wall clock, unless it already is (another process did)."""
    table = _world_meta()
    with engine.begin() as conn:
        current = conn.execute(
            sa.select(table.c.value).where(table.c.key == WORLD_CLOCK_KEY)
        ).scalar_one_or_none()
        if not isinstance(current, dict) or "now" not in current:
            return
        if current.get(TICKING_SINCE_KEY):
            return
        anchor = wall().astimezone(dt.UTC).replace(tzinfo=None).isoformat()
        conn.execute(
            sa.update(table)
            .where(table.c.key == WORLD_CLOCK_KEY)
            .values(value={**current, TICKING_SINCE_KEY: anchor})
        )


def _required_world_now(engine: Engine, wall: Clock = wall_clock) -> dt.datetime:
    now = read_world_clock(engine, wall=wall)
    if now is None:
        raise ClockUnavailable(
            "the pool has no world clock (it is not a demo world): run on the wall clock "
            "(STOCKPILOT_CLOCK=wall, the default outside demo mode) or build a demo world "
            "with `stockpilot demo-world`"
        )
    return now


def world_clock(engine: Engine) -> Clock:
    """The world's clock, re-read on every call. Evals and tests move it by hand and nothing
    else does, so replays are deterministic; in a pool a demo service set ticking it advances
    with the wall clock (see :func:`read_world_clock`)."""

    def now() -> dt.datetime:
        return _required_world_now(engine)

    return now


def ticking_world_clock(engine: Engine, *, wall: Clock = wall_clock) -> Clock:
    """The world's clock advancing in real time (whole seconds).

    The demo service runs for hours, and approvals must expire and retries come due in it as
    they would in a real pool. The anchor is stored with the clock, so a restart goes on from
    where the last process was (business records never go back in time) and every process
    agrees. A move of the stored clock (an eval, a test) is followed at once, and ticking goes
    on from there. ``wall`` is injectable so a test never patches the process's clock.
    """

    def now() -> dt.datetime:
        value = _read_clock_value(engine)
        if value is None:
            return _required_world_now(engine, wall)  # raises ClockUnavailable
        if not value.get(TICKING_SINCE_KEY):
            _start_ticking(engine, wall)
            return _required_world_now(engine, wall)
        return as_utc(dt.datetime.fromisoformat(value["now"])) + _elapsed_since_anchor(value, wall)

    return now


def pool_clock(engine: Engine, mode: ClockMode, *, ticking: bool = False) -> Clock:
    """The product's "now" for ``engine`` under the configured mode (``settings.clock_mode``).

    ``ticking`` is for long-running processes (the service): the world's clock then advances in
    real time, for every process that reads it; a pool no service set ticking reads as stored.
    ``world`` fails on use, not here, when the pool has no world clock: a service can start
    before the pool is filled.
    """
    if mode == "wall":
        return wall_clock
    return ticking_world_clock(engine) if ticking else world_clock(engine)


def describe(engine: Engine, mode: ClockMode) -> str:
    """One line for start-up banners: which clock runs and where it stands."""
    if mode == "wall":
        return f"wall clock (now {wall_clock():%Y-%m-%d %H:%M} UTC)"
    world_now = read_world_clock(engine)
    where = f"now {world_now:%Y-%m-%d %H:%M} UTC" if world_now else "the pool has none yet"
    return f"the demo world's clock ({where})"
