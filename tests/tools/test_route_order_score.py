"""The routing score on hand-made candidates: stock health is a preference that never buys a
dearer parcel, the online pool is neutral like a DC, a near store beats a far DC, ties go to DCs.
"""

from __future__ import annotations

import datetime as dt

from tools.route_order.figures import LaneFigures
from tools.route_order.plan import Line, Scorer, rank_options
from tools.route_order.pool import Candidate, Node, SkuFacts
from tools.route_order.settings import load_routing_settings

NOW = dt.datetime(2015, 7, 1, 9, 0, tzinfo=dt.UTC)
SKU = "TS001-BLK-M"
#: A same-city lane (van) and a line-haul one from another city, as a parcel pays them.
VAN = LaneFigures(lead_time_hours=7.0, parcel_cost=3.0, cost_per_unit=2.3, basis="city")
HAUL = LaneFigures(lead_time_hours=45.0, parcel_cost=15.0, cost_per_unit=8.5, basis="region")


def node(code: str, kind: str, city: str = "Chengdu") -> Node:
    return Node(code, kind, code, code, city, "Southwest", "A", kind == "store")


def cand(code: str, kind: str, figures: LaneFigures, *, units: int = 10, rate: float = 0.0):
    return Candidate(node(code, kind), figures, {SKU: units}, {SKU: units}, {SKU: rate})


def ranked(*candidates: Candidate, price: float = 600.0, promise_h: float = 48.0):
    scorer = Scorer(
        load_routing_settings(),
        NOW,
        NOW + dt.timedelta(hours=promise_h),
        {SKU: SkuFacts("TS001", price, 2, True)},
    )
    options, _ = rank_options(scorer, [Line(1, SKU, 1)], list(candidates))
    return options


def test_an_overstocked_store_does_not_buy_a_dearer_parcel_than_a_same_city_dc() -> None:
    # A ¥600 slow seller used to earn a ¥30 credit, beating a DC ¥3 cheaper to ship from.
    options = ranked(cand("CHE-S01", "store", VAN), cand("DC-CHE", "dc", VAN))
    assert options[0].nodes == ["DC-CHE"]
    store = options[1]
    assert store.parts.stock_health == -2.0  # capped at stock_health.max_per_parcel
    assert store.parts.delivery_cost > options[0].parts.delivery_cost


def test_a_store_in_the_customers_city_beats_a_dc_in_another_city() -> None:
    options = ranked(cand("CHE-S01", "store", VAN), cand("DC-GUA", "dc", HAUL), promise_h=24)
    assert options[0].nodes == ["CHE-S01"]
    best, dc = options
    assert best.parts.delivery_cost < dc.parts.delivery_cost
    assert best.parcels[0].on_time and not dc.parcels[0].on_time


def test_a_dead_tie_goes_to_the_dc_whatever_the_codes() -> None:
    # Equal cost, a store with no surplus (cover at target): "BEI-S01" sorts before "DC-BEI".
    store_van = LaneFigures(lead_time_hours=7.0, parcel_cost=0.0, cost_per_unit=2.3, basis="c")
    options = ranked(
        cand("BEI-S01", "store", store_van, units=30, rate=1.0),
        cand("DC-BEI", "dc", VAN),
    )
    assert options[0].parts.total == options[1].parts.total
    assert options[0].nodes == ["DC-BEI"]


def test_the_online_pool_is_neutral_like_a_dc() -> None:
    # The pool sells fast (lean cover); it used to pay a lean-store charge and lose to the DC.
    options = ranked(cand("ONLINE", "online", VAN, units=5, rate=5.0), cand("DC-SHA", "dc", HAUL))
    assert options[0].nodes == ["ONLINE"] and options[0].parts.stock_health == 0.0
