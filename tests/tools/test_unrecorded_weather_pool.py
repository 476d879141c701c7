"""A pool whose weather feed lags its sales feed: the history days without an observation take
their date's climatology (a mix of bands), not 0 mm; the rain layer leaves them out of its
estimate and the forecast reads them at their expected uplift. On SQLite and PostgreSQL, with the
fitted forecaster."""

from __future__ import annotations

import datetime as dt

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from forecasting.rain import UNKNOWN_BAND, observed_bands
from inventory.models import WeatherDaily
from tools.context import ToolContext
from tools.forecast_demand.models import ForecastInput
from tools.forecast_demand.pool_panel import load_panel
from tools.forecast_demand.selection import select_series
from tools.forecast_demand.tool import forecast_demand

DAY = dt.timedelta(days=1)
HISTORY = 60
#: The small world's last wet days before its clock (2015-07-01): Shanghai 40.9 mm on 06-26 and
#: 50.1 mm on 06-28.
FIRST_UNRECORDED = dt.date(2015, 6, 26)


def _weather(engine: Engine, *, unrecorded_from: dt.date, as_dry: bool = False) -> None:
    """The observations from ``unrecorded_from`` on never arrived (or arrived as 0 mm)."""
    table = WeatherDaily.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        since = table.c.date >= unrecorded_from
        if as_dry:
            conn.execute(sa.update(table).where(since).values(precipitation_mm=0.0))
        else:
            conn.execute(sa.delete(table).where(since))


def _panel(ctx: ToolContext):
    ask = ForecastInput(horizon_days=7, level="style", limit_series=100_000)
    with ctx.read() as session:
        series = select_series(session, ask)
        return load_panel(
            session, series, level="style", today=ctx.today, history_days=HISTORY, horizon=7
        )


def test_history_days_without_an_observation_take_their_climatology(
    any_fitted_ctx: ToolContext,
) -> None:
    ctx = any_fitted_ctx
    complete = _panel(ctx)
    lag = (ctx.today - FIRST_UNRECORDED).days
    _weather(ctx.engine, unrecorded_from=FIRST_UNRECORDED)
    late = _panel(ctx)
    known = HISTORY - lag
    assert complete.band_probability is not None and late.band_probability is not None
    # Before the gap: the same observed days, one band each.
    np.testing.assert_array_equal(
        late.band_probability[:, :known], complete.band_probability[:, :known]
    )
    np.testing.assert_array_equal(
        late.precipitation_mm[:, :known], complete.precipitation_mm[:, :known]
    )
    # The gap: a distribution over the bands, the climatological amount and temperature.
    gap = late.band_probability[:, known:HISTORY]
    np.testing.assert_allclose(gap.sum(axis=-1), 1.0, rtol=1e-5)
    assert (gap.max(axis=-1) < 1.0).all()  # these cities' late-June climate is never all dry
    assert np.isfinite(late.temp_mean_c[:, known:HISTORY]).all()
    assert (late.precipitation_mm[:, known:HISTORY] > 0).all()
    bands = observed_bands(late, HISTORY)
    assert (bands[:, known:] == UNKNOWN_BAND).all() and (bands[:, :known] >= 0).all()


def test_the_forecast_says_how_far_the_weather_is_recorded(any_fitted_ctx: ToolContext) -> None:
    ctx = any_fitted_ctx
    ask = ForecastInput(horizon_days=7, level="sku", category="umbrellas", limit_series=100_000)
    complete = forecast_demand(ctx, ask)
    assert complete.weather_through == ctx.today - DAY
    _weather(ctx.engine, unrecorded_from=FIRST_UNRECORDED)
    late = forecast_demand(ctx, ask)
    assert late.weather_through == FIRST_UNRECORDED - DAY
    assert late.sales_through == complete.sales_through  # the sales feed is on time
    assert late.model == complete.model
    assert np.isfinite(late.totals.mean) and late.totals.mean > 0
