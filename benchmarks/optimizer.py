"""Benchmark of plan_transfers' solver core: speed at network scale, quality against the full
MILP on a small instance and against the greedy baseline. Prints one JSON line.

    .venv/bin/python benchmarks/optimizer.py                     # 500 × 5,000 and 50 × 500
    .venv/bin/python benchmarks/optimizer.py --stores 100 --skus 1000 \
        --small-stores 20 --small-skus 200
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

from tools.plan_transfers.eligibility import usable_lanes
from tools.plan_transfers.exact import solve_exact
from tools.plan_transfers.models import TransferConstraints
from tools.plan_transfers.network import build_network, lane_matrix
from tools.plan_transfers.shipments import apply_shipment_rules, plan_objective
from tools.plan_transfers.solver import solve
from tools.plan_transfers.synthetic import generate


def all_constraints(pack: int) -> TransferConstraints:
    """Every rule switched on, at values an ops team might set."""
    return TransferConstraints(
        protect_source_forecast=True,
        keep_size_run=True,
        min_consecutive_core_sizes=3,
        pack_multiple=pack,
        allowed_lanes="region",
        max_shipments_per_source=10,
        max_shipments_per_dest=5,
        no_reship_days=7,
        min_value_per_shipment=200.0,
        max_total_cost=None,
        respect_entitlements=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stores", type=int, default=500)
    parser.add_argument("--skus", type=int, default=5000)
    parser.add_argument("--small-stores", type=int, default=50)
    parser.add_argument("--small-skus", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--window", type=int, default=3)
    parser.add_argument("--pack", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=15.0)
    parser.add_argument("--milp-time-limit", type=float, default=300.0)
    args = parser.parse_args()
    constraints = all_constraints(args.pack)

    big = generate(
        stores=args.stores,
        skus=args.skus,
        seed=args.seed,
        window_days=args.window,
        constraints=constraints,
    )
    started = time.perf_counter()
    plan = solve(big, method="auto", time_limit_s=args.time_limit)
    wall = time.perf_counter() - started
    greedy = solve(big, method="greedy", time_limit_s=600)
    # The total cost cap, set from the plan just made, so it binds: 80 % of what it spent.
    cost = sum(s.cost for s in plan.shipments)
    capped = generate(
        stores=args.stores,
        skus=args.skus,
        seed=args.seed,
        window_days=args.window,
        constraints=constraints.model_copy(update={"max_total_cost": 0.8 * cost}),
    )
    started = time.perf_counter()
    capped_plan = solve(capped, method="auto", time_limit_s=args.time_limit)
    capped_wall = time.perf_counter() - started

    small = generate(
        stores=args.small_stores,
        skus=args.small_skus,
        seed=args.seed,
        window_days=args.window,
        constraints=constraints,
    )
    small_plan = solve(small, method="auto", time_limit_s=args.time_limit)
    small_greedy = solve(small, method="greedy")
    network = build_network(small, max_sources_per_dest=1 << 30)
    started = time.perf_counter()
    exact = solve_exact(small, network, time_limit_s=args.milp_time_limit)
    milp_wall = time.perf_counter() - started
    lane_of = lane_matrix(small, usable_lanes(small))
    exact_value = plan_objective(apply_shipment_rules(small, exact.moves, lane_of).shipments)

    print(
        json.dumps(
            {
                "benchmark": "plan_transfers",
                "stores": args.stores,
                "skus": args.skus,
                "seed": args.seed,
                "window_days": args.window,
                "pack_multiple": args.pack,
                "wall_s": round(wall, 3),
                "method": plan.method,
                "notes": plan.notes,
                "shipments": len(plan.shipments),
                "units": plan.units,
                "objective": round(plan.objective, 2),
                "greedy_objective": round(greedy.objective, 2),
                "greedy_wall_s": round(greedy.wall_s, 3),
                "value_ratio_vs_greedy": round(plan.objective / max(greedy.objective, 1e-9), 4),
                "cost_capped_wall_s": round(capped_wall, 3),
                "cost_capped_objective": round(capped_plan.objective, 2),
                "small_stores": args.small_stores,
                "small_skus": args.small_skus,
                "small_objective": round(small_plan.objective, 2),
                "small_value_ratio_vs_greedy": round(
                    small_plan.objective / max(small_greedy.objective, 1e-9), 4
                ),
                "full_milp_objective": round(exact_value, 2),
                "full_milp_status": exact.status,
                "full_milp_wall_s": round(milp_wall, 2),
                "full_milp_dual_bound_no_min_value": round(exact.dual_bound, 2),
                "gap_to_full_lp": round(1.0 - small_plan.objective / max(exact_value, 1e-9), 5),
                "gap_to_milp_bound": round(
                    1.0 - small_plan.objective / max(exact.dual_bound, 1e-9), 5
                ),
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
            }
        )
    )


if __name__ == "__main__":
    main()
