"""``benchmarks/decisions.py --world-seeds``: the same scenario on the world another seed
generates (a different sales history, its own cached template), and nothing changes without it."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from sqlmodel import Session, select

from benchmarks import decisions
from benchmarks.decisions import (
    SCENARIOS,
    parse_world_seeds,
    pool_seeds,
    select_scenarios,
    with_world_seed,
)
from evals.oracle import expected_demand
from evals.scenario import load_scenarios
from evals.world import build_world, template_for
from inventory.models import DailySales, WorldMeta

_RAIN = select_scenarios(load_scenarios(SCENARIOS), "rain-shanghai-heavy", "")


def _sales(engine: object) -> list[tuple[str, str, str, int]]:
    with Session(engine) as session:  # type: ignore[arg-type]
        rows = session.exec(
            select(DailySales).order_by(
                DailySales.date, DailySales.location_code, DailySales.sku_code
            )
        ).all()
    return [(str(r.date), r.location_code, r.sku_code, r.units) for r in rows]


def test_seed_override_changes_only_the_world_seed() -> None:
    (scenario,) = _RAIN
    assert scenario.world.seed == 7
    assert with_world_seed(scenario, 7) is scenario  # the scenario's own seed: the same object
    other = with_world_seed(scenario, 11)
    assert other.world.seed == 11
    keep = other.model_dump()
    keep["world"]["seed"] = 7
    assert keep == scenario.model_dump()  # city, clock, weather, alert, overrides, policy
    assert template_for(other.world, other.clock) != template_for(scenario.world, scenario.clock)
    assert "world-11-" in template_for(other.world, other.clock).name


def test_other_seed_builds_another_world_with_another_history(tmp_path: Path) -> None:
    (scenario,) = _RAIN
    other = with_world_seed(scenario, 11)
    worlds = {}
    for name, case in (("own", scenario), ("other", other)):
        world = build_world(case, tmp_path / name)
        try:
            with Session(world.engine) as session:
                meta = session.exec(select(WorldMeta)).first()
            worlds[name] = (meta, _sales(world.engine), world.template)
        finally:
            world.dispose()
    (own_meta, own_sales, own_template), (other_meta, other_sales, other_template) = (
        worlds["own"],
        worlds["other"],
    )
    assert own_sales and other_sales
    assert own_sales != other_sales
    assert own_template != other_template
    assert own_meta is not None and other_meta is not None
    # The expected demand the oracle scores against follows the seed too.
    own_mean = expected_demand(scenario, 3)
    other_mean = expected_demand(other, 3)
    assert own_mean.keys() != other_mean.keys() or any(
        (own_mean[k] != other_mean[k]).any() for k in own_mean
    )
    # The template is cached per seed: building the seeded world again copies the same file.
    again = build_world(other, tmp_path / "again")
    try:
        assert again.template == other_template
        assert _sales(again.engine) == other_sales
    finally:
        again.dispose()


def test_seeds_are_parsed_strictly() -> None:
    assert parse_world_seeds("") == []
    assert parse_world_seeds("7, 11,12,7") == [7, 11, 12]
    with pytest.raises(ValueError, match="x"):
        parse_world_seeds("7,x")
    with pytest.raises(ValueError, match="-1"):
        parse_world_seeds("-1")


def test_default_run_is_unchanged_and_seeded_run_reports_each_seed() -> None:
    def args(seeds: str) -> argparse.Namespace:
        # Nothing heavy selected: this checks the output's shape per mode, not the numbers.
        return argparse.Namespace(
            limit=0, world_seeds=seeds, forecast_check=False, bound_draws=0, planners=""
        )

    plain = decisions.run(args(""), _RAIN)
    assert set(plain) == {"benchmark", "scenarios", "targets", "target_reads", "planners"}
    seeded = decisions.run(args("7,11"), _RAIN)
    assert seeded["world_seeds"] == [7, 11] and list(seeded["by_seed"]) == ["7", "11"]
    assert "planners" not in seeded and seeded["pooled"] == {}


def _variant(net: float, *, cut: bool = False) -> dict:
    """One variant's summary in a bound row, every value ``net``."""
    return {
        "mean_net": net,
        "capture_of_expected_hindsight": None,
        "capture_of_perfect_mean": None,
        "units": 10,
        "sell_through": 0.5,
        "freight": 50.0,
        "realised_net": net,
        "modelled_net": net,
        "cut_by_false_alarm_bound": cut,
    }


def test_pooling_counts_every_world_of_every_seed() -> None:
    def row(scenario: str, role: str, shipped: float, perfect: float) -> dict:
        out = {"scenario": scenario, "role": role, "gap_to_perfect_mean": {}}
        for name in ("hit_rate_pooled", "oracle_mean"):
            out[name] = _variant(shipped if name == "hit_rate_pooled" else perfect)
        out["gap_to_perfect_mean"] = {"total": 0.0, "decision_rule": 0.0, "forecast": 0.0}
        return out

    def bound(rows: list[dict]) -> dict:
        return {
            "scenarios": rows,
            **decisions.summarise_bound(rows, ["hit_rate_pooled", "oracle_mean"]),
        }

    pooled = pool_seeds(
        {
            "7": {"bound": bound([row("a", "act", 100, 200), row("f", "false-alarm", -30, 0)])},
            "11": {"bound": bound([row("a", "act", -50, 100), row("f", "false-alarm", -80, 0)])},
        }
    )
    assert pooled["worlds"] == 4
    shipped = pooled["hit_rate_pooled"]
    assert shipped["act_modelled_net_total"] == 50
    assert shipped["act_modelled_capture_of_perfect_mean"] == round(50 / 300, 4)
    assert shipped["act_modelled_net_positive"] == 1
    alarms = pooled["false_alarm_modelled_net"]["hit_rate_pooled"]
    assert alarms["per_world"] == [-30, -80] and alarms["worst"] == -80 and alarms["mean"] == -55
    assert shipped["false_alarm_modelled_net_total"] == -110
    assert shipped["false_alarm_modelled_below_cap"] == 0
    assert shipped["plans_cut_by_false_alarm_bound"] == {"act": 0, "false-alarm": 0}


def test_false_alarms_are_counted_against_the_cap_and_the_bounds_cuts_by_role() -> None:
    gap = {"total": 0.0, "decision_rule": 0.0, "forecast": 0.0}
    rows = [
        {
            "scenario": scenario,
            "role": role,
            "hit_rate_pooled": _variant(net, cut=cut),
            "oracle_mean": _variant(0.0),
            "gap_to_perfect_mean": gap,
        }
        for scenario, role, net, cut in [
            ("a", "act", 300.0, True),
            ("b", "act", 100.0, False),
            ("f", "false-alarm", -520.0, False),
            ("g", "false-alarm", -380.0, True),
        ]
    ]
    shipped = decisions.summarise_bound(rows, ["hit_rate_pooled"])["hit_rate_pooled"]
    assert shipped["false_alarm_modelled_net_total"] == -900
    assert shipped["false_alarm_modelled_below_cap"] == 1
    assert shipped["plans_cut_by_false_alarm_bound"] == {"act": 1, "false-alarm": 1}
