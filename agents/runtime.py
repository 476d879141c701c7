"""Everything a graph's nodes need from the outside world, in one object built once per process."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from sqlalchemy.engine import Engine

from agents.executor.dispatcher import DispatchSettings
from agents.llm.base import ChatModel
from agents.llm.factory import make_chat_model
from agents.policy import Policy, load_policy
from connectors.base import ConnectorSet
from inventory.config import Settings, get_settings
from inventory.db import get_engine
from inventory.vocabulary import vocabulary_of
from tools.context import ToolContext

Clock = Callable[[], dt.datetime]


def world_clock(engine: Engine) -> Clock:
    """The world's own 'now' (``world_meta['clock']``, UTC), read afresh on every call so evals
    and expiry tests can move it. Aware, as the pool's timestamp columns require."""

    def now() -> dt.datetime:
        world_now = ToolContext.for_world(engine).now
        return world_now if world_now.tzinfo else world_now.replace(tzinfo=dt.UTC)

    return now


@dataclass
class AgentRuntime:
    """The pool, settings, chat model, enterprise systems, clock and policy the graphs run on."""

    engine: Engine
    settings: Settings
    llm: ChatModel
    connectors: ConnectorSet
    clock: Clock
    policy: Policy = field(default_factory=load_policy)
    dispatch: DispatchSettings = field(default_factory=DispatchSettings)

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, engine: Engine | None = None
    ) -> AgentRuntime:
        settings = settings or get_settings()
        engine = engine or get_engine(settings.database_url)
        return cls(
            engine=engine,
            settings=settings,
            llm=make_chat_model(settings, partial(vocabulary_of, engine)),
            connectors=ConnectorSet.from_settings(settings),
            clock=world_clock(engine),
            policy=load_policy(settings.policy_file),
        )

    def tool_context(self) -> ToolContext:
        return ToolContext(engine=self.engine, now=self.clock(), settings=self.settings)
