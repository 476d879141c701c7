"""``stockpilot serve``: migrate, seed the demo world into an empty pool, and serve the API.

The defaults are the embedded demo: SQLite under var/, the offline planner (no LLM needed), the
simulated enterprise systems and the background worker, on 127.0.0.1:8000.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, select

from api.auth import DEMO_KEYS, seed_demo_keys
from inventory import schema
from inventory.config import Settings, get_settings
from inventory.db import get_engine, normalise_url
from inventory.models import Location

console = Console()


def _pool_is_empty(engine: Engine) -> bool:
    with Session(engine) as session:
        return session.exec(select(Location.code).limit(1)).first() is None


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(normalise_url(url))
    if (
        parsed.get_backend_name() != "sqlite"
        or not parsed.database
        or parsed.database == ":memory:"
    ):
        return None
    return Path(parsed.database)


def prepare_pool(settings: Settings, *, seed: bool) -> Engine:
    """Migrate the pool; on first run put the demo world and the demo API keys in it."""
    from inventory.demo_world import WorldSpec, build_world, copy_world, world_template

    path = _sqlite_path(settings.database_url)
    if seed and path is not None and not path.exists():
        console.print("first run: copying the demo world (built once, then cached) …")
        copy_world(world_template(WorldSpec()), path)
    engine = get_engine(settings.database_url)
    schema.upgrade(engine)
    if seed and _pool_is_empty(engine):
        console.print("the pool is empty: building the demo world …")
        summary = build_world(engine, WorldSpec())
        console.print(f"demo world ready: {summary}")
    _warm_forecaster(settings, engine)
    seeded = seed_demo_keys(engine) if seed else {}
    if seeded:
        console.print("seeded the demo API keys (public; replace them before real use)")
    return engine


def _warm_forecaster(settings: Settings, engine: Engine) -> None:
    """Fit the forecaster now, once per world and clock, rather than inside the first alert."""
    import time

    from tools.context import ToolContext, ToolError
    from tools.forecast_demand.tool import ensure_model

    try:
        ctx = ToolContext.for_world(engine, settings)
    except ToolError as exc:  # a pool without a clock (no demo world): forecasts fit on demand
        console.print(f"forecaster not prepared: {exc}")
        return
    console.print("preparing the demand forecasters (fitted once per world, then stored) …")
    for level in ("sku", "style"):  # alerts plan per size; chat answers per style
        started = time.perf_counter()
        artefact, fitted = ensure_model(ctx, level)
        console.print(
            f"  {level}-level {artefact.meta.model} {artefact.meta.version} "
            f"{'fitted' if fitted else 'loaded'} in {time.perf_counter() - started:.1f} s "
            f"({artefact.meta.series} series)"
        )


def serve(
    host: str | None = typer.Option(None, help="Bind address (default: settings, 127.0.0.1)."),
    port: int | None = typer.Option(None, help="Port (default: settings, 8000)."),
    db: str | None = typer.Option(None, "--db", help="Database URL (default: settings)."),
    seed: bool = typer.Option(True, help="Seed the demo world and demo keys into an empty pool."),
    worker: bool = typer.Option(True, help="Run the background worker for alert runs."),
    log_level: str = typer.Option("info", help="uvicorn log level."),
) -> None:
    """Serve the API (REST /v1, the LangGraph-compatible surface, signed alert webhooks)."""
    import uvicorn

    from api.app import create_app
    from api.logs import log_config

    overrides = {
        key: value
        for key, value in {"database_url": db, "host": host, "port": port}.items()
        if value is not None
    }
    settings = get_settings().model_copy(update=overrides)
    engine = prepare_pool(settings, seed=seed)
    app = create_app(settings, engine=engine, run_worker=worker)
    base = f"http://{settings.host}:{settings.port}"
    console.print(f"\n[bold]Stockpilot[/] on {base}")
    console.print(f"  API docs (OpenAPI)      {base}/docs")
    console.print(f"  REST                    {base}/v1/…")
    console.print(f"  LangGraph-compatible    {base}  (langgraph-sdk, agent-chat-ui)")
    console.print(f"  alerts webhook          POST {base}/v1/alerts (HMAC-signed)")
    console.print(f"  LLM                     {settings.llm_model or 'offline planner'}")
    if seed:
        console.print("  demo API keys (x-api-key):")
        for name, (key, roles) in DEMO_KEYS.items():
            console.print(f"    {name:<16} {key:<26} {', '.join(roles)}")
        for sender, secret in settings.alert_secrets.items():
            console.print(f"  alert sender {sender!r} secret {secret!r}")
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=log_config(settings.log_format, log_level),
        log_level=log_level,
    )


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
