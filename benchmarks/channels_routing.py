"""Benchmark of order routing on a day of the demo world's online orders. Prints one JSON line.

The same seeded stream of orders (from the world's own online demand) is replayed on three
private copies of one world: routing with ship-from-store, routing without it, and the
"always ship from the regional DC" peer (``evals/routing_replay.py``). Every order first goes
to the simulated OMS (in process) for its reference. Reported: routing placements per second
(route + reserve + commit, one order at a time on SQLite), dry-run routing decisions per second,
and per peer the share shipped from stores, delivery cost, promised-time hit rate, lost online
sales and store stock turns, with routing against the DC-only peer. Then each peer's parcels
are sent to the simulated OMS by the executor's dispatcher and the OMS's noisy events are
recorded as its webhooks would be (``evals.routing_realised``): ``realised`` reports freight by
the courier's cost events against the planned freight, the realised lead time and on-time share,
short picks and holds left open (``--planned-only`` skips it).

    .venv/bin/python benchmarks/channels_routing.py                  # 40 stores × 80 styles
    .venv/bin/python benchmarks/channels_routing.py --network city   # a DC in every city
    .venv/bin/python benchmarks/channels_routing.py --stores 20 --styles 40 --seed 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from connectors.oms import OmsClient
from connectors.simulated.app import create_app as simulated_systems
from evals.order_stream import day_of_orders
from evals.routing_realised import as_dict as realised_dict
from evals.routing_realised import realise
from evals.routing_replay import PEERS, as_dict, compare, prepare_world, replay
from inventory.clock import read_world_clock
from inventory.demo_world import WorldSpec, world_template
from tools.context import ToolContext
from tools.route_order.models import OrderLineInput, RouteOrderInput
from tools.route_order.settings import load_routing_settings
from tools.route_order.tool import route_order


def dry_run_rate(engine, orders, now, limit: int = 200) -> float:
    """Routing decisions per second without writing (the ``route_order`` tool)."""
    ctx = ToolContext(engine=engine, now=now)
    sample = orders[:limit]
    started = time.perf_counter()
    for order in sample:
        route_order(
            ctx,
            RouteOrderInput(
                lines=[OrderLineInput(sku=sku, qty=qty) for sku, qty in order.lines],
                destination_city=order.destination_city,
                promise_hours=order.promise_hours,
            ),
        )
    return round(len(sample) / (time.perf_counter() - started), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=40)
    parser.add_argument("--styles", type=int, default=80)
    parser.add_argument("--seed", type=int, default=7, help="World and order-stream seed.")
    parser.add_argument("--history-days", type=int, default=120)
    parser.add_argument(
        "--routing-file", type=Path, default=None, help="Routing policy YAML (shipped default)."
    )
    parser.add_argument(
        "--network",
        choices=["regional", "city"],
        default="regional",
        help="regional: three hub DCs serve the five cities (evals.routing_replay.REGIONAL_DCS); "
        "city: the demo world's DC at the centre of every city.",
    )
    parser.add_argument(
        "--planned-only", action="store_true", help="Skip sending the parcels to the OMS."
    )
    args = parser.parse_args()
    settings = load_routing_settings(args.routing_file)
    spec = WorldSpec(
        seed=args.seed,
        stores=args.stores,
        styles=args.styles,
        history_days=args.history_days,
        future_days=7,
    )
    template = world_template(spec)
    results = {}
    realised: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp, TestClient(simulated_systems()) as sim:
        oms = OmsClient("http://simulated", client=sim)
        dry = None
        for name in PEERS:
            engine = prepare_world(template, Path(tmp), name, network=args.network)
            now = read_world_clock(engine)
            orders = day_of_orders(engine, now, seed=args.seed)
            if dry is None:
                dry = dry_run_rate(engine, orders, now)
            results[name] = replay(engine, orders, name, settings=settings, oms=oms)
            if not args.planned_only:
                end = max(order.placed_at for order in orders) + timedelta(hours=1)
                state = sim.app.state.systems  # type: ignore[attr-defined]
                realised[name] = realised_dict(realise(engine, sim, state, settings, now=end))
            engine.dispose()
        oms_orders = len(oms.list_online_orders())
    line = {
        "benchmark": "channels_routing",
        "world": {"stores": args.stores, "styles": args.styles, "seed": args.seed},
        "routing_file": str(args.routing_file or "default"),
        "network": args.network,
        "day": str(now.date()),
        "orders": results["ship_from_store"].orders,
        "oms_orders_received": oms_orders,
        "placements_per_s": results["ship_from_store"].placements_per_s,
        "dry_run_decisions_per_s": dry,
        "vs_regional_dc": compare(results),
        "peers": {name: as_dict(result) for name, result in results.items()},
        "realised": realised,
        "machine": {
            "cpus": os.cpu_count(),
            "load_1m": round(os.getloadavg()[0], 1),
            "python": platform.python_version(),
        },
    }
    print(json.dumps(line))


if __name__ == "__main__":
    main()
