"""Replay arithmetic on hand-checkable cases, and pass^k."""

from __future__ import annotations

import pytest

from evals.kpis import Move, ReplayInputs, capture_share, score_plan, simulate
from evals.passk import pass_hat_k, suite_pass_hat_k


def inputs() -> ReplayInputs:
    # Store A has 10 boots and wants 2/day; store B has none and wants 4, 4, 4.
    return ReplayInputs(
        days=3,
        stock={("A", "boot"): 10, ("B", "boot"): 0},
        demand={("A", "boot"): [2, 2, 2], ("B", "boot"): [4, 4, 4]},
        price={"boot": 100.0},
    )


def test_no_action_loses_what_the_empty_store_wanted() -> None:
    outcome = simulate(inputs(), [])
    assert (outcome.sold_units, outcome.lost_units) == (6, 12)
    assert outcome.lost_value == 1200.0


def test_a_transfer_arriving_on_day_one_saves_two_days() -> None:
    base = simulate(inputs(), [])
    score = score_plan(
        inputs(), base, [Move(source="A", dest="B", sku="boot", qty=4, arrival_day=1)], 50.0
    )
    # A keeps 6 = its own 3-day demand; B sells 4 on day 1, nothing on day 2.
    assert score.lost_units_avoided == 4
    assert score.lost_value_avoided == 400.0
    assert score.net_value == 350.0
    assert score.transferred_units_sold == 4
    assert score.sell_through == 1.0


def test_over_shipping_hurts_the_source_and_is_counted() -> None:
    base = simulate(inputs(), [])
    score = score_plan(
        inputs(), base, [Move(source="A", dest="B", sku="boot", qty=10, arrival_day=0)], 0.0
    )
    # B sells 10 of its 12; A sells nothing of its 6: net +4 units over doing nothing.
    assert score.lost_units_avoided == 4
    assert score.transferred_units_sold == 10
    assert score.lost_units == 8


def test_move_larger_than_source_is_clipped_and_reported() -> None:
    outcome = simulate(inputs(), [Move(source="B", dest="A", sku="boot", qty=3, arrival_day=0)])
    assert outcome.short_moves and "asked 3, held 0" in outcome.short_moves[0]


def test_inbound_stock_sells_from_day_one() -> None:
    data = inputs().model_copy(update={"inbound": {("B", "boot"): 5}})
    assert simulate(data, []).lost_units == 12 - 5


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="has 2 days, window is 3"):
        ReplayInputs(days=3, stock={}, demand={("A", "x"): [1, 1]}, price={})
    with pytest.raises(ValueError, match="negative"):
        ReplayInputs(days=1, stock={("A", "x"): -1}, demand={}, price={})


def test_capture_share() -> None:
    assert capture_share(50.0, 200.0) == 0.25
    assert capture_share(0.0, 0.5) is None  # nothing worth doing: undefined, not 0 or 100 %
    assert capture_share(10.0, None) is None


def test_pass_hat_k() -> None:
    assert pass_hat_k(5, 5, 5) == 1.0
    assert pass_hat_k(4, 5, 5) == 0.0
    assert pass_hat_k(4, 5, 1) == pytest.approx(0.8)
    assert pass_hat_k(4, 5, 2) == pytest.approx(6 / 10)
    assert suite_pass_hat_k({"a": [True, True], "b": [True, False]}, 2) == 0.5
    with pytest.raises(ValueError, match=r"k must be within 1\.\.3"):
        pass_hat_k(1, 3, 4)


def margin_inputs() -> ReplayInputs:
    # Same shops; boots list at 100, cost 60: margin 40 at A, 10 at B (an outlet at 70 % of list).
    # A moved boot that does not sell at B costs 5 (return freight).
    return inputs().model_copy(
        update={
            "margin": {("A", "boot"): 40.0, ("B", "boot"): 10.0},
            "unsold_cost": {("A", "boot"): 5.0, ("B", "boot"): 5.0},
        }
    )


def test_net_value_is_margin_less_unsold_cost_less_freight() -> None:
    data = margin_inputs()
    base = simulate(data, [])
    score = score_plan(
        data, base, [Move(source="A", dest="B", sku="boot", qty=10, arrival_day=0)], 30.0
    )
    # B sells 10 more (margin 10 each), A sells 6 fewer (margin 40 each): 100 − 240; every moved
    # unit sold, so nothing is charged as unsold; freight 30.
    assert score.margin_recovered == -140.0
    assert score.unsold_units == 0
    assert score.net_value == -170.0
    # Revenue alone would have called it a gain.
    assert score.lost_value_avoided == 400.0


def test_moved_units_that_do_not_sell_are_charged() -> None:
    data = margin_inputs().model_copy(
        update={"demand": {("A", "boot"): [0, 0, 0], ("B", "boot"): [1, 0, 0]}}
    )
    base = simulate(data, [])
    score = score_plan(
        data, base, [Move(source="A", dest="B", sku="boot", qty=10, arrival_day=0)], 20.0
    )
    # A false alarm: 10 sent, 1 sold (margin 10), 9 unsold at 5 each, freight 20.
    assert (score.transferred_units_sold, score.unsold_units) == (1, 9)
    assert score.unsold_cost == 45.0
    assert score.net_value == 10.0 - 45.0 - 20.0
