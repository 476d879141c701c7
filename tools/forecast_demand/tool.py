"""forecast_demand: daily mean and calibrated quantiles per SKU (or style) × location.

Uses the pool's stored forecaster (fitted ahead by `stockpilot forecast fit`); when there is
none for this pool and level, or it was fitted on days after the clock, it fits the production
model once, stores it, and says so in the model name.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import exists, select
from sqlmodel import Session

from forecasting.features import HISTORY_DAYS
from forecasting.model import ProbabilisticForecast
from forecasting.quantiles import quantile_key, validate_levels
from inventory.models import DailySales
from tools.context import ToolContext, ToolError
from tools.forecast_demand.artefacts import Artefact, load_artefact, pool_fingerprint
from tools.forecast_demand.explain import horizon_weather, series_rain
from tools.forecast_demand.fitting import fit_pool_model
from tools.forecast_demand.models import ForecastInput, ForecastOutput
from tools.forecast_demand.pool_panel import load_panel, scenario_days
from tools.forecast_demand.selection import select_series

LEVELS = ("sku", "style")


def forecast_demand(ctx: ToolContext, request: ForecastInput) -> ForecastOutput:
    """Forecast the requested series from the world's clock ``ctx.today`` on."""
    _check_request(request)
    levels = validate_levels(list(request.quantiles))
    with ctx.read() as session:
        series = select_series(session, request)
        if series.empty:
            raise ToolError(
                "no carried SKU × location (stores and online) matches the request",
                field="skus" if request.skus else "locations",
                value=request.skus or request.locations or request.style or request.city,
            )
        _check_history(session, sorted(series["sku"].unique()), ctx.today)
        keys = ["location", "sku"] if request.level == "sku" else ["location", "style"]
        n_series = len(series.drop_duplicates(keys))
        if n_series > request.limit_series:
            raise ToolError(
                f"the request matches {n_series} series, more than limit_series="
                f"{request.limit_series}; narrow it (style, category, city, locations) or raise "
                "the limit",
                field="limit_series",
                value=request.limit_series,
            )
        panel = load_panel(
            session,
            series,
            level=request.level,
            today=ctx.today,
            history_days=HISTORY_DAYS,
            horizon=request.horizon_days,
            rain=request.rain,
        )
    artefact, fitted_now = _artefact_for(ctx, request.level)
    forecast = artefact.fitted.forecast(panel, HISTORY_DAYS, request.horizon_days, levels)
    label = artefact.meta.label + (" (fitted on demand)" if fitted_now else "")
    end = ctx.today + dt.timedelta(days=request.horizon_days)
    assumed = scenario_days(request.rain, list(panel.cities), panel.dates[0].date(), end, ctx.today)
    series_rows = _series_forecasts(forecast, series, request.level)
    uplift = getattr(artefact.fitted.model, "uplift", None)
    if uplift is not None and forecast.baseline is not None:
        for row, extra in zip(
            series_rows,
            series_rain(forecast, panel, uplift, HISTORY_DAYS, assumed),
            strict=True,
        ):
            row.update(extra)
    return ForecastOutput.model_validate(
        {
            "as_of": ctx.now.isoformat(),
            "model": label,
            "backtest": {
                k: round(v, 4) for k, v in artefact.meta.backtest.items() if np.isfinite(v)
            },
            "horizon_days": request.horizon_days,
            "series": series_rows,
            "weather": horizon_weather(panel, HISTORY_DAYS, request.horizon_days, assumed),
        }
    )


def _check_request(request: ForecastInput) -> None:
    if request.level not in LEVELS:
        raise ToolError(
            f"level must be one of {', '.join(LEVELS)}, got {request.level!r}",
            field="level",
            value=request.level,
        )
    if not 1 <= request.horizon_days <= 28:
        raise ToolError(
            f"horizon_days must be 1..28, got {request.horizon_days}",
            field="horizon_days",
            value=request.horizon_days,
        )
    try:
        validate_levels(list(request.quantiles))
    except ValueError as error:
        raise ToolError(str(error), field="quantiles", value=request.quantiles) from error


def _check_history(session: Session, skus: list[str], today: dt.date) -> None:
    found = session.execute(
        select(exists().where(DailySales.sku_code.in_(skus[:900]), DailySales.date < today))
    ).scalar()
    if not found:
        raise ToolError(
            f"no sales history before {today} for the requested SKUs: cannot forecast",
            field="skus",
            value=skus[:10],
        )


def ensure_model(ctx: ToolContext, level: str = "sku") -> tuple[Artefact, bool]:
    """The stored forecaster for this pool and clock, fitted and stored first if there is none.

    The service calls it at start-up so the first alert does not wait for a fit.
    Returns the artefact and whether it had to be fitted now.
    """
    return _artefact_for(ctx, level)


def _artefact_for(ctx: ToolContext, level: str) -> tuple[Artefact, bool]:
    models_dir = ctx.settings.data_dir / "models"
    pool = pool_fingerprint(ctx.engine)
    stored = load_artefact(models_dir, pool, level)
    if stored is not None and stored.meta.data_end < ctx.today:
        return stored, False
    return fit_pool_model(ctx.engine, ctx.today, models_dir, level=level), True


def _series_forecasts(
    forecast: ProbabilisticForecast, series: pd.DataFrame, level: str
) -> list[dict[str, object]]:
    """Plain dicts, validated once by ForecastOutput (one model per point costs ~1 s at 1,500
    series × 14 days)."""
    style_of = dict(zip(series["sku"], series["style"], strict=True))
    daily_keys = [(quantile_key(q), v) for q, v in forecast.quantiles.items()]
    total_keys = [(quantile_key(q), v) for q, v in forecast.total_quantiles.items()]
    days = [day.date() for day in forecast.dates]
    means = np.round(forecast.mean.astype(np.float64), 3).tolist()
    explained = forecast.baseline is not None and forecast.rain_uplift is not None
    if explained:
        baselines = np.round(forecast.baseline.astype(np.float64), 3).tolist()
        uplifts = np.round(forecast.rain_uplift.astype(np.float64), 3).tolist()
    out = []
    for i, sid in enumerate(forecast.series_ids):
        location, code = sid.split("|", 1)
        daily = {key: values[i].tolist() for key, values in daily_keys}
        points = [
            {"date": day, "mean": means[i][h], "quantiles": {k: v[h] for k, v in daily.items()}}
            for h, day in enumerate(days)
        ]
        if explained:
            for h, point in enumerate(points):
                point["baseline"], point["rain_uplift"] = baselines[i][h], uplifts[i][h]
        out.append(
            {
                "location": location,
                "sku": code if level == "sku" else None,
                "style": style_of[code] if level == "sku" else code,
                "points": points,
                "total_mean": round(float(forecast.total_mean[i]), 3),
                "total_quantiles": {key: float(values[i]) for key, values in total_keys},
            }
        )
    return out
