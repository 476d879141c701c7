"""``stockpilot example DIR``: a retailer's CSV files to dispatched transfers, end to end.

The documented path from data to decision, run on one retailer (``examples/chengdu`` ships one
that is not the demo world): import every file into a fresh pool (sales and weather moved as a
block to end yesterday on the wall clock), fit the forecaster, start the service on a free
loopback port, post a **signed** rain alert to its webhook, approve what the policy holds with
an approver API key, and print the WMS references of the orders that reached the (simulated)
WMS. Every step is the product's own code path; nothing is seeded behind its back.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from inventory import schema
from inventory.clock import wall_clock
from inventory.config import Settings, get_settings
from inventory.db import make_engine
from inventory.importers import ImportKind, ImportRejected, ImportReport, import_file

#: The files of a retailer, in import order (each refers only to those before it).
EXAMPLE_FILES: tuple[tuple[ImportKind, str], ...] = (
    (ImportKind.CITIES, "cities.csv"),
    (ImportKind.CATEGORIES, "categories.csv"),
    (ImportKind.LOCATIONS, "locations.csv"),
    (ImportKind.LANES, "lanes.csv"),
    (ImportKind.ENTITLEMENTS, "entitlements.csv"),
    (ImportKind.SKUS, "skus.csv"),
    (ImportKind.STOCK, "stock.csv"),
    (ImportKind.SALES, "sales.csv"),
    (ImportKind.WEATHER, "weather.csv"),
)
ALERT_SENDER = "example-weather"
APPROVER = "example-approver"
FINISHED = {"succeeded", "interrupted", "failed"}


class ExampleError(RuntimeError):
    """A step of the example did not do what the path promises; the message says which."""


@dataclass(frozen=True)
class DispatchedOrder:
    order_id: str
    source: str
    dest: str
    units: int
    value: float
    wms_reference: str


@dataclass(frozen=True)
class ExampleOutcome:
    run_id: str
    run_status: str
    approved: int
    orders: list[DispatchedOrder]
    wms_references: list[str]


def import_retailer(
    engine: Engine, directory: Path, *, shift_to: dt.date | None
) -> list[ImportReport]:
    """Import every file of ``directory`` in order; sales and weather end on ``shift_to``."""
    reports = []
    for kind, name in EXAMPLE_FILES:
        path = directory / name
        if not path.is_file():
            if kind is ImportKind.ENTITLEMENTS:
                continue  # optional: without rows every location sells on every channel
            raise ExampleError(f"{path} is missing")
        dated = kind in (ImportKind.SALES, ImportKind.WEATHER)
        reports.append(
            import_file(
                engine, kind, path, actor="example import", shift_to=shift_to if dated else None
            )
        )
    return reports


def create_approver_key(engine: Engine) -> str:
    """An approver (who may also read) for this pool; the key is shown once, as always."""
    from api.auth import Role, create_api_key

    with Session(engine) as session:
        key = create_api_key(session, APPROVER, [Role.VIEWER, Role.APPROVER])
        session.commit()
    return key


def fit_forecaster(engine: Engine, settings: Settings, today: dt.date, console: Console) -> str:
    """Fit the size-level forecaster the alert plans with, before any alert needs it (with the
    same progress bar as ``stockpilot forecast fit``)."""
    from stockpilot_cli.forecast import fit_progress
    from tools.forecast_demand.fitting import fit_pool_model

    started = time.perf_counter()
    with fit_progress() as (progress, task):

        def advance(fraction: float, message: str) -> None:
            progress.update(task, completed=100 * fraction, description=message)

        artefact = fit_pool_model(
            engine, today, settings.data_dir / "models", level="sku", progress=advance
        )
    meta = artefact.meta
    line = (
        f"fitted {meta.label} on {meta.series} series ({meta.data_start}..{meta.data_end}) "
        f"in {time.perf_counter() - started:.1f} s"
    )
    console.print(line)
    return line


@contextmanager
def running_service(settings: Settings, engine: Engine) -> Iterator[str]:
    """The service as ``stockpilot serve`` runs it (worker, outbox dispatcher), on a loopback
    port the OS picks; yields its base URL."""
    import uvicorn

    from api.app import create_app

    app = create_app(settings, engine=engine, run_worker=True)
    for noisy in ("mcp", "httpx"):  # their per-request INFO lines would bury the story
        logging.getLogger(noisy).setLevel(logging.WARNING)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise ExampleError("the service did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def _wait(what: str, probe: Callable[[], Any], timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise ExampleError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.2)


def post_rain_alert(
    client: httpx.Client, secret: str, city: str, mm: float, now: dt.datetime
) -> dict[str, Any]:
    """A weather sender's signed webhook call, exactly as an outside system makes it."""
    from api.signatures import signed_headers

    alert = {
        "type": "weather",
        "alert_id": f"example-{city}-{now:%Y%m%d%H%M%S}-{secrets.token_hex(3)}",
        "city": city,
        "precipitation_mm": mm,
        "window_hours": 24,
        "issued_at": now.isoformat(),
    }
    body = json.dumps(alert, ensure_ascii=False).encode()
    response = client.post(
        "/v1/alerts", content=body, headers=signed_headers(ALERT_SENDER, secret, body)
    )
    if response.status_code != 202:
        raise ExampleError(f"the webhook refused the alert: {response.status_code} {response.text}")
    return response.json()


def approve_pending(client: httpx.Client, run_id: str, approver_key: str) -> int:
    """Approve, as the approver, every request the policy held for this run; returns how many."""
    headers = {"x-api-key": approver_key}
    decided = 0
    for _round in range(4):  # four-eyes orders would need another approver: not this policy
        pending = client.get(
            "/v1/approvals", params={"status": "pending", "run_id": run_id}, headers=headers
        )
        pending.raise_for_status()
        items = pending.json()["items"]
        if not items:
            break
        response = client.post(
            "/v1/approvals/decisions",
            json={"decisions": [{"approval_id": a["id"], "decision": "approve"} for a in items]},
            headers=headers,
        )
        if response.status_code != 200:
            raise ExampleError(f"approving failed: {response.status_code} {response.text}")
        decided += len(items)
    return decided


def dispatched_orders(
    client: httpx.Client, run_id: str, approver_key: str, timeout_s: float
) -> list[DispatchedOrder]:
    """The run's approved orders once every one carries the WMS's reference."""
    headers = {"x-api-key": approver_key}

    def all_sent() -> list[dict] | None:
        response = client.get("/v1/transfer-orders", params={"run_id": run_id}, headers=headers)
        response.raise_for_status()
        items = response.json()["items"]
        wanted = [o for o in items if o["status"] in {"approved", "dispatched", "received"}]
        if wanted and all(o.get("external_ref") for o in wanted):
            return wanted
        return None

    orders = _wait("the approved orders to reach the WMS", all_sent, timeout_s)
    orders = [  # the list leaves lines out; one order's page has them
        client.get(f"/v1/transfer-orders/{o['id']}", headers=headers).raise_for_status().json()
        for o in orders
    ]
    return [
        DispatchedOrder(
            order_id=o["id"],
            source=o["source"],
            dest=o["dest"],
            units=sum(int(line["qty"]) for line in o.get("lines", [])),
            value=float(o.get("expected_value") or 0.0),
            wms_reference=o["external_ref"],
        )
        for o in orders
    ]


def run_example(
    directory: Path,
    settings: Settings,
    engine: Engine,
    *,
    city: str,
    mm: float = 60.0,
    console: Console | None = None,
    fit: bool = True,
    timeout_s: float = 600.0,
) -> ExampleOutcome:
    """Import ``directory`` into the (empty, migrated) pool of ``engine`` and take a signed rain
    alert for ``city`` through the running service to dispatched orders at the WMS."""
    console = console or Console(quiet=True)
    now = wall_clock()
    yesterday = now.date() - dt.timedelta(days=1)
    for report in import_retailer(engine, directory, shift_to=yesterday):
        console.print(
            f"imported {report.rows:>6} {report.kind:<12} ({report.inserted} new, "
            f"{report.updated} updated)"
        )
    console.print(f"history moved to end {yesterday} (yesterday on the wall clock)")
    approver_key = create_approver_key(engine)
    if fit:
        fit_forecaster(engine, settings, now.date(), console)
    secret = settings.alert_secrets[ALERT_SENDER]
    with running_service(settings, engine) as url, httpx.Client(base_url=url, timeout=60) as client:
        console.print(f"service on {url}; posting a signed {mm:g} mm rain alert for {city}")
        accepted = post_rain_alert(client, secret, city, mm, now)
        run_id = accepted["run_id"]
        headers = {"x-api-key": approver_key}

        def finished() -> dict | None:
            run = client.get(f"/v1/runs/{run_id}", headers=headers).json()
            return run if run.get("status") in FINISHED else None

        with console.status("the alert_response assistant is planning…", spinner="dots"):
            run = _wait("the alert run", finished, timeout_s)
        if run["status"] == "failed":
            raise ExampleError(f"the alert run failed: {run.get('error') or run}")
        approved = approve_pending(client, run_id, approver_key)
        console.print(f"approved {approved} request(s) as {APPROVER!r}")
        orders = dispatched_orders(client, run_id, approver_key, timeout_s=60)
        final = client.get(f"/v1/runs/{run_id}", headers=headers).json()["status"]
    return ExampleOutcome(
        run_id=run_id,
        run_status=final,
        approved=approved,
        orders=orders,
        wms_references=[o.wms_reference for o in orders],
    )


def example_settings(database_url: str, data_dir: Path, directory: Path) -> Settings:
    """The retailer's settings: its pool, its policy file when it ships one, a fresh alert
    secret (never the published demo one) and the wall clock."""
    policy = directory / "policy.yaml"
    return get_settings().model_copy(
        update={
            "database_url": database_url,
            "data_dir": data_dir,
            "policy_file": policy if policy.is_file() else get_settings().policy_file,
            "alert_secrets": {ALERT_SENDER: secrets.token_urlsafe(24)},
            "demo": False,
            "clock": "wall",
        }
    )


def example_command(
    directory: Path = typer.Argument(Path("examples/chengdu"), help="The retailer's CSV folder."),
    db: Path = typer.Option(
        Path("var/example/pool.sqlite"), "--db", help="SQLite file to create afresh."
    ),
    city: str = typer.Option("成都", help="City the rain alert is for (English or Chinese)."),
    mm: float = typer.Option(60.0, help="Rain the alert forecasts over 24 h, mm."),
) -> None:
    """Import a retailer's CSV files into a fresh SQLite pool, fit the forecaster, send a signed
    rain alert on the wall clock, approve it and print the WMS references of the dispatched
    transfers."""
    console = Console()
    if not directory.is_dir():
        raise typer.BadParameter(f"{directory} is not a folder", param_hint="DIRECTORY")
    db = db.resolve()
    db.parent.mkdir(parents=True, exist_ok=True)
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)
    url = make_url(f"sqlite:///{db}").render_as_string(hide_password=False)
    data_dir = db.parent / "data"  # fitted models and the simulated systems' state: fresh too
    shutil.rmtree(data_dir, ignore_errors=True)
    settings = example_settings(url, data_dir, directory)
    engine = make_engine(url)
    schema.upgrade(engine)
    console.print(f"fresh pool {db}")
    try:
        outcome = run_example(directory, settings, engine, city=city, mm=mm, console=console)
    except ImportRejected as rejected:
        console.print(f"[red]rejected[/] {rejected}")
        raise typer.Exit(1) from rejected
    except ExampleError as error:
        console.print(f"[red]example failed:[/] {error}")
        raise typer.Exit(1) from error
    finally:
        engine.dispose()
    if not outcome.orders:
        console.print(f"[red]no transfer reached the WMS[/] (run {outcome.run_id})")
        raise typer.Exit(1)
    console.print(f"run {outcome.run_id}: {outcome.run_status}")
    for order in outcome.orders:
        console.print(
            f"  {order.order_id}  {order.source} → {order.dest}  {order.units} units  "
            f"WMS {order.wms_reference}"
        )
    console.print(f"WMS references: {' '.join(outcome.wms_references)}")


def register(app: typer.Typer) -> None:
    app.command("example")(example_command)
