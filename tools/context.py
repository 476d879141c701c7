"""What every tool receives: a read-only way into the pool and the world's clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from inventory.clock import Clock, ClockUnavailable, pool_clock, world_clock
from inventory.config import Settings, get_settings
from inventory.vocabulary import UnknownTerm, load_vocabulary


class ToolError(ValueError):
    """Bad input to a tool: the message says what was wrong, for a human or an LLM to fix."""

    def __init__(self, message: str, *, field: str | None = None, value: object = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


def resolve_city(session: Session | Connection, name: str, *, field: str = "city") -> str:
    """The pool's code for a city typed in English or Chinese, or a ToolError listing the known
    cities (they are the pool's rows: a retailer's own, or the demo world's)."""
    try:
        return load_vocabulary(session).resolve_city(name)
    except UnknownTerm as error:
        raise ToolError(str(error), field=field, value=name) from error


def category_code(session: Session | Connection, name: str) -> str:
    """The pool's code for a category typed as its code, English or Chinese name or a synonym
    (雨靴, "rain boots"); a word the pool does not know is returned as given, for the tool's own
    "unknown category" answer."""
    try:
        return load_vocabulary(session).resolve_category(name)
    except UnknownTerm:
        return name


@dataclass(frozen=True)
class ToolContext:
    """A tool's world: the pool (read only) and 'now' (from ``inventory.clock``, aware UTC)."""

    engine: Engine
    now: dt.datetime
    settings: Settings = field(default_factory=get_settings)

    @property
    def today(self) -> dt.date:
        return self.now.date()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; it never commits."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
            finally:
                session.rollback()

    @classmethod
    def at_clock(
        cls, engine: Engine, clock: Clock, settings: Settings | None = None
    ) -> ToolContext:
        """The context at ``clock``'s now; a pool without the clock asked for is a ToolError."""
        try:
            now = clock()
        except ClockUnavailable as exc:
            raise ToolError(str(exc), field="clock") from exc
        return cls(engine=engine, now=now, settings=settings or get_settings())

    @classmethod
    def for_pool(cls, engine: Engine, settings: Settings | None = None) -> ToolContext:
        """The context at the product's clock for these settings (wall, or the demo world's)."""
        settings = settings or get_settings()
        return cls.at_clock(engine, pool_clock(engine, settings.clock_mode), settings)

    @classmethod
    def for_world(cls, engine: Engine, settings: Settings | None = None) -> ToolContext:
        """The context at the world's stored clock, as evals and world tests pin it."""
        return cls.at_clock(engine, world_clock(engine), settings)
