"""The channel inventory service under load. One JSON line (issue 14 §4):

    .venv/bin/python benchmarks/channels.py                 # SQLite and PostgreSQL
    .venv/bin/python benchmarks/channels.py --no-postgres --skus 1000

Per backend, on a generated pool (``--stores`` stores entitled to the channel × ``--skus`` SKUs):

- **availability**: p50/p99 of one-SKU and batch-of-500 lookups, through the service
  (``layer: service``: the route's own calls after the key's check — the stores closed for
  today, then ``reservations.available_json``, whose one statement also says whether lapsed
  holds must be swept first — in a fresh session each) and through HTTP
  (``layer: http``: ``POST /v1/availability`` on a real ``stockpilot serve`` child process, one
  client, timed once the service's start-up jobs, the forecaster fits, are done), with
  ``server_cpu_ms``: the service process's CPU per request.
- **reservations per second**: ``--clients`` concurrent clients creating reservations (qty 1,
  random SKU and no location: the service picks the entitled location with the most ATP), each
  its own transaction, in-process and over HTTP.
- **batches** (``POST /v1/reservations/batch``): ``--batch-clients`` clients sending batches of
  ``--batch-sizes`` lines (qty 1, random SKUs), in-process and over HTTP; ``lines_per_s`` is
  reservations per second, ``statements_per_batch`` what one batch costs.
- **oversell**: ``--race-clients`` clients (64) race for the last ``--race-units`` units of one
  SKU at one store, over HTTP, with single calls (``race``) and with batches of two lines for the
  contested SKU each (``batch_race``); ``oversold`` counts units held beyond ATP (and the
  position's own ``reserved`` beyond ``on_hand − safety``). Any oversell fails the line
  (``"ok": false``, exit 1).
- **several processes** (PostgreSQL, ``--processes`` ≥ 2): one Python process is bound by its
  GIL, so the pool's ceiling is measured with ``--processes`` client processes each running the
  in-process single-call loop (``multi.service``), and ``--processes`` service processes behind
  the HTTP clients (``multi.http``, the clients spread over them).

Every figure carries ``load_1m``, the machine's 1-minute load average when it was taken: on a
shared machine the times say as much about the neighbours as about the service.

Targets (reported beside the numbers, not enforced except oversell): p99 ≤ 20 ms one SKU and
≤ 100 ms batch of 500 on SQLite; ≥ 1,000 reservations/s on PostgreSQL.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.auth import Role, create_api_key
from inventory import reservations, schema
from inventory.config import PROJECT_ROOT
from inventory.db import make_engine
from inventory.demo_world.vocabulary import demo_terms
from inventory.models import (
    Category,
    ChannelEntitlement,
    City,
    Location,
    Region,
    Sku,
    StockPosition,
    Style,
)
from inventory.pool_copy import create_postgres_database, drop_postgres_database
from inventory.reservations import ReservationError, ReservationRequest
from tools.route_order.pool import stores_not_shipping_online
from tools.route_order.settings import load_routing_settings

PG_ADMIN_URL = os.environ.get(
    "STOCKPILOT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
CHANNEL, KEY = "tmall", "sp-bench-channels-tmall-key"
#: A staff key, only to wait for the service's start-up jobs (``/v1/jobs``) before timing it.
ADMIN_KEY = "sp-bench-channels-admin-key"
RACE_SKU, RACE_STORE = "RACE-BLK-38", "RACE-S01"
BATCH_RACE_SKU = "RACE-BLK-39"  # the batch race's own last units (the single race used RACE_SKU)
ROUTING = load_routing_settings()
TARGETS = {
    "sqlite_single_p99_ms": 20.0,
    "sqlite_batch500_p99_ms": 100.0,
    "postgres_reservations_per_s": 1000.0,
    "oversold": 0,
}


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(p99 * 1000, 2),
    }


def _load() -> float:
    return round(os.getloadavg()[0], 1)


def sku_codes(skus: int) -> list[str]:
    return [f"BS{n // 10:04d}-BLK-{36 + n % 10}" for n in range(skus)]


# -- the pool -------------------------------------------------------------------------------------


def build_pool(engine: Engine, *, stores: int, skus: int, race_units: int) -> list[str]:
    """``stores`` Shanghai stores entitled to the channel, ``skus`` SKUs with stock at each, and
    the race SKU with exactly ``race_units`` sellable units at one more store."""
    schema.upgrade(engine)
    regions, cities, categories = demo_terms()
    rng = random.Random(7)
    codes = sku_codes(skus)
    with Session(engine) as session:
        session.add_all([Region.model_validate(r.model_dump()) for r in regions])
        session.flush()
        session.add_all([City.model_validate(c.model_dump()) for c in cities])
        session.add_all([Category.model_validate(c.model_dump()) for c in categories])
        session.flush()
        store_codes = [f"BSH-S{n:03d}" for n in range(stores)] + [RACE_STORE]
        for code in store_codes:
            session.add(
                Location(
                    code=code,
                    kind="store",
                    name_en=code,
                    name_zh=code,
                    city="Shanghai",
                    region="East",
                    lat=31.2,
                    lon=121.5,
                    tier="A",
                    ship_from_store=True,
                )
            )
        session.flush()
        session.add_all([ChannelEntitlement(location_code=c, channel=CHANNEL) for c in store_codes])
        styles = sorted({code.rsplit("-", 2)[0] for code in codes} | {"RACE"})
        for style in styles:
            session.add(
                Style(
                    code=style,
                    name_en=style,
                    name_zh=style,
                    category="rain_boots",
                    season="core",
                    price=299.0,
                    cost=120.0,
                    size_run=[str(s) for s in range(36, 46)],
                    core_sizes=[],
                    rain_sensitive=True,
                )
            )
        session.flush()
        for index, code in enumerate([*codes, RACE_SKU, BATCH_RACE_SKU]):
            style, colour, size = code.rsplit("-", 2)
            session.add(
                Sku(code=code, style_code=style, colour=colour, size=size, size_index=index % 10)
            )
        create_api_key(session, "bench-tmall", [Role.CHANNEL], KEY, channel=CHANNEL)
        create_api_key(session, "bench-admin", [Role.ADMIN], ADMIN_KEY)
        session.commit()
    rows = [
        {
            "location_code": store,
            "sku_code": code,
            "on_hand": rng.randint(0, 40),
            "safety": rng.choice([0, 0, 1, 2]),
        }
        for store in store_codes[:-1]
        for code in codes
    ]
    rows += [
        {"location_code": RACE_STORE, "sku_code": race, "on_hand": race_units + 1, "safety": 1}
        for race in (RACE_SKU, BATCH_RACE_SKU)
    ]
    table = StockPosition.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        for start in range(0, len(rows), 20_000):
            conn.execute(sa.insert(table), rows[start : start + 20_000])
    return codes


# -- in-process (the service layer) --------------------------------------------------------------


def _lookup(engine: Engine, skus: list[str]) -> None:
    """What ``/v1/availability`` does after the key's check: leave out the stores that cannot
    ship online now, then read ATP after entitlements (as the JSON the route answers with),
    giving lapsed holds back first when the same statement says some lapsed."""
    now = dt.datetime.now(dt.UTC)
    with Session(engine, expire_on_commit=False) as session:
        closed = sorted(stores_not_shipping_online(session, now, ROUTING))
        reservations.available_json(session, CHANNEL, skus, closed, now=now)


def service_availability(engine: Engine, codes: list[str], singles: int, batches: int) -> dict:
    rng = random.Random(1)
    for _ in range(20):  # warm the pool of connections and the statement cache
        _lookup(engine, [rng.choice(codes)])
    single, batch = [], []
    for _ in range(singles):
        sku = rng.choice(codes)
        started = time.perf_counter()
        _lookup(engine, [sku])
        single.append(time.perf_counter() - started)
    for _ in range(batches):
        skus = rng.sample(codes, min(500, len(codes)))
        started = time.perf_counter()
        _lookup(engine, skus)
        batch.append(time.perf_counter() - started)
    return {"single": _percentiles(single), "batch500": _percentiles(batch), "load_1m": _load()}


def _run_clients(clients: int, total: int, work) -> tuple[float, int, int]:  # type: ignore[no-untyped-def]
    """``total`` calls of ``work(i)`` over ``clients`` threads; (seconds, ok, refused)."""
    counter = iter(range(total))
    lock = threading.Lock()
    ok = refused = 0

    def loop() -> None:
        nonlocal ok, refused
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            good = work(i)
            with lock:
                ok += good
                refused += not good

    threads = [threading.Thread(target=loop) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, ok, refused


def service_reservations(engine: Engine, codes: list[str], clients: int, total: int) -> dict:
    rng = random.Random(2)
    picks = [rng.choice(codes) for _ in range(total)]
    run = uuid.uuid4().hex[:8]

    def reserve(i: int) -> bool:
        request = ReservationRequest(CHANNEL, picks[i], 1, f"svc-{run}-{i}", 900)
        with Session(engine, expire_on_commit=False) as session:
            try:
                reservations.create(session, request, actor="bench", now=dt.datetime.now(dt.UTC))
                session.commit()
                return True
            except ReservationError:
                session.rollback()
                return False

    with _Costs(engine) as costs:
        seconds, ok, refused = _run_clients(clients, total, reserve)
    return {
        "clients": clients,
        "created": ok,
        "refused": refused,
        "per_s": round(ok / seconds, 1),
        **costs.per(ok),
        "load_1m": _load(),
    }


def _lines(rng: random.Random, codes: list[str], run: str, start: int, size: int) -> list[dict]:
    return [
        {"sku": rng.choice(codes), "qty": 1, "idempotency_key": f"{run}-{start + n}"}
        for n in range(size)
    ]


def service_batches(
    engine: Engine, codes: list[str], clients: int, batches: int, size: int
) -> dict:
    """``batches`` batches of ``size`` lines over ``clients`` threads, each batch its own
    transaction (what ``POST /v1/reservations/batch`` does without HTTP)."""
    rng = random.Random(5 + size)
    run = f"svcb-{uuid.uuid4().hex[:8]}"
    bodies = [_lines(rng, codes, run, i * size, size) for i in range(batches)]
    held = [0]
    lock = threading.Lock()

    def send(i: int) -> bool:
        requests = [
            ReservationRequest(CHANNEL, line["sku"], 1, line["idempotency_key"], 900)
            for line in bodies[i]
        ]
        with Session(engine, expire_on_commit=False) as session:
            answers = reservations.create_batch(
                session, CHANNEL, requests, actor="bench", now=dt.datetime.now(dt.UTC)
            )
            session.commit()
        with lock:
            held[0] += sum(answer.outcome == "reserved" for answer in answers)
        return True

    with _Costs(engine) as costs:
        seconds, _, _ = _run_clients(clients, batches, send)
    per_line = costs.per(held[0])
    return {
        "clients": clients,
        "size": size,
        "batches": batches,
        "lines_reserved": held[0],
        "lines_per_s": round(held[0] / seconds, 1),
        "statements_per_batch": round(
            per_line["statements_per_reservation"] * held[0] / batches, 1
        ),
        "client_cpu_ms_per_line": per_line["client_cpu_ms_per_reservation"],
        "server_cpu_ms_per_line": per_line["server_cpu_ms_per_reservation"],
        "load_1m": _load(),
    }


class _Costs:
    """What each reservation cost, independent of how loaded the machine is: statements sent
    (cursor executions, BEGIN IMMEDIATE included on SQLite; plus the transaction's BEGIN and
    COMMIT on PostgreSQL, round trips of their own), CPU of this process, and CPU of the
    PostgreSQL backends serving it (read from /proc: the server runs on this machine)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.statements = self.commits = 0
        self.cpu_s = 0.0
        self.server: dict[int, float] = {}
        self.server_s: float | None = None

    def _count(self, *_args: object) -> None:
        self.statements += 1

    def _commit(self, *_args: object) -> None:
        self.commits += 1

    def _backends(self) -> dict[int, float]:
        if self.engine.dialect.name != "postgresql":
            return {}
        with self.engine.connect() as conn:
            pids = conn.execute(
                sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            ).scalars()
            used: dict[int, float] = {}
            for pid in pids:
                try:
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    return {}  # the server is elsewhere: no server CPU figure
                used[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return used

    def __enter__(self) -> _Costs:
        self.server = self._backends()
        sa.event.listen(self.engine, "before_cursor_execute", self._count)
        sa.event.listen(self.engine, "commit", self._commit)
        self.cpu_s = time.process_time()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.cpu_s = time.process_time() - self.cpu_s
        sa.event.remove(self.engine, "before_cursor_execute", self._count)
        sa.event.remove(self.engine, "commit", self._commit)
        after = self._backends()
        if after:
            self.server_s = sum(used - self.server.get(pid, 0.0) for pid, used in after.items())

    def per(self, done: int) -> dict[str, float | None]:
        done = max(done, 1)
        postgres = self.engine.dialect.name == "postgresql"
        statements = self.statements + (2 * self.commits if postgres else self.commits)
        return {
            "statements_per_reservation": round(statements / done, 2),
            "client_cpu_ms_per_reservation": round(self.cpu_s * 1000 / done, 3),
            "server_cpu_ms_per_reservation": (
                None if self.server_s is None else round(self.server_s * 1000 / done, 3)
            ),
        }


# -- over HTTP (a real service process) -----------------------------------------------------------


#: Where the HTTP service may listen (``--ports``; each stream of a shared machine has a range).
PORTS = range(8800, 8900)


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


class Service:
    def __init__(self, url: str, data_dir: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "PYTHONPATH": str(PROJECT_ROOT),
            "STOCKPILOT_DATA_DIR": str(data_dir),
            "STOCKPILOT_CLOCK": "wall",
            "STOCKPILOT_DEMO": "0",
        }
        command = [
            sys.executable,
            "-m",
            "stockpilot_cli.main",
            "serve",
            "--db",
            url,
            "--port",
            str(self.port),
            "--no-worker",
            "--log-level",
            "warning",
        ]
        self.log = open(data_dir / "service.log", "ab")  # noqa: SIM115 - closed in stop()
        self.child = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=self.log, stderr=self.log
        )
        deadline = time.monotonic() + 180
        while True:
            if self.child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the service did not start; see {data_dir / 'service.log'}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).json()["status"] == "ok":
                    break
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.2)
        self._wait_for_jobs(deadline)

    def _wait_for_jobs(self, deadline: float) -> None:
        """The service fits its forecasters in the background after start-up (importing sktime
        takes seconds of CPU in the same process): timing requests meanwhile measured that."""
        while time.monotonic() < deadline:
            jobs = httpx.get(
                f"{self.base}/v1/jobs", headers={"x-api-key": ADMIN_KEY}, timeout=10
            ).json()
            if all(job["status"] in ("succeeded", "failed") for job in jobs):
                return
            time.sleep(0.5)
        raise RuntimeError("the service's start-up jobs did not finish")

    def cpu_s(self) -> float:
        """CPU seconds the service process has used (user + system, from /proc)."""
        fields = Path(f"/proc/{self.child.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.child.send_signal(signal.SIGTERM)
        try:
            self.child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.child.kill()
        self.log.close()


def http_availability(service: Service, codes: list[str], singles: int, batches: int) -> dict:
    """``server_cpu_ms``: the service process's CPU per request, which load changes far less
    than the times."""
    rng = random.Random(3)
    single, batch = [], []
    with httpx.Client(base_url=service.base, headers={"x-api-key": KEY}, timeout=30) as http:
        for _ in range(20):
            http.post("/v1/availability", json={"skus": [rng.choice(codes)]}).raise_for_status()
        cpu = service.cpu_s()
        for _ in range(singles):
            body = {"skus": [rng.choice(codes)]}
            started = time.perf_counter()
            http.post("/v1/availability", json=body).raise_for_status()
            single.append(time.perf_counter() - started)
        single_cpu, cpu = service.cpu_s() - cpu, service.cpu_s()
        for _ in range(batches):
            body = {"skus": rng.sample(codes, min(500, len(codes)))}
            started = time.perf_counter()
            http.post("/v1/availability", json=body).raise_for_status()
            batch.append(time.perf_counter() - started)
        batch_cpu = service.cpu_s() - cpu
    return {
        "single": _percentiles(single) | {"server_cpu_ms": round(single_cpu * 1000 / singles, 3)},
        "batch500": _percentiles(batch) | {"server_cpu_ms": round(batch_cpu * 1000 / batches, 3)},
        "load_1m": _load(),
    }


def http_reservations(
    service: Service | list[Service], codes: list[str], clients: int, total: int
) -> dict:
    """Single calls over HTTP; with several services the client threads spread over them."""
    services = [service] if isinstance(service, Service) else service
    bases = [one.base for one in services]
    rng = random.Random(4)
    picks = [rng.choice(codes) for _ in range(total)]
    run = uuid.uuid4().hex[:8]
    local = threading.local()
    assigned = iter(range(clients * 4))

    def reserve(i: int) -> bool:
        if not hasattr(local, "http"):
            url = bases[next(assigned) % len(bases)]
            local.http = httpx.Client(base_url=url, headers={"x-api-key": KEY}, timeout=60)
        body = {"sku": picks[i], "qty": 1, "idempotency_key": f"http-{run}-{i}"}
        return local.http.post("/v1/reservations", json=body).status_code == 201

    cpu = sum(one.cpu_s() for one in services)
    seconds, ok, refused = _run_clients(clients, total, reserve)
    cpu = sum(one.cpu_s() for one in services) - cpu
    return {
        "clients": clients,
        "services": len(bases),
        "created": ok,
        "refused": refused,
        "per_s": round(ok / seconds, 1),
        "server_cpu_ms_per_reservation": round(cpu * 1000 / max(ok, 1), 3),
        "load_1m": _load(),
    }


def http_batches(base: str, codes: list[str], clients: int, batches: int, size: int) -> dict:
    rng = random.Random(6 + size)
    run = f"httpb-{uuid.uuid4().hex[:8]}"
    bodies = [_lines(rng, codes, run, i * size, size) for i in range(batches)]
    local = threading.local()
    held = [0]
    times: list[float] = []
    lock = threading.Lock()

    def send(i: int) -> bool:
        if not hasattr(local, "http"):
            local.http = httpx.Client(base_url=base, headers={"x-api-key": KEY}, timeout=120)
        started = time.perf_counter()
        answer = local.http.post("/v1/reservations/batch", json={"lines": bodies[i]})
        took = time.perf_counter() - started
        if answer.status_code != 200:
            return False
        with lock:
            held[0] += answer.json()["reserved"]
            times.append(took)
        return True

    seconds, ok, failed = _run_clients(clients, batches, send)
    return {
        "clients": clients,
        "size": size,
        "batches": ok,
        "failed": failed,
        "lines_reserved": held[0],
        "lines_per_s": round(held[0] / seconds, 1),
        "batch": _percentiles(times) if times else None,
        "load_1m": _load(),
    }


def http_batch_race(base: str, engine: Engine, clients: int, units: int) -> dict:
    """``clients`` batches at once, each with two lines (qty 1) for the last ``units`` units
    of the batch race SKU and one line for plentiful stock."""
    start = threading.Barrier(clients)
    lines_held: list[str] = []
    statuses: list[int] = []
    lock = threading.Lock()

    def racer(i: int) -> None:
        body = {
            "lines": [
                {"sku": BATCH_RACE_SKU, "qty": 1, "idempotency_key": f"brace-{i}-a"},
                {"sku": BATCH_RACE_SKU, "qty": 1, "idempotency_key": f"brace-{i}-b"},
                {"sku": "BS0000-BLK-36", "qty": 1, "idempotency_key": f"brace-{i}-c"},
            ]
        }
        with httpx.Client(base_url=base, headers={"x-api-key": KEY}, timeout=120) as http:
            start.wait()
            answer = http.post("/v1/reservations/batch", json=body)
        with lock:
            statuses.append(answer.status_code)
            if answer.status_code == 200:
                lines_held.extend(
                    line["reservation"]["id"]
                    for line in answer.json()["lines"]
                    if line["outcome"] == "reserved"
                    and line["reservation"]["sku"] == BATCH_RACE_SKU
                )

    held = _race(clients, racer, lambda: len(set(lines_held)))
    return {
        "clients": clients,
        "lines_per_batch_contested": 2,
        "units": units,
        "held": held,
        "batches_ok": statuses.count(200),
        "batches_other": len(statuses) - statuses.count(200),
    } | _race_outcome(engine, BATCH_RACE_SKU, held, units)


def http_race(base: str, engine: Engine, clients: int, units: int) -> dict:
    """``clients`` clients at once, each wanting one of the race SKU's last ``units`` units."""
    start = threading.Barrier(clients)
    answers: list[int] = []
    lock = threading.Lock()

    def racer(i: int) -> None:
        with httpx.Client(base_url=base, headers={"x-api-key": KEY}, timeout=60) as http:
            body = {"sku": RACE_SKU, "qty": 1, "idempotency_key": f"race-{i}"}
            start.wait()
            status = http.post("/v1/reservations", json=body).status_code
        with lock:
            answers.append(status)

    held = _race(clients, racer, lambda: answers.count(201))
    return {
        "clients": clients,
        "units": units,
        "held": held,
        "refused": answers.count(409) + answers.count(422),
        "other": len(answers) - held - answers.count(409) - answers.count(422),
    } | _race_outcome(engine, RACE_SKU, held, units)


def _race(clients: int, racer: Callable[[int], None], held: Callable[[], int]) -> int:
    """Run ``racer(i)`` for every client on its own thread (they start together on their own
    barrier) and, once all are done, count what they held."""
    threads = [threading.Thread(target=racer, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return held()


def _race_outcome(engine: Engine, sku: str, held: int, units: int) -> dict:
    """The raced position's ``reserved`` and the units oversold: held beyond the ``units`` on
    offer, or reserved beyond ``on_hand − safety``."""
    with Session(engine) as session:
        position = session.exec(
            sa.select(StockPosition).where(
                StockPosition.sku_code == sku, StockPosition.location_code == RACE_STORE
            )
        ).scalar_one()
    over = max(0, held - units) + max(0, position.reserved - (position.on_hand - position.safety))
    return {"reserved": position.reserved, "oversold": over}


# -- several processes (PostgreSQL) ---------------------------------------------------------------


def _worker(args: argparse.Namespace) -> int:
    """A client process of ``multi.service``: warm up, say ``ready``, wait for ``go`` on stdin,
    run the single-call loop, print its JSON."""
    engine = make_engine(args.worker_url)
    codes = sku_codes(args.skus)
    _lookup(engine, codes[:1])
    print("ready", flush=True)
    sys.stdin.readline()
    started = time.time()
    result = service_reservations(engine, codes, args.clients, args.worker_total)
    result |= {"started": started, "ended": time.time()}
    engine.dispose()
    print(json.dumps(result), flush=True)
    return 0


def multi_service(url: str, args: argparse.Namespace) -> dict:
    """``--processes`` client processes, each ``--clients`` threads of in-process single calls,
    started together: the pool's rate once one Python process's GIL is not the limit."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker-url", url]
    command += ["--skus", str(args.skus), "--clients", str(args.clients)]
    command += ["--worker-total", str(args.total)]
    children = [
        subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(args.processes)
    ]
    for child in children:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    results = [
        json.loads(child.communicate(timeout=900)[0].strip().splitlines()[-1]) for child in children
    ]
    seconds = max(r["ended"] for r in results) - min(r["started"] for r in results)
    created = sum(r["created"] for r in results)
    return {
        "processes": len(results),
        "clients_each": args.clients,
        "created": created,
        "refused": sum(r["refused"] for r in results),
        "per_s": round(created / seconds, 1),
        "per_process_per_s": [r["per_s"] for r in results],
        "client_cpu_ms_per_reservation": [r["client_cpu_ms_per_reservation"] for r in results],
        "load_1m": _load(),
    }


def multi_http(url: str, codes: list[str], args: argparse.Namespace, data_dir: Path) -> dict:
    """``--processes`` service processes on one database, the HTTP clients spread over them."""
    services: list[Service] = []
    try:
        for n in range(args.processes):
            (data_dir / f"svc{n}").mkdir(exist_ok=True)
            services.append(Service(url, data_dir / f"svc{n}"))
        return http_reservations(services, codes, args.clients, args.total)
    finally:
        for service in services:
            service.stop()


# -- one backend ----------------------------------------------------------------------------------


def run_backend(name: str, url: str, args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    engine = make_engine(url)
    sizes = [int(size) for size in args.batch_sizes.split(",")]
    try:
        started = time.perf_counter()
        codes = build_pool(engine, stores=args.stores, skus=args.skus, race_units=args.race_units)
        result: dict[str, Any] = {
            "positions": args.stores * args.skus,
            "build_s": round(time.perf_counter() - started, 1),
            "service": {
                "availability": service_availability(engine, codes, args.singles, args.batches),
                "reservations": service_reservations(engine, codes, args.clients, args.total),
                "batches": [
                    service_batches(
                        engine, codes, args.batch_clients, max(4, args.batch_lines // size), size
                    )
                    for size in sizes
                ],
            },
        }
        service = Service(url, data_dir)
        try:
            result["http"] = {
                "availability": http_availability(service, codes, args.singles, args.batches),
                "reservations": http_reservations(service, codes, args.clients, args.total),
                "batches": [
                    http_batches(
                        service.base,
                        codes,
                        args.batch_clients,
                        max(4, args.batch_lines // size),
                        size,
                    )
                    for size in sizes
                ],
                "race": http_race(service.base, engine, args.race_clients, args.race_units),
                "batch_race": http_batch_race(
                    service.base, engine, args.race_clients, args.race_units
                ),
            }
        finally:
            service.stop()
        if name == "postgres" and args.processes > 1:
            result["multi"] = {
                "service": multi_service(url, args),
                "http": multi_http(url, codes, args, data_dir),
            }
        return result
    finally:
        engine.dispose()


def _postgres_database() -> str | None:
    """A fresh database on the benchmark's server (the product's own maker), or None."""
    try:
        return create_postgres_database(PG_ADMIN_URL, prefix="sp_bench_channels")
    except Exception as error:
        print(f"PostgreSQL unavailable: {error}", file=sys.stderr)
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stores", type=int, default=40)
    parser.add_argument("--skus", type=int, default=2000)
    parser.add_argument("--singles", type=int, default=500, help="one-SKU lookups timed")
    parser.add_argument("--batches", type=int, default=60, help="batch-of-500 lookups timed")
    parser.add_argument("--clients", type=int, default=16, help="concurrent reserving clients")
    parser.add_argument("--total", type=int, default=2000, help="reservations per layer")
    parser.add_argument("--batch-sizes", default="50,500", help="lines per batch, comma-separated")
    parser.add_argument("--batch-clients", type=int, default=4, help="concurrent batch senders")
    parser.add_argument("--batch-lines", type=int, default=10_000, help="lines per batch size")
    parser.add_argument(
        "--processes", type=int, default=2, help="PostgreSQL: client / service processes (1: off)"
    )
    parser.add_argument("--worker-url", help=argparse.SUPPRESS)
    parser.add_argument("--worker-total", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--race-clients", type=int, default=64)
    parser.add_argument("--race-units", type=int, default=10)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--ports", default="8800-8899", help="port range for the HTTP service")
    args = parser.parse_args()
    if args.worker_url:
        return _worker(args)
    global PORTS
    low, high = (int(part) for part in args.ports.split("-"))
    PORTS = range(low, high + 1)

    line: dict[str, Any] = {
        "benchmark": "channels",
        "cpus": os.cpu_count(),
        "load_1m": round(os.getloadavg()[0], 1),
        "targets": TARGETS,
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "sqlite").mkdir()
        line["sqlite"] = run_backend(
            "sqlite", f"sqlite:///{root / 'sqlite' / 'pool.sqlite'}", args, root / "sqlite"
        )
        if not args.no_postgres and (url := _postgres_database()) is not None:
            (root / "postgres").mkdir()
            try:
                line["postgres"] = run_backend("postgres", url, args, root / "postgres")
            finally:
                drop_postgres_database(PG_ADMIN_URL, url)
    oversold = sum(
        line[b]["http"][race]["oversold"]
        for b in ("sqlite", "postgres")
        if b in line
        for race in ("race", "batch_race")
    )
    sqlite_http = line["sqlite"]["http"]["availability"]
    line["verdict"] = {
        "oversold": oversold,
        "sqlite_single_p99_ms": sqlite_http["single"]["p99_ms"],
        "sqlite_batch500_p99_ms": sqlite_http["batch500"]["p99_ms"],
        "sqlite_single_server_cpu_ms": sqlite_http["single"]["server_cpu_ms"],
        "postgres_reservations_per_s": (
            line["postgres"]["service"]["reservations"]["per_s"] if "postgres" in line else None
        ),
        "postgres_reservations_per_s_processes": (
            line["postgres"]["multi"]["service"]["per_s"]
            if "multi" in line.get("postgres", {})
            else None
        ),
        "postgres_batch_lines_per_s": (
            max(b["lines_per_s"] for b in line["postgres"]["service"]["batches"])
            if "postgres" in line
            else None
        ),
        "load_1m_end": _load(),
    }
    line["ok"] = oversold == 0
    print(json.dumps(line, ensure_ascii=False))
    return 0 if line["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
