"""The service: ``create_app(settings)`` wires the pool, keys, policy, agents and worker.

Tests hand in their own engine and assistant catalog; the service builds the agents from the
registry with the checkpointer that matches the database (SQLite file or Postgres).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.engine import Engine
from starlette.routing import Route

from agents.policy.model import load_policy
from api.auth import KeyStore
from api.cors import install_cors
from api.errors import install_error_handlers
from api.langgraph_compat.catalog import AssistantCatalog, RegistryCatalog
from api.langgraph_compat.router import router as langgraph_router
from api.langgraph_compat.runner import GraphRunner
from api.logs import RequestIdMiddleware
from api.mcp_tools import McpMount
from api.routes import V1_ROUTERS, health
from api.state import AppState
from inventory.config import Settings, get_settings
from inventory.db import get_engine

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
) -> FastAPI:
    settings = settings or get_settings()
    engine = engine or get_engine(settings.database_url)
    state = AppState(
        settings=settings,
        engine=engine,
        keys=KeyStore(engine),
        policy=load_policy(settings.policy_file),
        runner=GraphRunner(engine, catalog) if catalog is not None else None,
    )

    mcp = McpMount()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with mcp.serving(state):
            with ExitStack() as stack:
                if state.runner is None:
                    state.runner = GraphRunner(engine, _registry_catalog(stack, settings, engine))
                if run_worker:
                    from api.worker import Worker

                    worker = Worker(state.require_runner(), wake=state.wake_worker)
                    stack.callback(worker.stop)
                    worker.start()
                    _start_outbox_dispatcher(stack, state.require_runner())
                yield

    app = FastAPI(
        title="Stockpilot",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.stockpilot = state
    install_error_handlers(app)
    install_cors(app, settings.cors_origins)
    app.add_middleware(RequestIdMiddleware)
    app.include_router(health.router)
    for router in V1_ROUTERS:
        app.include_router(router, prefix="/v1")
    app.include_router(langgraph_router)
    # MCP over Streamable HTTP, behind the same API keys (roles are checked per tool).
    app.router.routes.append(Route("/mcp", endpoint=mcp, methods=["GET", "POST", "DELETE"]))
    return app


def _start_outbox_dispatcher(stack: ExitStack, runner: GraphRunner) -> None:
    """Keep draining the outbox: a send that failed transiently inside a run is retried here
    with its idempotency key, so an approved order reaches the WMS once the WMS is back."""
    runtime = getattr(runner.catalog, "runtime", None)
    if runtime is None:  # a test catalog without the agents' runtime has no outbox to drain
        return
    from agents.executor.dispatcher import Dispatcher

    stop = threading.Event()
    dispatcher = Dispatcher(runtime.engine, runtime.connectors, settings=runtime.dispatch)
    thread = threading.Thread(
        target=dispatcher.run_forever, args=(stop,), name="stockpilot-outbox", daemon=True
    )
    thread.start()

    def _stop() -> None:
        stop.set()
        thread.join(timeout=30)

    stack.callback(_stop)


def _registry_catalog(stack: ExitStack, settings: Settings, engine: Engine) -> AssistantCatalog:
    from agents.persistence import open_checkpointer
    from agents.runtime import AgentRuntime

    checkpointer = stack.enter_context(open_checkpointer(settings))
    runtime = AgentRuntime.from_settings(settings, engine=engine)
    return RegistryCatalog(runtime, checkpointer)
