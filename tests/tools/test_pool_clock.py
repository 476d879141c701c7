"""One source of "now": the wall clock for a real pool, the world's only in demo mode and evals."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.engine import Engine

from inventory.clock import (
    ClockUnavailable,
    pool_clock,
    read_world_clock,
    set_world_clock,
    ticking_world_clock,
    wall_clock,
    world_clock,
)
from inventory.config import Settings
from tools.context import ToolContext, ToolError
from tools.stock_lookup.models import StockLookupInput
from tools.stock_lookup.tool import stock_lookup

WORLD_NOW = dt.datetime(2015, 7, 1, 9, tzinfo=dt.UTC)


def test_the_clock_mode_is_wall_unless_demo_or_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STOCKPILOT_CLOCK", raising=False)
    monkeypatch.delenv("STOCKPILOT_DEMO", raising=False)
    assert Settings().clock_mode == "wall"
    assert Settings(demo=True).clock_mode == "world"
    assert Settings(demo=True, clock="wall").clock_mode == "wall"
    assert Settings(clock="world").clock_mode == "world"


def test_the_clock_setting_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOCKPILOT_CLOCK", "world")
    assert Settings().clock_mode == "world"
    monkeypatch.setenv("STOCKPILOT_CLOCK", "sundial")
    with pytest.raises(ValueError, match="wall"):
        Settings()


def test_world_clock_round_trips_and_is_utc(engine: Engine) -> None:
    assert read_world_clock(engine) is None
    set_world_clock(engine, dt.datetime(2015, 7, 1, 9))  # naive: read as UTC
    assert read_world_clock(engine) == WORLD_NOW
    set_world_clock(engine, WORLD_NOW + dt.timedelta(hours=2))
    assert world_clock(engine)() == WORLD_NOW + dt.timedelta(hours=2)


def test_a_pool_without_a_world_clock_runs_on_the_wall_clock(engine: Engine) -> None:
    """A pool filled by ``stockpilot import`` has no world clock: tools work on the wall clock,
    and asking for the world's clock says what to do instead."""
    before = wall_clock()
    ctx = ToolContext.for_pool(engine, Settings(database_url=str(engine.url)))
    assert before <= ctx.now <= wall_clock() and ctx.now.tzinfo is not None
    assert stock_lookup(ctx, StockLookupInput()).positions == []
    with pytest.raises(ToolError, match="no world clock"):
        ToolContext.for_pool(engine, Settings(database_url=str(engine.url), demo=True))
    with pytest.raises(ClockUnavailable, match="STOCKPILOT_CLOCK=wall"):
        pool_clock(engine, "world")()


def test_demo_mode_reads_the_worlds_clock_even_when_the_wall_moves(engine: Engine) -> None:
    set_world_clock(engine, WORLD_NOW)
    ctx = ToolContext.for_pool(engine, Settings(database_url=str(engine.url), demo=True))
    assert ctx.now == WORLD_NOW
    assert pool_clock(engine, "wall")().year >= 2026


class _Wall:
    """A hand-moved wall clock."""

    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


def test_the_services_world_clock_ticks_with_the_wall_and_follows_moves(
    engine: Engine,
) -> None:
    set_world_clock(engine, WORLD_NOW)
    wall = _Wall(dt.datetime(2026, 12, 6, 3, tzinfo=dt.UTC))
    clock = ticking_world_clock(engine, wall=wall)
    assert clock() == WORLD_NOW  # the first read anchors the world to the wall
    wall.at += dt.timedelta(seconds=61.9)
    assert clock() == WORLD_NOW + dt.timedelta(seconds=61)  # whole seconds only
    assert read_world_clock(engine, wall=wall) == clock()  # every reader agrees
    set_world_clock(engine, WORLD_NOW + dt.timedelta(days=1))  # an eval moves the world
    assert clock() == WORLD_NOW + dt.timedelta(days=1)
    wall.at += dt.timedelta(seconds=10)
    assert clock() == WORLD_NOW + dt.timedelta(days=1, seconds=10)


def test_a_restarted_service_goes_on_where_the_last_one_was(engine: Engine) -> None:
    """Orders and approvals stamped before a restart are never in the new process's future."""
    set_world_clock(engine, WORLD_NOW)
    wall = _Wall(dt.datetime(2026, 12, 6, 3, tzinfo=dt.UTC))
    first = ticking_world_clock(engine, wall=wall)
    first()
    wall.at += dt.timedelta(hours=2)
    before_restart = first()
    second = ticking_world_clock(engine, wall=wall)  # the restarted process
    assert second() == before_restart == WORLD_NOW + dt.timedelta(hours=2)
    wall.at -= dt.timedelta(hours=3)  # a wall clock stepped back before the anchor
    assert second() == WORLD_NOW  # ... never takes the world before where ticking began
