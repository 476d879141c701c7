"""The forecast ablation swaps exactly the part it names for the world's and keeps the rest."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from evals.forecast_ablation import COMPONENTS, Case, factor, shares_missed, swap, weather_mix
from evals.oracle import expected_demand
from evals.scenario import Scenario
from forecasting.rain import BANDS
from inventory.vocabulary import RainBand
from tools.plan_transfers.problem import TransferProblem
from tools.plan_transfers.synthetic import generate


def _model() -> TransferProblem:
    """A rain/dry problem as the alert path builds it: the dry case a noisy 40 % of the rain."""
    rain = dataclasses.replace(generate(stores=10, skus=24, seed=5), demand_kind="counts")
    rng = np.random.default_rng(1)
    dry = rain.demand_mean * 0.4 * rng.lognormal(0, 0.3, rain.shape)
    return dataclasses.replace(
        rain,
        rain_hit_rate=0.6,
        dry_mean=dry,
        dry_quantiles=rain.demand_quantiles * 0.4,
    )


def _world(model: TransferProblem) -> tuple[Case, Case]:
    """A world unlike the model in every part: other level, uplift, placement and splits."""
    rng = np.random.default_rng(2)
    selling = np.array([loc.kind != "dc" for loc in model.locations])[:, None]
    dry = (rng.lognormal(0, 0.8, model.shape) + 0.05) * selling
    rain = dry * 3.0
    alpha = np.full(model.shape, 0.25)

    def case(mean: np.ndarray) -> Case:
        return Case(mean=mean, quantiles=np.stack([0 * mean, mean, 3 * mean], axis=2), alpha=alpha)

    return case(rain), case(dry)


def _groups(problem: TransferProblem, mean: np.ndarray) -> dict[str, float]:
    out: dict[str, float] = {}
    for i, loc in enumerate(problem.locations):
        out[loc.city] = out.get(loc.city, 0.0) + float(mean[i].sum())
    return out


def test_nothing_swapped_is_the_model_and_everything_swapped_is_the_world() -> None:
    model = _model()
    rain, dry = _world(model)
    same = swap(model, rain, dry, [])
    np.testing.assert_allclose(same.demand_mean, model.demand_mean, atol=1e-9)
    np.testing.assert_allclose(same.dry_mean, model.dry_mean, atol=1e-9)
    np.testing.assert_allclose(same.demand_quantiles, model.demand_quantiles, atol=1e-9)
    world = swap(model, rain, dry, COMPONENTS)
    np.testing.assert_allclose(world.demand_mean, rain.mean, rtol=1e-9)
    np.testing.assert_allclose(world.dry_mean, dry.mean, rtol=1e-9)
    # The world's spread: var = μ + α μ², read back as P90 − P10 over the normal width.
    sd = (world.demand_quantiles[..., 2] - world.demand_quantiles[..., 0]) / 2.5631031310892007
    expected = np.maximum(np.sqrt(rain.mean + 0.25 * rain.mean**2), rain.mean / 2.5631031310892007)
    np.testing.assert_allclose(sd, expected, rtol=1e-9)
    # The rule is the model's.
    assert world.rain_hit_rate == 0.6 and world.constraints == model.constraints


def test_the_level_swap_moves_the_totals_and_keeps_the_models_uplift_and_placement() -> None:
    model = _model()
    rain, dry = _world(model)
    swapped = swap(model, rain, dry, ["level"])
    assert model.dry_mean is not None and swapped.dry_mean is not None
    for city, total in _groups(model, dry.mean).items():
        assert _groups(model, swapped.dry_mean)[city] == pytest.approx(total)
        # the model's uplift: rain ÷ dry of the city, unchanged
        ours = _groups(model, model.demand_mean)[city] / _groups(model, model.dry_mean)[city]
        theirs = _groups(model, swapped.demand_mean)[city] / _groups(model, swapped.dry_mean)[city]
        assert theirs == pytest.approx(ours)
    # Within a city the split over positions is the model's.
    city = model.locations[1].city
    rows = [i for i, loc in enumerate(model.locations) if loc.city == city]
    ours = model.demand_mean[rows] / model.demand_mean[rows].sum()
    np.testing.assert_allclose(
        swapped.demand_mean[rows] / swapped.demand_mean[rows].sum(), ours, atol=1e-12
    )


def test_the_uplift_swap_leaves_the_dry_case_and_scales_the_rain_to_the_worlds_ratio() -> None:
    model = _model()
    rain, dry = _world(model)
    swapped = swap(model, rain, dry, ["uplift"])
    np.testing.assert_allclose(swapped.dry_mean, model.dry_mean, atol=1e-12)
    assert swapped.dry_mean is not None
    for city, total in _groups(model, swapped.demand_mean).items():
        assert total == pytest.approx(3.0 * _groups(model, swapped.dry_mean)[city])


def test_a_split_swap_keeps_the_totals_it_sits_under() -> None:
    model = _model()
    rain, dry = _world(model)
    for part in ("placement", "styles", "sizes"):
        swapped = swap(model, rain, dry, [part])
        assert not np.allclose(swapped.demand_mean, model.demand_mean), part
        for city, total in _groups(model, model.demand_mean).items():
            assert _groups(model, swapped.demand_mean)[city] == pytest.approx(total), part
    # Sizes swapped: each location × style keeps the model's total.
    sizes = swap(model, rain, dry, ["sizes"])
    style = np.array([sku.style for sku in model.skus])
    for s in np.unique(style):
        cols = style == s
        np.testing.assert_allclose(
            sizes.demand_mean[:, cols].sum(axis=1), model.demand_mean[:, cols].sum(axis=1)
        )


def test_the_spread_swap_changes_only_the_spread() -> None:
    model = _model()
    rain, dry = _world(model)
    swapped = swap(model, rain, dry, ["spread"])
    np.testing.assert_allclose(swapped.demand_mean, model.demand_mean, atol=1e-12)
    assert not np.allclose(swapped.demand_quantiles, model.demand_quantiles)


def test_the_distance_report_is_zero_for_the_world_and_positive_for_a_model_unlike_it() -> None:
    model = _model()
    rain, dry = _world(model)
    world = swap(model, rain, dry, COMPONENTS)
    same = shares_missed(world, rain, dry)
    assert same["level_ratio"] == pytest.approx(1.0) and same["uplift_model"] == pytest.approx(3)
    for part in ("placement", "styles", "sizes"):
        assert same[f"{part}_misplaced"] == pytest.approx(0.0, abs=1e-9)
        assert shares_missed(model, rain, dry)[f"{part}_misplaced"] > 0.05, part


def test_factor_rebuilds_the_mean() -> None:
    model = _model()
    assert model.dry_mean is not None
    rain_parts, dry_parts = factor(model, model.demand_mean, model.dry_mean)
    for parts, mean in ((rain_parts, model.demand_mean), (dry_parts, model.dry_mean)):
        rebuilt = parts.level * parts.uplift * parts.placement * parts.styles * parts.sizes
        np.testing.assert_allclose(rebuilt, mean, atol=1e-12)


def test_an_unknown_part_or_a_certain_alert_is_refused() -> None:
    model = _model()
    rain, dry = _world(model)
    with pytest.raises(ValueError, match="unknown forecast part"):
        swap(model, rain, dry, ["weather"])
    with pytest.raises(ValueError, match="rain/dry"):
        swap(dataclasses.replace(model, rain_hit_rate=1.0), rain, dry, ["level"])


def test_window_bands_put_the_worlds_rain_multiplier_on_the_window() -> None:
    scenario = Scenario.model_validate(
        {
            "id": "ablation-bands",
            "purpose": "The world's demand under other weather on the window.",
            "world": {"cities": ["Shanghai"], "stores": 4, "styles": 12},
            "clock": "2015-07-11T08:00:00",
            "trigger": {"chat": [{"content": "hi"}]},
        }
    )
    storm = expected_demand(scenario, 2, {"Shanghai": [RainBand.RAINSTORM, RainBand.NONE]})
    dry = expected_demand(scenario, 2, {"Shanghai": [RainBand.NONE, RainBand.NONE]})
    rain_skus = ("RB", "WS", "SC", "UM", "RJ")
    stores = [k for k in dry if k[0] != "ONLINE" and k[1][:2] in rain_skus]
    others = [k for k in dry if k[0] != "ONLINE" and k[1][:2] not in rain_skus]
    assert stores and others
    for key in stores:
        np.testing.assert_allclose(storm[key][0], 4.0 * dry[key][0])  # ×4 in a 暴雨
        np.testing.assert_allclose(storm[key][1], dry[key][1])  # the dry day after
    for key in others:
        np.testing.assert_allclose(storm[key][0], 0.55 * dry[key][0])  # lost footfall


def test_weather_mix_weights_each_bands_demand_by_its_probability_or_the_alert() -> None:
    key = ("S1", "RB1-BLK-38")
    by_band = {band: {key: np.full(3, float(n + 1))} for n, band in enumerate(BANDS)}
    climate = np.zeros((3, len(BANDS)))
    climate[:, 0], climate[:, 3] = 0.75, 0.25  # dry 3 days in 4, else heavy
    mixed = weather_mix(by_band, climate)
    np.testing.assert_allclose(mixed[key], [0.75 * 1 + 0.25 * 4] * 3)
    warned = weather_mix(by_band, climate, {0: RainBand.RAINSTORM})
    np.testing.assert_allclose(warned[key], [5.0, 1.75, 1.75])


def test_the_benchmark_tells_the_greedy_plan_from_the_flows_only_by_its_lines() -> None:
    from benchmarks.decisions import _same_plan
    from tools.plan_transfers.solver import solve

    problem = dataclasses.replace(generate(stores=12, skus=30, seed=4), demand_kind="counts")
    flow = solve(problem, method="flow")
    assert flow.shipments
    assert _same_plan(flow, solve(problem, method="flow"))
    # The same problem with the destinations' demand cut: a smaller plan is a different plan.
    thin = dataclasses.replace(
        problem,
        demand_mean=0.3 * problem.demand_mean,
        demand_quantiles=0.3 * problem.demand_quantiles,
    )
    assert not _same_plan(flow, solve(thin, method="flow"))
    assert not _same_plan(flow, dataclasses.replace(flow, shipments=[]))
