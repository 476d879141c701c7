"""How far a position's window forecast misses: a backtest at the shipment's granularity.

The planner values a moved unit by P(D > k) at one (store, SKU) over the window. The forecast's
quantiles cannot say how uncertain that is: one size in one store expects 0.1–0.5 units, its
whole-unit quantiles read P10 = P50 = 0, P90 = 1, and the count curve falls back to a Poisson
around the forecast's mean — the mean taken as known. Where a city's demand lands (which store,
which size) may miss by more than Poisson noise, and a plan picks exactly the positions the
forecast rates highest, so that spread belongs in the value of a moved unit.

Here the miss is measured on the pool's own history, before the clock: over the last
``windows`` windows of the plan's length, each position's predicted total is its share of its
category's sales over the pool's locations in the year before those windows times the
category's realised total in the window — the placement a perfect forecast of the city's level
would give — and α of Var(actual) = μ + α·μ² is fitted by moments
(``forecasting.quantiles.moment_dispersion``, the spread the forecast's own calibrator uses).
The planner then values demand as a negative binomial with at least that spread
(``expected_sales.count_curves``). Only sales before the clock are read.

Measured on the demo worlds (docs/optimizer.md): α = 0.001–0.05, i.e. given the city's level the
history's placement is near-Poisson there, and plans do not change; the forecast's own miss of
the mean at this granularity (0.1–1.4 against the worlds' expected demand) comes from its level
and placement models and is not counted here. On a pool whose placement is volatile the floor
widens by itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from forecasting.quantiles import moment_dispersion
from inventory.models import DailySales

#: Past windows of the plan's length the backtest scores (about two months for a 4-day window).
BACKTEST_WINDOWS = 16
#: Days before the backtest windows from which each position's share is learnt.
SHARE_DAYS = 365
#: Backtest positions needed before the estimate is trusted; fewer plan at ``PRIOR_DISPERSION``.
MIN_POSITIONS = 30
#: Used when the pool has too little history to backtest: the mean is taken as known (Poisson),
#: as before this module — with nothing to measure the miss on, no number would be a measurement.
PRIOR_DISPERSION = 0.0


@dataclass(frozen=True)
class ForecastError:
    """The dispersion used and what it rests on (for the plan's notes)."""

    dispersion: float
    positions: int
    windows: int

    @property
    def note(self) -> str:
        if not self.positions:
            return (
                f"position demand spread α = {self.dispersion:.2f} (too little sales history to "
                "backtest where demand lands: the forecast's mean taken as known)"
            )
        return (
            f"position demand spread α = {self.dispersion:.2f} (Var = μ + α·μ²), backtested on "
            f"{self.positions} store × SKU windows over the last {self.windows} windows before "
            "the clock: where demand lands misses by this much beyond Poisson noise"
        )


#: What a pool without the history to backtest gets.
NO_BACKTEST = ForecastError(PRIOR_DISPERSION, 0, 0)


def backtest_dispersion(
    conn: Connection,
    location_codes: Sequence[str],
    sku_codes: Sequence[str],
    group_of_sku: Sequence[str],
    today: dt.date,
    window_days: int,
    windows: int = BACKTEST_WINDOWS,
) -> ForecastError:
    """α of the placement miss at (location, SKU) × window, from sales before ``today``.

    A position's prediction for a past window = its share of its group's sales (``group_of_sku``:
    the SKU's category) over all ``location_codes`` in the ``SHARE_DAYS`` before the backtest ×
    the group's realised window total: the level is given, so α measures how far the split of a
    known total over stores, styles and sizes misses at (location, SKU) × window — the planner's
    granularity. The forecast's own level error comes on top and is not counted here.
    """
    if not location_codes or not sku_codes or window_days < 1:
        return NO_BACKTEST
    first = today - dt.timedelta(days=window_days * windows)
    share_start = first - dt.timedelta(days=SHARE_DAYS)
    rows = conn.execute(
        select(
            DailySales.location_code,
            DailySales.sku_code,
            DailySales.date,
            func.sum(DailySales.units),
        )
        .where(
            DailySales.location_code.in_(location_codes),  # type: ignore[attr-defined]
            DailySales.sku_code.in_(sku_codes),  # type: ignore[attr-defined]
            DailySales.date < today,
            DailySales.date >= share_start,
        )
        .group_by(DailySales.location_code, DailySales.sku_code, DailySales.date)
    ).all()
    if not rows:
        return NO_BACKTEST
    frame = pd.DataFrame(rows, columns=["location", "sku", "date", "units"])
    frame["units"] = frame["units"].astype(float)
    frame["date"] = pd.to_datetime(frame["date"]).dt.date
    group = dict(zip(sku_codes, group_of_sku, strict=True))
    frame["group"] = frame["sku"].map(group)
    before = frame[frame["date"] < first]
    recent = frame[frame["date"] >= first].copy()
    recent["window"] = [(d - first).days // window_days for d in recent["date"]]
    # Each position's share of its city × group sales in the year before the backtest: the
    # planner's placement (store × size) given a forecast of the city's level.
    share = before.groupby(["location", "sku", "group"])["units"].sum().rename("sold").reset_index()
    share["share"] = share["sold"] / share.groupby("group")["sold"].transform("sum")
    actual = recent.groupby(["location", "sku", "window"])["units"].sum()
    level = recent.groupby(["group", "window"])["units"].sum().rename("level").reset_index()
    grid = share.merge(level, on="group")
    grid["mu"] = grid["share"] * grid["level"]
    keys = pd.MultiIndex.from_frame(grid[["location", "sku", "window"]])
    grid["actual"] = actual.reindex(keys, fill_value=0.0).to_numpy()
    grid = grid[grid["mu"] > 0]
    if len(grid) < MIN_POSITIONS:
        return NO_BACKTEST
    alpha = moment_dispersion(grid["mu"].to_numpy(), grid["actual"].to_numpy())
    return ForecastError(float(alpha), len(grid), windows)
