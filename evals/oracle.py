"""What a decision could have earned: the world's expected demand and plans scored over its noise.

The hindsight-optimal plan (``evals.replay``) knows the demand that came, unit by unit; in a rain
window one size in one store sells 0–2 units, so most of its value is knowing *which* size sells
where — information no forecast can hold. To tell the forecast's share of the gap from the
noise's, this module

- rebuilds the demo world's **expected** demand over the window (the generator's means, before
  its negative-binomial draw): what a perfect forecaster of the mean would say;
- scores any set of moves on ``draws`` fresh demand windows drawn the way the world draws them,
  each against its own clairvoyant hindsight plan, so a plan is judged by its expected outcome
  rather than by one lucky or unlucky window;
- values any plan exactly under that expected demand (``modelled_net``: the planner's own
  valuation fed the world's distribution, no draw noise), and builds the perfect-mean plan under
  the shipped alert haircut (``at_hit_rate``), so the gap to the perfect-mean plan splits into
  the decision rule's share and the forecast's, world by world.

Measurement only (benchmarks): no deciding code imports it
(``tests/evals/test_realised_demand_is_hidden.py``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from unittest import mock

import numpy as np
from sqlalchemy.engine import Engine

import inventory.demo_world.generate as generate
from evals.kpis import Move, ReplayInputs, score_plan, simulate
from evals.replay import Catalogue, Scope, StartPosition, hindsight_moves
from evals.scenario import Scenario
from evals.world import spec_for
from inventory.demo_world.demand import BAND_INDEX, CityDays
from inventory.demo_world.params import DemandParameters
from inventory.demo_world.simulate import sample_demand
from inventory.demo_world.weather import CityWeather
from inventory.vocabulary import RainBand
from tools.plan_transfers.network import lane_matrix
from tools.plan_transfers.problem import SolvedPlan, TransferProblem
from tools.plan_transfers.shipments import Moves, plan_objective, value_moves

Key = tuple[str, str]


def expected_demand(
    scenario: Scenario, days: int, window_bands: Mapping[str, Sequence[RainBand]] | None = None
) -> dict[Key, np.ndarray]:
    """(location, SKU) → the world's expected units on each of the ``days`` from its clock.

    ``window_bands`` (city → the CMA band of each of the ``days``) puts other weather on the
    window than the world's record: the demand the world would have expected had that rain fallen
    (``evals.forecast_ablation``'s rain and dry cases). The history before the clock is unchanged.
    """
    params = DemandParameters()
    spec = spec_for(scenario.world, scenario.clock)
    seen: list[tuple[np.ndarray, np.ndarray]] = []
    real = generate.simulate_location
    real_city_days = generate.city_days
    first = scenario.clock.date()

    def record(sku_index: np.ndarray, mean: np.ndarray, history_days: int, *a, **kw):  # type: ignore[no-untyped-def]
        seen.append((sku_index, mean[:, history_days : history_days + days]))
        return real(sku_index, mean, history_days, *a, **kw)

    def weather(city: CityWeather, dates: list[dt.date], p: DemandParameters) -> CityDays:
        out = real_city_days(city, dates, p)
        bands = (window_bands or {}).get(city.city)
        if bands is None:
            return out
        band = out.band.copy()
        for offset, value in enumerate(bands[:days]):
            day = first + dt.timedelta(days=offset)
            if dates[0] <= day <= dates[-1]:
                band[(day - dates[0]).days] = BAND_INDEX[RainBand(value).value]
        return CityDays(band=band, temp_c=out.temp_c)

    with (
        mock.patch.object(generate, "simulate_location", record),
        mock.patch.object(generate, "city_days", weather),
    ):
        world = generate.generate_world(spec, params)
    # Stores are simulated in network order, then the online pool (``generate_world``).
    codes = [store.code for store in world.network.stores] + [
        loc.code for loc in world.network.locations if loc.kind == "online"
    ]
    sku_codes = [sku.code for sku in world.catalog.skus]
    out: dict[Key, np.ndarray] = {}
    for code, (sku_index, mean) in zip(codes, seen, strict=True):
        for row, j in enumerate(sku_index.tolist()):
            out[(code, sku_codes[j])] = mean[row]
    return out


@dataclass
class PlanOutcome:
    """One plan over many demand windows."""

    units: int
    freight: float
    nets: list[float] = field(default_factory=list)
    sold: list[int] = field(default_factory=list)

    def summary(self, hindsight_mean: float) -> dict[str, float | int | None]:
        nets = np.array(self.nets)
        return {
            "units": self.units,
            "freight": round(self.freight, 1),
            "mean_net": round(float(nets.mean()), 1),
            # One window's net value swings by hundreds of yuan: 10 draws leave ±¥100 or so on
            # a world's mean (``modelled_net`` has no such noise).
            "mean_net_se": (
                round(float(nets.std(ddof=1) / np.sqrt(nets.size)), 1) if nets.size > 1 else None
            ),
            "positive_share": round(float((nets > 0).mean()), 3) if self.units else None,
            "sell_through": (
                round(float(np.mean(self.sold)) / self.units, 3) if self.units else None
            ),
            "capture_of_expected_hindsight": (
                round(float(nets.mean()) / hindsight_mean, 4) if hindsight_mean >= 1 else None
            ),
        }


def score_over_draws(
    engine: Engine,
    start: list[StartPosition],
    inputs: ReplayInputs,
    now: dt.datetime,
    scope: Scope,
    catalogue: Catalogue,
    plans: dict[str, tuple[list[Move], float]],
    expected: dict[Key, np.ndarray],
    draws: int,
    seed: int = 0,
) -> tuple[dict[str, PlanOutcome], list[float]]:
    """Each plan's net value on ``draws`` demand windows drawn from ``expected``, and the
    clairvoyant hindsight's net value on each (never below doing nothing)."""
    rng = np.random.default_rng(seed)
    shape = DemandParameters().nb_shape
    keys = list(expected)
    means = np.stack([expected[k] for k in keys]) if keys else np.zeros((0, inputs.days))
    outcomes = {
        name: PlanOutcome(units=sum(m.qty for m in moves), freight=cost)
        for name, (moves, cost) in plans.items()
    }
    hindsight: list[float] = []
    for _ in range(draws):
        drawn = sample_demand(means, shape, rng)
        demand: dict[Key, list[int]] = defaultdict(lambda: [0] * inputs.days)
        for key, row in zip(keys, drawn.tolist(), strict=True):
            demand[key] = row
        window = inputs.model_copy(update={"demand": dict(demand)})
        baseline = simulate(window, [])
        for name, (moves, cost) in plans.items():
            score = score_plan(window, baseline, moves, cost)
            outcomes[name].nets.append(score.net_value)
            outcomes[name].sold.append(score.transferred_units_sold)
        h_moves, h_cost = hindsight_moves(engine, start, window, now, scope, catalogue)
        hindsight.append(max(score_plan(window, baseline, h_moves, h_cost).net_value, 0.0))
    return outcomes, hindsight


#: Normal-equivalent width between P10 and P90: how ``count_curves`` reads a spread.
P10_P90_Z = 2.5631031310892007


def oracle_problem(problem: TransferProblem, expected: dict[Key, np.ndarray]) -> TransferProblem:
    """``problem`` with the world's expected window demand in place of the forecast, spread as the
    world draws it (negative binomial per day, variance μ + μ²/r): the plan a perfect forecaster
    of the mean would make with the same optimiser and rules."""
    shape = DemandParameters().nb_shape
    mean = np.zeros(problem.shape)
    var = np.zeros(problem.shape)
    loc_index = {loc.code: i for i, loc in enumerate(problem.locations)}
    sku_index = {sku.code: j for j, sku in enumerate(problem.skus)}
    for (loc, sku), daily in expected.items():
        i, j = loc_index.get(loc), sku_index.get(sku)
        if i is None or j is None:
            continue
        days = daily[: problem.window_days]
        mean[i, j] = float(days.sum())
        var[i, j] = float((days + days**2 / shape).sum())
    spread = P10_P90_Z * np.sqrt(var)
    quantiles = np.stack([np.zeros_like(mean), mean, np.maximum(spread, mean)], axis=2)
    return replace(
        problem,
        demand_levels=np.array([0.1, 0.5, 0.9]),
        demand_quantiles=quantiles,
        demand_mean=mean,
        demand_kind="counts",
        # The world's expected demand already says whether it rains: no alert to doubt, and no
        # forecast error for a freight hurdle to hedge (``min_net_to_cost``).
        constraints=problem.constraints.model_copy(update={"min_net_to_cost": 0.0}),
        rain_hit_rate=1.0,
        dry_quantiles=None,
        dry_mean=None,
        no_rain_quantiles=None,
        no_rain_mean=None,
    )


def at_hit_rate(oracle: TransferProblem, planned: TransferProblem) -> TransferProblem:
    """The perfect-mean problem under ``planned``'s decision rule: the world's expected demand as
    the rain case, ``planned``'s own dry forecast as the case where the warned rain does not
    fall, mixed at ``planned``'s hit rate, ``planned``'s constraints (its freight hurdle too)
    and its no-rain case (the false-alarm bound, ``false_alarm``). Its plan is what the shipped
    rule makes from a perfect forecast of the rain; what it earns below the perfect-mean plan is
    the rule's price (alert haircut, hurdle and bound), the rest of the gap is the forecast's."""
    if not planned.mixed:
        return replace(oracle, constraints=planned.constraints)
    return replace(
        oracle,
        constraints=planned.constraints,
        rain_hit_rate=planned.rain_hit_rate,
        dry_mean=planned.dry_mean,
        dry_quantiles=planned.dry_quantiles,
        no_rain_mean=planned.no_rain_mean,
        no_rain_quantiles=planned.no_rain_quantiles,
    )


def modelled_net(oracle: TransferProblem, planned: TransferProblem, solved: SolvedPlan) -> float:
    """Expected net value of ``solved`` (a plan made on ``planned``) under the world's expected
    demand: the planner's own valuation (``shipments.value_moves``) on ``oracle``, exact, with
    no draw noise. Every shipment counts, whether or not it would pay under the world's demand."""
    planned_moves = Moves.of_plan(solved)
    if len(planned_moves) == 0:
        return 0.0
    # ``planned``'s indices to ``oracle``'s (the same locations and SKUs, found by code).
    loc = {location.code: i for i, location in enumerate(oracle.locations)}
    sku = {k.code: j for j, k in enumerate(oracle.skus)}

    def to_oracle(index: dict[str, int], nodes: Sequence[Any], rows: np.ndarray) -> np.ndarray:
        return np.array([index[nodes[i].code] for i in rows], dtype=np.int64)

    moves = Moves(
        sku=to_oracle(sku, planned.skus, planned_moves.sku),
        source=to_oracle(loc, planned.locations, planned_moves.source),
        dest=to_oracle(loc, planned.locations, planned_moves.dest),
        qty=planned_moves.qty,
    )
    every_lane = lane_matrix(oracle, np.ones(len(oracle.lanes), dtype=bool))
    return plan_objective(value_moves(oracle, moves, every_lane))
