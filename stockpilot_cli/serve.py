"""``stockpilot serve``: migrate the pool and serve the API; ``--demo`` for the one-command demo.

Demo mode (``--demo``, ``stockpilot --demo serve`` or ``STOCKPILOT_DEMO=1``; ``make run``) uses
its own SQLite file (``var/demo.sqlite``), builds the generated demo world into it on first
start, seeds the public demo API keys and accepts the published demo alert secret, on the demo
world's clock. Without it, ``serve`` seeds nothing, refuses the published secret and the public
demo keys, runs on the wall clock and says how to create the first admin key.

The listener opens at once: a first-start world build runs as a background job (requests get
503 + Retry-After and ``/healthz`` shows progress meanwhile) and the forecasters are fitted as
background jobs afterwards (``/v1/jobs``; forecasts come from the fast baseline until then).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.panel import Panel
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, select

from api.auth import DEMO_KEYS, hash_key, seed_demo_keys
from api.jobs import Progress, Work
from inventory import schema
from inventory.clock import describe
from inventory.config import Settings, override_settings
from inventory.db import get_engine, normalise_url
from inventory.demo_world.spec import WorldSpec
from inventory.models import ApiKey, Location, WorldMeta

console = Console()
err_console = Console(stderr=True)

#: Exit code when the configuration is unsafe or inconsistent (nothing was started).
EXIT_REFUSED = 2


class ServeRefused(RuntimeError):
    """Starting would be unsafe (a published secret or public keys outside demo mode)."""


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


def _demo_keys_present(engine: Engine) -> list[str]:
    hashes = {hash_key(key): name for name, (key, _) in DEMO_KEYS.items()}
    with Session(engine) as session:
        rows = session.exec(select(ApiKey.name, ApiKey.key_hash)).all()
    return sorted(name for name, digest in rows if digest in hashes)


def _has_keys(engine: Engine) -> bool:
    with Session(engine) as session:
        return session.exec(select(ApiKey.id).limit(1)).first() is not None


def _is_demo_world(engine: Engine) -> bool:
    with Session(engine) as session:
        return session.get(WorldMeta, "world") is not None


def check_safe(settings: Settings) -> None:
    """Outside demo mode, refuse the published alert secret (before touching the pool)."""
    if settings.demo:
        return
    if senders := settings.published_secret_senders:
        raise ServeRefused(
            f"sender(s) {', '.join(senders)} use the published demo secret; outside demo "
            "mode set STOCKPILOT_ALERT_SECRETS (and STOCKPILOT_FULFILMENT_SECRETS) to secrets "
            "of your own, e.g. "
            '\'{"cma-feed": "<a long random secret>"}\' (or run the demo: stockpilot serve --demo)'
        )


def prepare_pool(settings: Settings, world: WorldSpec | None = None) -> tuple[Engine, Work | None]:
    """Migrate the pool and check it; in demo mode also return the slow first-start work (the
    demo world's build) to run as a background job, or do the quick part (keys) at once."""
    check_safe(settings)
    spec = world or WorldSpec()
    path = _sqlite_path(settings.database_url)
    if settings.demo and path is not None and not path.exists():
        return get_engine(settings.database_url), _demo_world_into_new_file(settings, path, spec)
    engine = get_engine(settings.database_url)
    schema.upgrade(engine)
    if settings.demo:
        if _pool_is_empty(engine):
            return engine, _demo_world_into_pool(engine, spec)
        seed_demo_keys(engine)
        return engine, None
    if public := _demo_keys_present(engine):
        raise ServeRefused(
            f"this pool holds the public demo API keys ({', '.join(public)}): it is a demo "
            "pool. Serve it in demo mode (stockpilot serve --demo), or revoke them first: "
            + "; ".join(f"stockpilot api-key revoke {name}" for name in public)
        )
    return engine, None


def _demo_world_into_new_file(settings: Settings, path: Path, spec: WorldSpec) -> Work:
    """SQLite: build (or reuse) the cached template under var/worlds, then copy it into place
    atomically. Nothing opens the pool file before the copy is complete."""

    def work(progress: Progress) -> dict[str, Any]:
        from inventory.demo_world import copy_world, world_template
        from inventory.demo_world.template import template_path

        cached = template_path(spec).exists()
        if cached:
            progress(0.5, "copying the demo world (built once, then cached)")
        template = world_template(spec, progress=lambda f, m: progress(0.9 * f, m))
        partial = path.with_name(f".{path.name}.partial")
        copy_world(template, partial)
        os.replace(partial, path)  # a start killed mid-copy leaves no half pool behind
        engine = get_engine(settings.database_url)
        engine.dispose()  # drop any connection opened before the file was in place
        schema.upgrade(engine)
        progress(0.98, "seeding the public demo API keys")
        seed_demo_keys(engine)
        return {"world": str(path), "template": str(template), "cached": cached}

    return work


def _demo_world_into_pool(engine: Engine, spec: WorldSpec) -> Work:
    """An empty migrated pool (a new PostgreSQL database, an emptied file): build into it."""

    def work(progress: Progress) -> dict[str, Any]:
        from inventory.demo_world import build_world

        summary = build_world(engine, spec, progress=progress)
        seed_demo_keys(engine)
        return {"world": summary.database, "seconds": summary.seconds}

    return work


def _print_banner(settings: Settings, engine: Engine, preparing: bool) -> None:
    base = f"http://{settings.host}:{settings.port}"
    console.print(
        f"\n[bold]Stockpilot[/] on {base}"
        + ("  [bold magenta]DEMO MODE[/]" if settings.demo else "")
    )
    console.print(f"  ops console             {base}/console  (sign in with an API key)")
    console.print(f"  API docs (OpenAPI)      {base}/docs")
    console.print(f"  REST                    {base}/v1/…")
    console.print(f"  LangGraph-compatible    {base}  (langgraph-sdk, agent-chat-ui)")
    console.print(f"  alerts webhook          POST {base}/v1/alerts (HMAC-signed)")
    console.print(f"  background jobs         {base}/v1/jobs  (start-up progress: {base}/healthz)")
    console.print(f"  LLM                     {settings.llm_model or 'offline planner'}")
    console.print(f"  pool                    {engine.url.render_as_string(hide_password=True)}")
    clock = "the demo world's clock" if preparing and settings.clock_mode == "world" else None
    console.print(f"  clock                   {clock or describe(engine, settings.clock_mode)}")
    if preparing:
        console.print(
            "  [yellow]first start: the demo world is being built in the background; requests "
            "get 503 with progress until it is ready[/]"
        )
    if settings.demo:
        lines = [
            "These demo API keys and the alert secret are [bold]PUBLIC[/] (they are in the",
            "README). Use them only with the generated demo world, never with real data.",
            "",
            *(
                f"  {name:<16} x-api-key: {key:<24} {', '.join(roles)}"
                for name, (key, roles) in DEMO_KEYS.items()
            ),
            "",
            *(
                f"  alert sender {sender!r}: secret {secret!r}"
                for sender, secret in settings.alert_secrets.items()
            ),
        ]
        console.print(Panel("\n".join(lines), title="DEMO MODE — PUBLIC KEYS", style="bold red"))
        return
    if not _has_keys(engine):
        db = engine.url.render_as_string(hide_password=True)  # never print a password
        console.print(
            Panel(
                "No API key exists yet, so no request can be authenticated. Create the first "
                "admin key (it is shown once; only its hash is stored):\n\n"
                f"  stockpilot api-key create <your-name> --role admin --db '{db}'"
                "\n\nthen create keys for people and systems with --role viewer | ops | approver.",
                title="First start",
                style="yellow",
            )
        )
    if not settings.alert_secrets:
        console.print(
            "  alert senders           none configured: the webhook refuses every alert "
            '(set STOCKPILOT_ALERT_SECRETS=\'{"<sender>": "<secret>"}\')'
        )
    if _is_demo_world(engine):
        console.print(
            "  [yellow]this pool holds the generated demo world; outside demo mode it runs on "
            "the wall clock (use stockpilot serve --demo for the demo)[/]"
        )


def serve(
    host: str | None = typer.Option(None, help="Bind address (default: settings, 127.0.0.1)."),
    port: int | None = typer.Option(None, help="Port (default: settings, 8000)."),
    db: str | None = typer.Option(None, "--db", help="Database URL (default: settings)."),
    demo: bool = typer.Option(
        False,
        "--demo",
        help="Demo mode: the generated demo world (var/demo.sqlite unless --db), its PUBLIC "
        "keys and alert secret, its clock. Never for real data.",
    ),
    worker: bool = typer.Option(True, help="Run the background worker for alert runs."),
    log_level: str = typer.Option("info", help="uvicorn log level."),
) -> None:
    """Serve the API (REST /v1, the LangGraph-compatible surface, signed alert webhooks)."""
    started = time.perf_counter()
    import uvicorn

    from api.logs import log_config
    from api.shell import LoadingShell

    settings = override_settings(demo=True if demo else None, database_url=db, host=host, port=port)
    try:
        engine, prepare = prepare_pool(settings)
    except ServeRefused as refused:
        err_console.print(f"[red]refusing to start:[/] {refused}")
        raise typer.Exit(EXIT_REFUSED) from refused

    def load() -> Any:
        """The service itself, imported and built on a thread while the listener is open; a
        first start's world build starts first, so it goes on while the service imports."""
        from api.jobs import started_early

        preparing = started_early(prepare) if prepare is not None else None
        from api.app import create_app

        return create_app(
            settings,
            engine=engine,
            run_worker=worker,
            prepare=preparing,
            prepare_title="build the demo world (first start)",
            fit_forecasters=True,
        )

    _print_banner(settings, engine, preparing=prepare is not None)
    console.print(f"  ready to listen after {time.perf_counter() - started:.1f} s\n")
    uvicorn.run(
        LoadingShell(load),
        host=settings.host,
        port=settings.port,
        log_config=log_config(settings.log_format, log_level),
        log_level=log_level,
    )


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
