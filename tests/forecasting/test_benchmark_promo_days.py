"""The forecast benchmark scores promo days as the tool sees them (s31): each fold's horizon
rebuilt from the retailer's promo plans made before the fold's origin, not from the fold's real
sales rows (which the future does not have), and Σ forecast ÷ Σ the world's expected demand and
RMSE against it split into promo and other days (docs/forecasting.md, 2026-12-07)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from benchmarks.forecast import plan_horizon, promo_day_scores
from forecasting.panel import regular_price
from inventory.clock import as_utc
from inventory.models import DailySales, PromoPlan
from tools.forecast_demand.fitting import pool_panel

HORIZON = 14


def test_promo_day_scores_split_promo_and_other_days() -> None:
    expected = np.array([[1.0, 2.0, np.nan], [4.0, 1.0, 1.0]])
    mean = np.array([[0.5, 2.0, 9.0], [4.0, 2.0, 1.0]])
    promo = np.array([[True, False, True], [False, False, True]])
    out = promo_day_scores(mean, expected, promo)
    # Promo cells with a known expectation: (0,0) and (1,2); the NaN cell counts nowhere.
    assert out["promo_cells"] == 2
    assert out["promo_ratio"] == pytest.approx(1.5 / 2.0, abs=1e-4)
    assert out["promo_rmse"] == pytest.approx(np.sqrt(0.25 / 2), abs=1e-5)
    assert out["non_promo_ratio"] == pytest.approx(8.0 / 7.0, abs=1e-4)
    assert out["non_promo_rmse"] == pytest.approx(np.sqrt(1.0 / 3), abs=1e-5)
    assert out["all_ratio"] == pytest.approx(9.5 / 9.0, abs=1e-4)


def test_the_fold_horizon_takes_the_plans_known_at_its_origin(world_engine: Engine) -> None:
    with Session(world_engine) as session:
        plans = session.execute(select(PromoPlan)).scalars().all()
        last = session.execute(select(func.max(DailySales.date))).scalar_one()
    today = last + dt.timedelta(days=1)
    panel = pool_panel(world_engine, today, "sku", 200)
    styles = panel.series["style"].to_numpy()
    locations = np.array([s.split("|")[0] for s in panel.series.index])

    def known(origin: int) -> np.ndarray:
        first, end = panel.dates[origin].date(), panel.dates[origin + HORIZON - 1].date()
        known_at = dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC)
        want = np.zeros((panel.n_series, HORIZON), dtype=bool)
        for p in plans:
            if as_utc(p.planned_at) >= known_at or p.end < first or p.start > end:
                continue
            rows = styles == p.style_code
            if p.location_code is not None:
                rows &= locations == p.location_code
            lo, hi = (max(p.start, first) - first).days, (min(p.end, end) - first).days + 1
            want[rows, lo:hi] = True
        return want

    # The latest fold (weekly back from the end) with a planned promo in its horizon.
    origin = next(o for o in range(panel.n_days - HORIZON, HORIZON, -7) if known(o).any())
    want = known(origin)
    planned = plan_horizon(world_engine, panel, origin, HORIZON)
    days = slice(origin, origin + HORIZON)
    np.testing.assert_array_equal(planned.promo[:, days], want)
    # History is what its rows say; the horizon's other days are at the regular price.
    np.testing.assert_array_equal(planned.promo[:, :origin], panel.promo[:, :origin])
    np.testing.assert_array_equal(planned.units, panel.units)
    # Not a planned day: the series' regular price (its last regular-day price before the
    # origin), whatever the rows said; a planned day: that price × (1 − depth).
    price = planned.price_ratio[:, days]
    regular = np.broadcast_to(
        regular_price(panel.price_ratio[:, :origin], panel.promo[:, :origin])[:, -1:], price.shape
    )
    np.testing.assert_allclose(price[~want], regular[~want])
    assert (price[want] < regular[want]).all()
