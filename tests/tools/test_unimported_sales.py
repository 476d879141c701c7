"""Sales that are not imported yet are unknown, not zero: the nightly feed of a live pool can be
late, and a forecast that read those days as days that sold nothing would forecast low at every
store at once (and an alert's plan would then see less shortage than there is). The panel keeps
them unknown; the forecast runs from the last known day over them and answers the horizon; the
answer says how far the sales are known. On SQLite and PostgreSQL, with the fitted forecaster
and with the stand-in baseline."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from inventory.models import DailySales
from tools.context import ToolContext
from tools.forecast_demand.models import ForecastInput
from tools.forecast_demand.pool_panel import load_panel
from tools.forecast_demand.selection import select_series
from tools.forecast_demand.tool import forecast_demand

DAY = dt.timedelta(days=1)
ASK = ForecastInput(horizon_days=7, level="sku", limit_series=100_000)


def _feed_stops(engine: Engine, first_missing: dt.date) -> None:
    """The pool's sales from ``first_missing`` on were never imported."""
    table = DailySales.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(sa.delete(table).where(table.c.date >= first_missing))


def test_days_after_the_last_recorded_sale_are_unknown_and_earlier_empty_days_sold_zero(
    any_fitted_ctx: ToolContext,
) -> None:
    ctx = any_fitted_ctx
    _feed_stops(ctx.engine, ctx.today - 3 * DAY)
    with ctx.read() as session:
        series = select_series(session, ASK)
        panel = load_panel(
            session, series, level="sku", today=ctx.today, history_days=30, horizon=0
        )
    assert panel.n_days == 30
    assert np.isnan(panel.units[:, -3:]).all()  # 3 days not imported: unknown everywhere
    assert not np.isnan(panel.units[:, :-3]).any()  # before: no row = sold 0 in stock
    assert (panel.units[:, :-3] == 0).any() and (panel.units[:, :-3] > 0).any()


def test_a_late_feed_does_not_pull_the_forecast_down(any_fitted_ctx: ToolContext) -> None:
    """Fourteen days not imported: read as zeros, the pool's 7-day forecast fell 10 % on the small
    world (and 26 % per style); from the last known day it stays within 1 % of the forecast made
    with every day imported."""
    ctx = any_fitted_ctx
    complete = forecast_demand(ctx, ASK)
    assert complete.sales_through == ctx.today - DAY
    _feed_stops(ctx.engine, ctx.today - 14 * DAY)
    late = forecast_demand(ctx, ASK)
    assert late.sales_through == ctx.today - 15 * DAY
    assert late.model == complete.model
    assert [p.date for p in late.series[0].points] == [p.date for p in complete.series[0].points]
    assert late.totals.mean == pytest.approx(complete.totals.mean, rel=0.03)
    for row in late.series:
        assert all(np.isfinite(p.mean) and p.mean >= 0 for p in row.points)


def test_the_stand_in_baseline_reads_a_late_feed_the_same_way(
    any_fitted_ctx: ToolContext, tmp_path: Path
) -> None:
    """Before the pool's forecaster is fitted, the weekday-profile baseline answers; it too
    forecasts from the last known day, finite and with the feed's date."""
    unfitted = any_fitted_ctx.settings.model_copy(update={"data_dir": tmp_path})
    ctx = dataclasses.replace(any_fitted_ctx, settings=unfitted)  # no models/ in its data_dir
    complete = forecast_demand(ctx, ASK)
    assert complete.model.startswith("weekday_profile (baseline:")
    _feed_stops(ctx.engine, ctx.today - 5 * DAY)
    late = forecast_demand(ctx, ASK)
    assert late.model.startswith("weekday_profile (baseline:")
    assert late.sales_through == ctx.today - 6 * DAY
    assert np.isfinite(late.totals.mean) and late.totals.mean > 0
    assert late.totals.mean == pytest.approx(complete.totals.mean, rel=0.15)
