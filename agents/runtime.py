"""Everything a graph's nodes need from the outside world, in one object built once per process."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from sqlalchemy.engine import Engine

from agents.executor.dispatcher import DispatchSettings
from agents.llm.base import ChatModel
from agents.llm.factory import make_chat_model
from agents.policy import Policy, load_policy
from connectors.base import ConnectorSet
from inventory.clock import Clock, pool_clock, world_clock
from inventory.config import Settings, get_settings
from inventory.db import get_engine
from inventory.vocabulary import vocabulary_of
from tools.context import ToolContext

__all__ = ["AgentRuntime", "Clock", "world_clock"]


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
        cls,
        settings: Settings | None = None,
        engine: Engine | None = None,
        clock: Clock | None = None,
    ) -> AgentRuntime:
        """The runtime on the product's clock (``settings.clock_mode``) unless one is given."""
        settings = settings or get_settings()
        engine = engine or get_engine(settings.database_url)
        clock = clock or pool_clock(engine, settings.clock_mode)
        return cls(
            engine=engine,
            settings=settings,
            llm=make_chat_model(settings, clock, partial(vocabulary_of, engine)),
            connectors=ConnectorSet.from_settings(settings),
            clock=clock,
            policy=load_policy(settings.policy_file),
        )

    def tool_context(self) -> ToolContext:
        return ToolContext.at_clock(self.engine, self.clock, self.settings)
