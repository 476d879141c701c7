"""Alert → approval-ready plan latency: one JSON line with p50/p95 and each node's share.

    .venv/bin/python benchmarks/alert_latency.py               # 20 runs, Shanghai, 60 mm / 24 h
    .venv/bin/python benchmarks/alert_latency.py --runs 5      # quick

The demo world (40 stores, 80 styles: Shanghai has ≈10 stores) is copied afresh for every run,
to the same path under var/bench/, so no run sees another's orders. Offline planner, SQLite pool,
SQLite checkpointer beside it, in-process simulated systems.

``p50_s`` / ``p95_s``: from the alert's arrival to a plan ready for approval (the policy gate has
judged every proposal: auto-approved ones are reserved and queued, the rest await a human).
``end_p50_s`` / ``end_p95_s``: to the end of the run or the interrupt, dispatch included. The
first run of the process, which loads the forecast models (fitting them first, as the service's
start-up job would, when none is stored), is reported as ``cold_s``.

``dry_forecast_*``: the plan's second forecast, the same series with no rain (an alert verifies
with p < 1, so every move is valued over rain and dry), made inside the plan node: its mean and
p95 seconds, its share of the time to a ready plan, and the p95 to a ready plan without it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agents.graphs.alert_response import AlertPayload
from agents.llm.offline import OfflinePlanner
from agents.persistence import open_checkpointer
from agents.policy import load_policy
from agents.registry import build_graph
from agents.runs import run_graph
from agents.runtime import AgentRuntime, world_clock
from connectors.base import ConnectorSet
from inventory.config import PROJECT_ROOT, Settings
from inventory.db import make_engine
from inventory.demo_world import WorldSpec, world_template
from tools.forecast_demand.models import ForecastInput
from tools.forecast_demand.tool import ensure_model
from tools.plan_transfers import tool as plan_tool


def one_run(template: Path, workdir: Path, index: int, alert: AlertPayload) -> dict[str, Any]:
    # The same path every run: the stored forecast model is keyed on the pool's URL, and a fresh
    # copy keeps one run's orders and reservations out of the next.
    pool = workdir / "pool.sqlite"
    for leftover in workdir.glob("pool*"):
        leftover.unlink()
    shutil.copy(template, pool)
    url = f"sqlite:///{pool}"
    engine = make_engine(url)
    settings = Settings(database_url=url, clock="world")
    node_s: dict[str, float] = defaultdict(float)
    with ConnectorSet.simulated() as connectors, open_checkpointer(settings) as saver:
        clock = world_clock(engine)
        runtime = AgentRuntime(
            engine=engine,
            settings=settings,
            llm=OfflinePlanner(clock),
            connectors=connectors,
            clock=clock,
            policy=load_policy(),
        )
        if index == 0:  # the service fits its forecasters as a job before alerts arrive
            for level in ("sku", "style"):
                ensure_model(runtime.tool_context(), level)
        graph = build_graph("alert_response", runtime, saver)
        dry_s: list[float] = []
        build_problem = plan_tool.build_problem

        def timed_build(ctx: Any, request: Any, forecast: Any) -> Any:
            def timed_forecast(ctx: Any, asked: ForecastInput) -> Any:
                started = time.perf_counter()
                try:
                    return forecast(ctx, asked)
                finally:
                    if not any(r.precipitation_mm_per_day > 0 for r in asked.rain):
                        dry_s.append(time.perf_counter() - started)

            return build_problem(ctx, request, timed_forecast)

        plan_tool.build_problem = timed_build  # the plan's forecasts, however they are made
        start = time.perf_counter()
        mark = [start]
        ready: list[float] = []

        def on_update(chunk: dict[str, Any]) -> None:
            now = time.perf_counter()
            for node in chunk:
                node_s[node] += now - mark[0]
                if node == "gate" or (node == "report" and not ready):
                    ready.append(now - start)
            mark[0] = now

        try:
            result = run_graph(
                runtime,
                graph,
                assistant_id="alert_response",
                thread_id=f"bench-{index}",
                payload={"alert": alert.model_dump(mode="json")},
                trigger="eval",
                on_update=on_update,
            )
        finally:
            plan_tool.build_problem = build_problem
        total = time.perf_counter() - start
    engine.dispose()
    values = result.values
    outcomes = values.get("outcomes") or {}
    return {
        "ready_s": ready[0] if ready else total,
        "total_s": total,
        "dry_forecast_s": sum(dry_s),
        "node_s": dict(node_s),
        "stores": len((values.get("scope") or {}).get("stores", [])),
        "skus": (values.get("scope") or {}).get("skus", 0),
        "proposals": len(values.get("proposals") or []),
        "pending": sum(1 for o in outcomes.values() if o.get("status") == "pending"),
        "auto_sent": sum(1 for o in outcomes.values() if o.get("decision") == "auto_approved"),
        "status": str(result.status),
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low, high = int(rank), min(int(rank) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--city", default="Shanghai")
    parser.add_argument("--mm", type=float, default=60.0)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--stores", type=int, default=40, help="Stores in the whole world.")
    parser.add_argument("--styles", type=int, default=80)
    parser.add_argument("--history-days", type=int, default=730)
    parser.add_argument("--workdir", default=str(PROJECT_ROOT / "var" / "bench" / "alert"))
    args = parser.parse_args()

    spec = WorldSpec(stores=args.stores, styles=args.styles, history_days=args.history_days)
    template = world_template(spec)
    alert = AlertPayload(type="rain", city=args.city, mm=args.mm, hours=args.hours)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cold = one_run(template, workdir, 0, alert)
    runs = [one_run(template, workdir, i, alert) for i in range(1, args.runs + 1)]
    ready = [r["ready_s"] for r in runs]
    totals = [r["total_s"] for r in runs]
    dry = [r["dry_forecast_s"] for r in runs]
    node_total: dict[str, float] = defaultdict(float)
    for run in runs:
        for node, seconds in run["node_s"].items():
            node_total[node] += seconds
    spent = sum(node_total.values()) or 1.0
    last = runs[-1]
    print(
        json.dumps(
            {
                "benchmark": "alert_latency",
                "p50_s": round(statistics.median(ready), 4),
                "p95_s": round(percentile(ready, 0.95), 4),
                "mean_s": round(statistics.fmean(ready), 4),
                "end_p50_s": round(statistics.median(totals), 4),
                "end_p95_s": round(percentile(totals, 0.95), 4),
                "cold_s": round(cold["total_s"], 4),
                "dry_forecast_mean_s": round(statistics.fmean(dry), 4),
                "dry_forecast_p95_s": round(percentile(dry, 0.95), 4),
                "dry_forecast_share": round(sum(dry) / (sum(ready) or 1.0), 4),
                "p95_without_dry_forecast_s": round(
                    percentile([r - d for r, d in zip(ready, dry, strict=True)], 0.95), 4
                ),
                "target_p95_s": 2.0,
                "runs": len(runs),
                "city": args.city,
                "mm": args.mm,
                "hours": args.hours,
                "stores": last["stores"],
                "skus": last["skus"],
                "proposals": last["proposals"],
                "pending_approvals": last["pending"],
                "auto_approved": last["auto_sent"],
                "end_status": last["status"],
                "node_share": {k: round(v / spent, 4) for k, v in sorted(node_total.items())},
                "node_mean_s": {k: round(v / len(runs), 4) for k, v in sorted(node_total.items())},
                "planner": "offline",
                "database": "sqlite",
                "world": {
                    "stores": args.stores,
                    "styles": args.styles,
                    "history_days": args.history_days,
                },
            }
        )
    )


if __name__ == "__main__":
    main()
