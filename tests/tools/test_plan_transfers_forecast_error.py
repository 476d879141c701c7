"""The planner's demand spread at (store, SKU) × window is backtested on the pool's own sales."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pytest
from sqlmodel import Session

from inventory.models import DailySales
from tests.tools.plan_transfers_pool import NOW, build_pool, fake_forecast
from tools.context import ToolContext
from tools.plan_transfers.expected_sales import count_curves, expected_sales, position_curves
from tools.plan_transfers.forecast_error import backtest_dispersion
from tools.plan_transfers.models import PlanTransfersInput
from tools.plan_transfers.pool import build_problem

STORES = ["SHA-S01", "SHA-S02", "SHA-S03"]
SKUS = [f"RB001-BLK-{size}" for size in ("36", "37", "38", "39", "40")]
TODAY = NOW.date()


def _sales(engine, units_of) -> None:
    """``units_of(day_index, store, sku)`` units on each of the 500 days before the clock."""
    with Session(engine) as session:
        for back in range(1, 501):
            day = TODAY - dt.timedelta(days=back)
            for store in STORES:
                for sku in SKUS:
                    units = units_of(back, store, sku)
                    if units:
                        session.add(
                            DailySales(
                                location_code=store, sku_code=sku, date=day, units=units, price=1
                            )
                        )
        session.commit()


def _alpha(engine) -> float:
    with engine.connect() as conn:
        return backtest_dispersion(conn, STORES, SKUS, ["boots"] * len(SKUS), TODAY, 4).dispersion


def test_steady_placement_measures_no_miss_and_shifting_placement_a_large_one(engine):
    build_pool(engine)
    _sales(engine, lambda back, store, sku: 1)
    steady = _alpha(engine)
    with Session(engine) as session:
        session.query(DailySales).delete()
        session.commit()
    # The same city total, but each 4-day window it all lands in one store.
    _sales(engine, lambda back, store, sku: 3 if STORES[(back // 4) % 3] == store else 0)
    shifting = _alpha(engine)
    assert steady < 0.01
    assert shifting > 0.3


def test_sales_after_the_clock_are_never_read(engine):
    build_pool(engine)
    _sales(engine, lambda back, store, sku: 1)
    before = _alpha(engine)
    with Session(engine) as session:
        for day in range(0, 10):
            session.add(
                DailySales(
                    location_code="SHA-S01",
                    sku_code=SKUS[0],
                    date=TODAY + dt.timedelta(days=day),
                    units=50,
                    price=1,
                )
            )
        session.commit()
    assert _alpha(engine) == before


def test_no_history_takes_the_mean_as_known(engine):
    build_pool(engine)
    with engine.connect() as conn:
        error = backtest_dispersion(conn, STORES, SKUS, ["boots"] * 5, TODAY, 4)
    assert error.dispersion == 0.0 and error.positions == 0
    assert "too little sales history" in error.note


def test_a_wider_spread_sells_fewer_of_the_same_stock_and_zero_keeps_the_poisson():
    levels = np.array([0.1, 0.5, 0.9])
    mean = np.array([0.4, 3.0])
    quantiles = np.array([[0.0, 0.0, 1.0], [1.0, 3.0, 5.0]])
    known = count_curves(levels, quantiles, mean)
    same = count_curves(levels, quantiles, mean, 0.0)
    missed = count_curves(levels, quantiles, mean, 1.0)
    for s in (1.0, 2.0, 4.0):
        stock = np.full(2, s)
        assert np.allclose(expected_sales(known, stock), expected_sales(same, stock))
        assert np.all(expected_sales(missed, stock) < expected_sales(known, stock))
    # E[min(1, D)] = P(D ≥ 1): Poisson 1 − e^−0.4, geometric (α = 1) 0.4 / 1.4.
    assert np.isclose(expected_sales(known, np.array([1.0, 0.0]))[0], 1 - np.exp(-0.4))
    assert np.isclose(expected_sales(missed, np.array([1.0, 0.0]))[0], 0.4 / 1.4)


def test_the_plan_values_demand_with_the_backtested_spread_and_says_so(engine):
    build_pool(engine)
    # Each 4-day window the Shanghai stores' sales land in one store: a volatile placement.
    _sales(engine, lambda back, store, sku: 3 if STORES[(back // 4) % 3] == store else 0)
    ctx = ToolContext(engine=engine, now=NOW)
    request = PlanTransfersInput(city="Shanghai", window_days=4, pool_sizes=False)
    problem, _ = build_problem(ctx, request, fake_forecast({"SHA-S02": 4.0}))
    assert problem.demand_dispersion == pytest.approx(_alpha(engine), rel=0.2)
    assert problem.demand_dispersion > 0.3
    assert any("backtested on" in note for note in problem.notes)
    # A wider spread: the short store is expected to sell fewer of the units it would receive.
    known = replace(problem, demand_dispersion=0.0)
    j = 0
    dest = [loc.code for loc in problem.locations].index("SHA-S02")
    stock = np.array([4.0])
    sold = {
        name: expected_sales(position_curves(p, np.array([dest]), np.array([j])), stock)[0]
        for name, p in (("known", known), ("backtested", problem))
    }
    assert sold["backtested"] < sold["known"]
