"""What the app holds for its lifetime: settings, the pool's engine, keys, the graph runner."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from agents.policy.model import Policy
from api.auth import KeyStore
from api.errors import ApiError
from api.jobs import JobRunner
from api.langgraph_compat.broker import RunBroker
from api.langgraph_compat.runner import GraphRunner
from inventory.clock import Clock
from inventory.config import Settings
from tools.context import ToolContext

#: How long a tool context (and its "now") is reused between requests (requests are hot).
CLOCK_TTL_S = 1.0


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    keys: KeyStore
    policy: Policy
    #: The service's one "now" (``inventory.clock.pool_clock``), shared with the agents' runtime.
    clock: Clock
    runner: GraphRunner | None = None
    #: Chat runs in flight and their events (reconnect, join, cancel, multitask strategies).
    broker: RunBroker = field(default_factory=RunBroker)
    #: Set by the alert webhook so the worker picks a new run up at once instead of next poll.
    wake_worker: threading.Event = field(default_factory=threading.Event)
    #: Background jobs (demo world build, forecaster fits), listed at /v1/jobs.
    jobs: JobRunner = field(default_factory=JobRunner)
    #: Set once the pool and the agents are ready; until then requests get 503 (api.startup).
    ready: threading.Event = field(default_factory=threading.Event)
    startup_job: str | None = None
    startup_error: str | None = None

    _tool_context: tuple[float, ToolContext] | None = field(default=None, repr=False)

    def tool_context(self) -> ToolContext:
        """The tools' view of the pool at the service's clock, re-read at most once a second."""
        cached = self._tool_context
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        context = ToolContext.at_clock(self.engine, self.clock, self.settings)
        self._tool_context = (now + CLOCK_TTL_S, context)
        return context

    def require_runner(self) -> GraphRunner:
        if self.runner is None:
            raise ApiError(503, "the agents are still starting; retry in a moment")
        return self.runner
