"""First start of the demo (``make run`` from a fresh clone): one JSON line of milestones.

    .venv/bin/python benchmarks/first_start.py --port 8501            # to ready
    .venv/bin/python benchmarks/first_start.py --port 8501 --fits     # and until both fits end

Starts ``stockpilot serve --demo`` on a SQLite pool in a fresh temporary folder whose data dir
is empty too (no cached world template, no fitted models), exactly what a new clone has, and
polls the service. For each milestone it reports the wall time since the command started and
the CPU time the server had used by then (user + system, with children), plus the load average,
because on a shared machine the wall time says more about the neighbours than about the code:

- ``listening_s``: the first HTTP answer (``/healthz``, ``starting`` while the world builds);
- ``ready_s``: ``/healthz`` says ``ok`` (demo world built and copied, agents started);
- ``first_data_s``: a stock lookup on the demo world answered 200;
- ``fit_<level>_s`` (with ``--fits``): each forecaster fit job finished.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
ADMIN_KEY = "sp-demo-admin-key"  # the PUBLIC demo key (demo mode only)
VIEWER_KEY = "sp-demo-viewer-key"


def cpu_s(process: psutil.Process) -> float:
    """User + system seconds of the server and its children (live ones, and waited-for ones)."""
    times = process.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in process.children(recursive=True):
        try:
            child_times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += child_times.user + child_times.system
    return round(total, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument("--fits", action="store_true", help="also wait for both forecaster fits")
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="stockpilot-first-start-"))
    env = {
        **os.environ,
        "STOCKPILOT_DATA_DIR": str(folder / "var"),  # no cached template, no models
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    command = [
        str(ROOT / ".venv" / "bin" / "stockpilot"),
        "serve",
        "--demo",
        "--port",
        str(args.port),
        "--db",
        f"sqlite:///{folder / 'demo.sqlite'}",
        "--log-level",
        "warning",
    ]
    base = f"http://127.0.0.1:{args.port}"
    result: dict[str, Any] = {"load_start": os.getloadavg()[0]}
    started = time.perf_counter()
    server = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    process = psutil.Process(server.pid)

    def mark(name: str) -> None:
        result[f"{name}_s"] = round(time.perf_counter() - started, 1)
        result[f"{name}_cpu_s"] = cpu_s(process)

    try:
        with httpx.Client(base_url=base, timeout=30.0) as client:
            deadline = started + args.timeout
            while time.perf_counter() < deadline and server.poll() is None:
                try:
                    health = client.get("/healthz").json()
                except httpx.HTTPError:
                    time.sleep(0.1)
                    continue
                if "listening_s" not in result:
                    mark("listening")
                if health["status"] == "ok":
                    mark("ready")
                    break
                if health["status"] == "failed":
                    raise SystemExit(f"start-up failed: {health['message']}")
                time.sleep(0.2)
            else:
                raise SystemExit(f"not ready after {args.timeout} s (exit {server.poll()})")
            answer = client.get(
                "/v1/stock", params={"city": "Shanghai"}, headers={"x-api-key": VIEWER_KEY}
            )
            answer.raise_for_status()
            mark("first_data")
            while args.fits and time.perf_counter() < deadline:
                jobs = client.get("/v1/jobs", headers={"x-api-key": ADMIN_KEY}).json()
                fits = [j for j in jobs if j["kind"] == "forecast_fit"]
                for job in fits:
                    level = job["result"]["level"] if job.get("result") else None
                    if job["status"] == "succeeded" and level and f"fit_{level}_s" not in result:
                        mark(f"fit_{level}")
                if fits and all(j["status"] in ("succeeded", "failed") for j in fits):
                    break
                time.sleep(1.0)
    finally:
        result["load_end"] = os.getloadavg()[0]
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
