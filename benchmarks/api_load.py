"""Stock lookup vs a trivial endpoint of the same app, under the same concurrent load.

    .venv/bin/python benchmarks/api_load.py                    # 16 connections, 10 s each
    .venv/bin/python benchmarks/api_load.py --seconds 3        # quick

The server (uvicorn, one process, the real ``create_app`` on a private copy of the demo world)
runs in a child process; the load comes from this process over loopback with an asyncio httpx
client keeping ``--concurrency`` requests in flight, alternating one-second windows between
the two endpoints so that other load on the machine falls on both alike. The lookup is
``GET /v1/stock`` for one SKU at one location (the question a store asks most), drawn at random
from real positions, with an API key; the trivial endpoint is ``GET /healthz``. Prints one JSON
line; targets: lookup p99 ≤ 50 ms and lookup throughput ≥ 40 % of the trivial endpoint's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

P99_TARGET_MS = 50.0
RATIO_TARGET = 0.40
API_KEY = "sp-demo-viewer-key"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(db_path: Path, port: int) -> None:
    """The child process: the app as ``stockpilot serve`` builds it, without the worker."""
    import uvicorn

    from api.app import create_app
    from api.auth import seed_demo_keys
    from inventory.config import Settings
    from inventory.db import make_engine

    settings = Settings(  # the demo world, in demo mode (its clock, its keys)
        database_url=f"sqlite:///{db_path}", data_dir=db_path.parent, demo=True
    )
    engine = make_engine(settings.database_url)
    seed_demo_keys(engine)
    app = create_app(settings, engine=engine)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _world_copy(directory: Path) -> Path:
    from inventory.demo_world import WorldSpec, copy_world, world_template

    return copy_world(world_template(WorldSpec()), directory / "pool.sqlite")


def _lookup_targets(db_path: Path, count: int = 500) -> list[tuple[str, str]]:
    import sqlite3

    with sqlite3.connect(db_path) as conn:
        rows = conn.execute(
            "SELECT location_code, sku_code FROM stock_position WHERE on_hand > 0 "
            "ORDER BY location_code, sku_code"
        ).fetchall()
    random.Random(7).shuffle(rows)
    return [(loc, sku) for loc, sku in rows[:count]]


class Tally:
    """Latencies and errors of one endpoint, summed over the interleaved windows."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0
        self.busy_s = 0.0

    def summary(self) -> dict[str, float]:
        ordered = sorted(self.latencies)

        def pct(q: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

        return {
            "rps": round(len(ordered) / self.busy_s, 1) if self.busy_s else 0.0,
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "requests": len(ordered),
            "errors": self.errors,
        }


async def _window(
    client: httpx.AsyncClient, make_path, seconds: float, concurrency: int, tally: Tally
) -> None:
    deadline = time.perf_counter() + seconds

    async def one_connection() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            response = await client.get(make_path())
            tally.latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                tally.errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(one_connection() for _ in range(concurrency)))
    tally.busy_s += time.perf_counter() - started


async def _load(
    base: str, endpoints: dict[str, object], seconds: float, concurrency: int, window_s: float
) -> dict[str, dict[str, float]]:
    """Alternate short windows between the endpoints, so load from other processes on the
    machine falls on both alike."""
    tallies = {name: Tally() for name in endpoints}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"x-api-key": API_KEY}
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=30
    ) as client:
        for make_path in endpoints.values():  # warm up connections and caches
            for _ in range(concurrency * 2):
                await client.get(make_path())  # type: ignore[operator]
        rounds = max(1, round(seconds / window_s))
        for _ in range(rounds):
            for name, make_path in endpoints.items():
                await _window(client, make_path, window_s, concurrency, tallies[name])
    return {name: tally.summary() for name, tally in tallies.items()}


def _wait_until_up(base: str, server: subprocess.Popen, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not come up")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="Load per endpoint.")
    parser.add_argument("--concurrency", type=int, default=16, help="Requests in flight.")
    parser.add_argument("--window", type=float, default=1.0, help="Seconds per alternating window.")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return

    with tempfile.TemporaryDirectory(prefix="api-load-") as tmp:
        db_path = _world_copy(Path(tmp))
        targets = _lookup_targets(db_path)
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(db_path), "--port", str(port)],
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            _wait_until_up(base, server)
            rng = random.Random(11)

            def lookup_path() -> str:
                location, sku = rng.choice(targets)
                return f"/v1/stock?location={location}&sku={sku}"

            results = asyncio.run(
                _load(
                    base,
                    {"trivial": lambda: "/healthz", "lookup": lookup_path},
                    args.seconds,
                    args.concurrency,
                    args.window,
                )
            )
            trivial, lookup = results["trivial"], results["lookup"]
        finally:
            server.terminate()
            server.wait(timeout=30)

    ratio = round(lookup["rps"] / trivial["rps"], 3) if trivial["rps"] else 0.0
    print(
        json.dumps(
            {
                "benchmark": "api_load",
                "concurrency": args.concurrency,
                "seconds_per_endpoint": args.seconds,
                "lookup_requests": lookup["requests"],
                "trivial_requests": trivial["requests"],
                "lookup_rps": lookup["rps"],
                "trivial_rps": trivial["rps"],
                "throughput_ratio": ratio,
                "lookup_p50_ms": lookup["p50_ms"],
                "lookup_p99_ms": lookup["p99_ms"],
                "trivial_p50_ms": trivial["p50_ms"],
                "trivial_p99_ms": trivial["p99_ms"],
                "lookup_errors": lookup["errors"],
                "trivial_errors": trivial["errors"],
                "cpu_count": os.cpu_count(),
                "p99_target_ms": P99_TARGET_MS,
                "ratio_target": RATIO_TARGET,
                "meets_targets": lookup["p99_ms"] <= P99_TARGET_MS and ratio >= RATIO_TARGET,
            }
        )
    )


if __name__ == "__main__":
    main()
