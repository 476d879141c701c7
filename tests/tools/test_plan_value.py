"""The one definition of plan value (tools.plan_transfers.value): margin at the destination's
price, the cost of moved units that do not sell, freight — and the optimiser keeps to it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tools.plan_transfers.problem import LaneArrays, LocationNode, SkuNode, TransferProblem
from tools.plan_transfers.solver import solve
from tools.plan_transfers.value import (
    UnsoldRisk,
    UnsoldTerms,
    ValueTerms,
    ValueTermsError,
    freight,
    load_value_terms,
    position_economics,
    position_value,
)

TERMS = ValueTerms(
    price_factor_by_tier={"outlet": 0.7},
    unsold=UnsoldTerms(
        default=UnsoldRisk(return_freight=True),
        by_category={"umbrellas": UnsoldRisk(return_freight=False, markdown_share=0.2)},
    ),
)


def _lanes(pairs: list[tuple[int, int]], per_unit: float = 4.0, per_trip: float = 30.0):
    return LaneArrays(
        source=np.array([s for s, _ in pairs], dtype=np.int64),
        dest=np.array([d for _, d in pairs], dtype=np.int64),
        lead_time_hours=np.full(len(pairs), 6.0),
        cost_per_unit=np.full(len(pairs), per_unit),
        cost_per_shipment=np.full(len(pairs), per_trip),
    )


LOCS = [
    LocationNode(code="DC", city="X", region="R", kind="dc"),
    LocationNode(code="A1", city="X", region="R", tier="A"),
    LocationNode(code="O1", city="X", region="R", tier="outlet"),
]
SKUS = [
    SkuNode("RB-38", "RB", "38", 0, price=300.0, cost=120.0, category="rain_boots"),
    SkuNode("UM-1", "UM", "one", 0, price=100.0, cost=40.0, category="umbrellas"),
]


def test_margin_is_the_local_price_less_cost_and_unsold_cost_follows_the_category() -> None:
    margin, unsold = position_economics(LOCS, SKUS, _lanes([(0, 1), (0, 2), (1, 2)]), TERMS)
    assert margin[1].tolist() == [180.0, 60.0]
    assert margin[2].tolist() == pytest.approx([300 * 0.7 - 120, 100 * 0.7 - 40])  # outlet
    # Boots go back by the cheapest lane out (A1→O1 at 4/unit; O1 has no lane out: 0);
    # umbrellas are marked down 20 % at the local price instead.
    assert unsold[1].tolist() == pytest.approx([4.0, 20.0])
    assert unsold[2].tolist() == pytest.approx([0.0, 14.0])


def test_received_units_beyond_extra_sales_are_charged_and_sources_only_lose_margin() -> None:
    value = position_value(
        np.array([180.0, 180.0]), np.array([4.0, 4.0]), np.array([2.0, -1.5]), np.array([5, 0])
    )
    assert value.tolist() == pytest.approx([2 * 180 - 3 * 4, -1.5 * 180])


def test_shipped_terms_load_and_a_bad_file_names_its_field(tmp_path: Path) -> None:
    terms = load_value_terms()
    assert terms.price_factor("outlet") < 1.0 <= terms.price_factor("A")
    bad = tmp_path / "terms.yaml"
    bad.write_text("unsold: {default: {markdown_share: 2}}\n", encoding="utf-8")
    with pytest.raises(ValueTermsError, match="markdown_share"):
        load_value_terms(bad)


def _one_store_problem(terms: ValueTerms, mean: float, levels=(0.1, 0.5, 0.9)) -> TransferProblem:
    # The DC holds 40 boots; store A1 holds none and expects ``mean`` over the window.
    locs, skus = LOCS[:2], SKUS[:1]
    stock = np.array([[40.0], [0.0]])
    spread = np.array([0.4, 1.0, 1.7])[None, None, :] * mean
    quantiles = np.concatenate([np.zeros((1, 1, 3)), spread], axis=0)
    return TransferProblem(
        locations=locs,
        skus=skus,
        stock=stock,
        atp=stock.copy(),
        min_display=np.zeros((2, 1)),
        days_since_received=np.full((2, 1), np.inf),
        demand_levels=np.array(levels),
        demand_quantiles=quantiles,
        demand_mean=np.array([[0.0], [mean]]),
        lanes=_lanes([(0, 1)], per_unit=4.0, per_trip=30.0),
        window_days=2,
        demand_kind="counts",
        value_terms=terms,
    )


def test_the_plan_stops_where_the_next_unit_costs_more_unsold_than_it_earns() -> None:
    # A1 has no lane out, so without a markdown share an unsold boot costs nothing.
    no_risk = solve(_one_store_problem(TERMS, mean=6.0))
    markdown = UnsoldTerms(default=UnsoldRisk(return_freight=True, markdown_share=0.5))
    risky = solve(_one_store_problem(TERMS.model_copy(update={"unsold": markdown}), mean=6.0))
    assert 0 < risky.units < no_risk.units
    assert no_risk.shipments[0].lines[0].unsold_risk == 0.0
    line = risky.shipments[0].lines[0]
    # Half of the 300 price is lost on each unit expected not to sell.
    assert line.unsold_risk == pytest.approx(150.0 * (line.qty - line.expected_units_saved))
    assert risky.objective == pytest.approx(risky.shipments[0].net_value)


def test_freight_is_one_definition_for_the_plan_and_the_replay() -> None:
    from evals.replay import LaneInfo, _shipment_cost

    assert freight(0, 4.0, 30.0) == 0.0  # no units, no trip
    np.testing.assert_allclose(freight(np.array([1, 5]), 4.0, 30.0), [34.0, 50.0])
    plan = solve(_one_store_problem(TERMS, mean=6.0))
    (shipment,) = plan.shipments
    assert shipment.cost == pytest.approx(float(freight(shipment.units, 4.0, 30.0)))
    assert sum(line.cost for line in shipment.lines) == pytest.approx(shipment.cost)
    lanes = {("DC", "A1"): LaneInfo(6.0, 4.0, 30.0)}
    replayed = _shipment_cost({("DC", "A1"): shipment.units}, lanes)
    assert replayed == pytest.approx(shipment.cost)


def test_an_amount_reads_with_its_sign_before_the_currency():
    from tools.plan_transfers.value import yuan

    assert (yuan(1234.4), yuan(-45.2), yuan(-0.3), yuan(0.0)) == ("¥1,234", "−¥45", "¥0", "¥0")
