"""The service: ``create_app(settings)`` wires the pool, keys, policy, agents and worker.

Tests hand in their own engine and assistant catalog; the service builds the agents from the
registry with the checkpointer that matches the database (SQLite file or Postgres).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import ExitStack, asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from sqlalchemy.engine import Engine
from starlette.routing import Route

from agents.policy.model import load_policy
from api.auth import KeyStore
from api.console import install_console
from api.cors import install_cors
from api.errors import install_error_handlers
from api.fulfilment_feedback import subscribe_simulated_oms, subscribe_simulated_wms
from api.jobs import JobStore, Work
from api.langgraph_compat.catalog import AssistantCatalog, RegistryCatalog
from api.langgraph_compat.router import router as langgraph_router
from api.langgraph_compat.runner import GraphRunner
from api.limits import RequestLimits
from api.logs import RequestIdMiddleware
from api.mcp_tools import McpMount
from api.routes import V1_ROUTERS, health
from api.startup import StartingGate
from api.state import AppState
from inventory.clock import Clock, pool_clock
from inventory.config import Settings, get_settings
from inventory.db import get_engine

log = logging.getLogger(__name__)
#: Requests served at once on threads. Each holds one pooled connection at a time (a REST
#: decision or a run opens and closes its own sessions; its run's lease heartbeat takes one for
#: a moment every few seconds), and none while it waits for a thread, so the database pool
#: (``inventory.db``, 30) covers 12 of them plus the worker, the outbox dispatcher and the sweeps.
REQUEST_THREADS = 12

DESCRIPTION = """
Stockpilot's service API.

* **/v1** — the domain: stock, forecasts, transfer plans (dry run) and orders, promo proposals,
  approvals, signed alert webhooks, runs, audit events and the policy.
* **LangGraph-compatible** (`/info`, `/assistants`, `/threads`, `/runs`) — the subset the official
  `langgraph-sdk` client and agent-chat-ui use, for the `ops_chat` and `alert_response` assistants.

Authenticate with an API key in the `x-api-key` header (roles: viewer, ops, approver, admin).
Alert senders sign bodies with HMAC-SHA256 instead. Every error body says what was wrong and where.
"""


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    catalog: AssistantCatalog | None = None,
    run_worker: bool = False,
    prepare: Work | None = None,
    prepare_title: str = "prepare the pool",
    fit_forecasters: bool = False,
) -> FastAPI:
    """The app. ``prepare`` is slow work the pool needs before anything may read it (the demo
    world's first build): it runs as a background job while the listener is already open, and
    requests get 503 + Retry-After until it is done. ``fit_forecasters`` then queues the
    forecaster fits as jobs (forecasts use the fast baseline until they are stored)."""
    settings = settings or get_settings()
    engine = engine or get_engine(settings.database_url)
    clock = pool_clock(engine, settings.clock_mode, ticking=True)
    state = AppState(
        settings=settings,
        engine=engine,
        keys=KeyStore(engine),
        policy=load_policy(settings.policy_file),
        clock=clock,
        runner=GraphRunner(engine, catalog) if catalog is not None else None,
    )

    def start_agents(stack: ExitStack) -> None:
        # The pool is in place now (a first start's world build put it there): record jobs in it.
        state.jobs.attach(JobStore(engine))
        if state.runner is None:
            state.runner = GraphRunner(engine, _registry_catalog(stack, settings, engine, clock))
        if run_worker:
            from api.forecast_watch import alerts_wait_for_first_fit
            from api.worker import Worker

            worker = Worker(
                state.require_runner(),
                wake=state.wake_worker,
                hold_alerts=(lambda: alerts_wait_for_first_fit(state)) if fit_forecasters else None,
            )
            stack.callback(worker.stop)
            worker.start()
            _start_outbox_dispatcher(stack, state.require_runner())
            subscribe_simulated_wms(state)  # the simulated WMS reports what it ships
            subscribe_simulated_oms(state)  # and the simulated OMS its online parcels
        if fit_forecasters:  # queued before the first request, so an alert sees the fit
            from api.forecast_watch import LEVELS, ForecastWatch
            from api.startup import submit_forecast_fit

            for level in LEVELS:  # alerts plan per size; chat answers per style
                submit_forecast_fit(state, level)
            watch = ForecastWatch(state, settings.forecast_check_s)  # new sales, later fits
            stack.callback(watch.stop)
            watch.start()
        state.ready.set()

    mcp = McpMount()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Sync handlers, and the graph runs a decision or runs/wait starts, take anyio's
        # threads: 40 by default, more than the database pool's 30 connections (10 + 20
        # overflow). Fewer threads than connections: excess requests queue for a thread, never
        # for a connection (and hold none while they queue: see ``api.decisions.decide``).
        anyio.to_thread.current_default_thread_limiter().total_tokens = REQUEST_THREADS
        async with mcp.serving(state):
            with ExitStack() as stack:
                stack.callback(state.jobs.stop)
                if prepare is None:
                    start_agents(stack)
                else:
                    state.startup_job = state.jobs.submit("demo_world", prepare_title, prepare).id
                    threading.Thread(
                        target=_after_preparation,
                        args=(state, stack, start_agents),
                        name="stockpilot-startup",
                        daemon=True,
                    ).start()
                yield

    app = FastAPI(
        title="Stockpilot",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.stockpilot = state
    install_error_handlers(app)
    app.add_middleware(StartingGate)
    app.add_middleware(RequestLimits, max_bytes=settings.max_request_bytes)
    # outermost: preflights and request ids also for answers while the service starts
    install_cors(app, settings.cors_origins)
    app.add_middleware(RequestIdMiddleware)
    app.include_router(health.router)
    for router in V1_ROUTERS:
        app.include_router(router, prefix="/v1")
    app.include_router(langgraph_router)
    install_console(app)  # the ops console's page at /console (static; the API does the work)
    # MCP over Streamable HTTP, behind the same API keys (roles are checked per tool).
    app.router.routes.append(Route("/mcp", endpoint=mcp, methods=["GET", "POST", "DELETE"]))
    return app


def _after_preparation(
    state: AppState, stack: ExitStack, start_agents: Callable[[ExitStack], None]
) -> None:
    """Wait for the preparation job, then start the agents (or record why start-up failed)."""
    assert state.startup_job is not None
    job = state.jobs.wait(state.startup_job)
    if job.status != "succeeded":
        log.error("start-up failed: %s", job.error)
        return
    try:
        start_agents(stack)
    except Exception as exc:
        log.exception("start-up failed while starting the agents")
        state.startup_error = f"{type(exc).__name__}: {exc}"


def _start_outbox_dispatcher(stack: ExitStack, runner: GraphRunner) -> None:
    """The one sender of the outbox in the service: woken when a run commits new rows, and
    retrying failed sends with their idempotency keys until the system takes them."""
    runtime = getattr(runner.catalog, "runtime", None)
    if runtime is None:  # a test catalog without the agents' runtime has no outbox to drain
        return
    from agents.executor.dispatcher import Dispatcher, stop_dispatcher

    stop = threading.Event()
    dispatcher = Dispatcher(
        runtime.engine, runtime.connectors, clock=runtime.clock, settings=runtime.dispatch
    )
    thread = threading.Thread(
        target=dispatcher.run_forever, args=(stop,), name="stockpilot-outbox", daemon=True
    )
    thread.start()

    def _stop() -> None:
        stop_dispatcher(stop)
        thread.join(timeout=30)

    stack.callback(_stop)


def _registry_catalog(
    stack: ExitStack, settings: Settings, engine: Engine, clock: Clock
) -> AssistantCatalog:
    from agents.persistence import open_checkpointer
    from agents.runtime import AgentRuntime

    checkpointer = stack.enter_context(open_checkpointer(settings))
    runtime = AgentRuntime.from_settings(settings, engine=engine, clock=clock)
    return RegistryCatalog(runtime, checkpointer)
