"""The offline eval suite against its budget (issue 6: ≤ 60 s of CPU on 2 cores): one JSON line.

    .venv/bin/python benchmarks/eval_suite.py                  # every shipped scenario
    .venv/bin/python benchmarks/eval_suite.py --select rain    # a subset, to check it works

The budget is on CPU time: trials run one at a time with native threads capped at one, so CPU
time is what the suite costs on an idle 2-core machine, while wall time on a shared box also
counts other people's work. Templates and fitted forecasters are cached under var/worlds; a cold
cache (a fresh clone) builds them first and is allowed twice the budget. The pass/fail of the
scenarios themselves is tested in tests/evals/test_offline_suite.py, without any budget.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evals.runner import RunOptions, run_suite
from evals.scenario import load_scenarios
from evals.world import cache_is_warm

SCENARIOS = Path(__file__).resolve().parent.parent / "evals" / "scenarios"
BUDGET_CPU_S = 60.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--select", default="", help="Only scenarios whose id contains this.")
    args = parser.parse_args()
    scenarios = [s for s in load_scenarios(SCENARIOS) if args.select in s.id]
    warm = all(cache_is_warm(s.world, s.clock) for s in scenarios)
    with tempfile.TemporaryDirectory(prefix="eval-bench-") as workdir:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        result = run_suite(scenarios, RunOptions(workdir=Path(workdir), llm="auto"))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    budget = BUDGET_CPU_S if warm else 2 * BUDGET_CPU_S
    print(
        json.dumps(
            {
                "benchmark": "eval_suite",
                "scenarios": len(scenarios),
                # Scenarios per demo-world seed (evals/README.md "World seeds"): each seed's
                # worlds are templates and fits of their own, so a cold cache costs per seed.
                "world_seeds": dict(sorted(Counter(s.world.seed for s in scenarios).items())),
                "failed": sorted(s.id for s in result.failed),
                "cpu_s": round(cpu, 1),
                "wall_s": round(wall, 1),
                "cache_warm": warm,
                "budget_cpu_s": budget,
                "within_budget": cpu <= budget,
            }
        )
    )


if __name__ == "__main__":
    main()
