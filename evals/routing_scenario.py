"""The order-routing scenario: a day of online orders replayed against its peers, judged, reported.

A scenario file (``evals/routing_scenarios/*.yaml``) names the world, the order-stream seed and
the floors; ``run`` replays the peers of ``evals.routing_replay`` on private copies of the
world and writes a JSON and a Markdown report. These scenarios sit beside the agent scenarios
(``evals/scenarios``) because they replay the order stream, not a chat or an alert.

    .venv/bin/python -m evals.routing_scenario evals/routing_scenarios/online-day.yaml \
        --report reports/
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import yaml
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, Field

from connectors.oms import OmsClient
from connectors.simulated.app import create_app as simulated_systems
from evals.order_stream import day_of_orders
from evals.routing_replay import (
    PEERS,
    Network,
    PeerResult,
    as_dict,
    compare,
    prepare_world,
    replay,
)
from inventory.clock import read_world_clock
from inventory.demo_world import WorldSpec, world_template


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoutingExpect(_Strict):
    lost_units_at_most_regional_dc: bool = True
    #: Routing's delivery cost (all orders it shipped, more than the DC-only peer's when the
    #: DC lost some) below the DC-only peer's.
    delivery_cost_below_regional_dc: bool = False
    store_walkin_lost_at_most: int | None = Field(default=0, ge=0)
    on_time_rate_at_least: float | None = Field(default=None, ge=0, le=1)
    report_only: list[str] = Field(default_factory=list)


class RoutingScenario(_Strict):
    id: str
    purpose: str = ""
    world: dict = Field(default_factory=dict, description="WorldSpec fields.")
    seed: int = 7
    #: city: the demo world's DC in every city; regional: hub DCs serving several cities
    #: (``evals.routing_replay.REGIONAL_DCS``).
    network: Network = "city"
    expect: RoutingExpect = RoutingExpect()

    @classmethod
    def load(cls, path: Path) -> RoutingScenario:
        return cls.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def judge(scenario: RoutingScenario, results: dict[str, PeerResult]) -> list[str]:
    """Failed expectations, each said in a sentence (empty: the scenario passed)."""
    best, dc = results["ship_from_store"], results["regional_dc"]
    failures = []
    expect = scenario.expect
    if expect.lost_units_at_most_regional_dc and best.lost_units > dc.lost_units:
        failures.append(
            f"routing lost {best.lost_units} online units, the DC-only peer {dc.lost_units}"
        )
    if expect.delivery_cost_below_regional_dc and best.delivery_cost >= dc.delivery_cost:
        failures.append(
            f"routing's delivery cost ¥{best.delivery_cost:,.2f} is not below the DC-only "
            f"peer's ¥{dc.delivery_cost:,.2f}"
        )
    if (
        expect.store_walkin_lost_at_most is not None
        and best.store_walkin_lost > expect.store_walkin_lost_at_most
    ):
        failures.append(f"stores lost {best.store_walkin_lost} walk-in sales to online orders")
    if (
        expect.on_time_rate_at_least is not None
        and best.on_time_rate < expect.on_time_rate_at_least
    ):
        failures.append(
            f"on-time rate {best.on_time_rate:.1%} < {expect.on_time_rate_at_least:.0%}"
        )
    return failures


def run(scenario: RoutingScenario, *, template: Path | None = None) -> dict[str, object]:
    template = template or world_template(WorldSpec(seed=scenario.seed, **scenario.world))
    results: dict[str, PeerResult] = {}
    with tempfile.TemporaryDirectory() as tmp, TestClient(simulated_systems()) as sim:
        oms = OmsClient("http://simulated", client=sim)
        for name in PEERS:
            engine = prepare_world(template, Path(tmp), name, network=scenario.network)
            now = read_world_clock(engine)
            orders = day_of_orders(engine, now, seed=scenario.seed)
            results[name] = replay(engine, orders, name, oms=oms)
            engine.dispose()
    failures = judge(scenario, results)
    return {
        "scenario": scenario.id,
        "network": scenario.network,
        "passed": not failures,
        "failures": failures,
        "day": str(now.date()),
        "summary": compare(results),
        "peers": {name: as_dict(result) for name, result in results.items()},
    }


def markdown(report: dict) -> str:
    peers = report["peers"]
    columns = [
        ("orders", "orders"),
        ("routed", "routed"),
        ("share_from_stores", "share from stores"),
        ("delivery_cost", "delivery ¥"),
        ("cost_per_shipped_order", "¥ / order"),
        ("on_time_rate", "on time"),
        ("lost_units", "lost units"),
        ("lost_value", "lost ¥"),
        ("store_turns", "store turns (yr)"),
        ("store_walkin_lost", "walk-in lost"),
    ]
    lines = [
        f"# {report['scenario']} ({report['day']}): {'PASS' if report['passed'] else 'FAIL'}",
        "",
        "| peer | " + " | ".join(title for _, title in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for name, result in peers.items():
        lines.append(f"| {name} | " + " | ".join(str(result[key]) for key, _ in columns) + " |")
    lines += ["", *[f"- {failure}" for failure in report["failures"]]]
    lines += ["", "```json", json.dumps(report["summary"], indent=2), "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", type=Path)
    parser.add_argument("--report", type=Path, default=None, help="Directory for JSON + Markdown.")
    args = parser.parse_args(argv)
    try:
        scenario = RoutingScenario.load(args.scenario)
    except (OSError, ValueError) as error:
        print(f"cannot use {args.scenario}: {error}", file=sys.stderr)
        return 2
    report = run(scenario)
    if args.report is not None:
        args.report.mkdir(parents=True, exist_ok=True)
        (args.report / f"{scenario.id}.json").write_text(json.dumps(report, indent=2))
        (args.report / f"{scenario.id}.md").write_text(markdown(report))
    print(markdown(report))
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
