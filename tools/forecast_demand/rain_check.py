"""The rain check on a pool at a clock (forecasting/rain_check.py), for benchmarks and docs.

Two windows, each day's band given to the model as an alert of that band would give it:
- ``history``: the last weeks before the clock, against in-stock sales;
- ``future`` (demo worlds only): the days after the clock, against the world's uncensored
  ``future_demand`` — the replay evals score. Reading the observed weather of those days is
  hindsight, allowed here because it plays the role of a perfect alert; no tool does it.
The true multipliers come from the world's recorded parameters when the pool is a demo world.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from forecasting.features import HISTORY_DAYS
from forecasting.global_model import GlobalModelConfig
from forecasting.model import FittedForecaster, fit_calibrated
from forecasting.rain import BANDS, band_codes, one_hot_bands
from forecasting.rain_check import (
    Truth,
    band_checks,
    band_truth,
    rain_check,
    rain_model,
    wet_ratios,
)
from inventory.models import FutureDemand, WeatherDaily, WorldMeta
from tools.forecast_demand.fitting import FIT_HISTORY_DAYS, pool_panel
from tools.forecast_demand.pool_panel import load_panel
from tools.forecast_demand.selection import select_series


def world_truth(engine: Engine) -> Truth | None:
    """The demo world's rain multipliers by channel, or None for a real pool."""
    with Session(engine) as session:
        row = session.execute(select(WorldMeta.value).where(WorldMeta.key == "world")).first()
    if row is None:
        return None
    params = (row[0] or {}).get("parameters")
    if not params:
        return None
    order = [str(b) for b in BANDS]
    return band_truth(
        [float(params["rain_uplift"][b]) for b in order],
        [float(params["store_footfall"][b]) for b in order],
        online_shift=float(params["online_shift"]),
        online_share=float(params["online_share"]),
        online_rain_fraction=float(params["online_rain_fraction"]),
    )


def pool_rain_check(
    engine: Engine,
    today: dt.date,
    *,
    origins: int = 8,
    horizon: int = 7,
    future_days: int = 28,
    min_realised: float = 20.0,
    config: GlobalModelConfig | None = None,
    history: bool = True,
) -> dict[str, object]:
    """``{"history": RainCheckReport | None, "future": {...} | None, "bands_at_clock": [...]}``
    as plain dicts; ``history=False`` skips the window before the clock (one fit fewer)."""
    truth = world_truth(engine)
    panel = pool_panel(engine, today, "sku", FIT_HISTORY_DAYS)
    before = (
        rain_check(
            panel,
            panel.n_days,
            origins=origins,
            horizon=horizon,
            truth=truth,
            min_realised=min_realised,
            config=config,
        ).model_dump(mode="json")
        if history
        else None
    )
    fitted = fit_calibrated(rain_model(config), panel, panel.n_days)
    future = _future_check(engine, today, fitted, future_days, min_realised)
    return {
        "clock": str(today),
        "history": before,
        "future": future,
        # The model fitted on everything before the clock (what the tools use).
        "bands_at_clock": [b.model_dump() for b in band_checks(fitted, truth)],
    }


def _future_check(
    engine: Engine,
    today: dt.date,
    fitted: FittedForecaster,
    days: int,
    min_realised: float,
) -> dict[str, object] | None:
    with Session(engine) as session:
        demand = pd.DataFrame(
            session.execute(
                select(
                    FutureDemand.location_code,
                    FutureDemand.sku_code,
                    FutureDemand.date,
                    FutureDemand.units,
                ).where(FutureDemand.date >= today)
            ).all(),
            columns=["location", "sku", "date", "units"],
        )
        if demand.empty:
            return None
        last = pd.to_datetime(demand["date"]).max().date()
        horizon = min(days, (last - today).days + 1, fitted.max_horizon)
        series = select_series(session, None)
        panel = load_panel(
            session, series, level="sku", today=today, history_days=HISTORY_DAYS, horizon=horizon
        )
        end = today + dt.timedelta(days=horizon)
        observed = pd.DataFrame(
            session.execute(
                select(WeatherDaily.city, WeatherDaily.date, WeatherDaily.precipitation_mm).where(
                    WeatherDaily.date >= today, WeatherDaily.date < end
                )
            ).all(),
            columns=["city", "date", "mm"],
        )
    observed["date"] = pd.to_datetime(observed["date"])
    wide = (
        observed.pivot_table(index="city", columns="date", values="mm")
        .reindex(index=list(panel.cities), columns=panel.dates[HISTORY_DAYS:])
        .fillna(0.0)
        .to_numpy(np.float32)
    )
    rain = panel.precipitation_mm.copy()
    rain[:, HISTORY_DAYS:] = wide
    chance = panel.band_probability.copy()
    chance[:, HISTORY_DAYS:] = one_hot_bands(wide)
    hindsight = dataclasses.replace(panel, precipitation_mm=rain, band_probability=chance)
    forecast = fitted.forecast(hindsight, HISTORY_DAYS, horizon)
    sid = demand["location"] + "|" + demand["sku"]
    row = pd.Index(panel.series.index).get_indexer(sid)
    col = (pd.to_datetime(demand["date"]) - panel.dates[HISTORY_DAYS]).dt.days.to_numpy()
    keep = (row >= 0) & (col >= 0) & (col < horizon)
    actual = np.zeros_like(forecast.mean)
    actual[row[keep], col[keep]] = demand["units"].to_numpy()[keep]
    usable = np.ones_like(actual, dtype=bool)
    bands = band_codes(wide)[panel.city_index]
    summary = wet_ratios(panel, forecast.mean, actual, usable, bands, min_realised=min_realised)
    summary["wet_city_category"] = [r.model_dump() for r in summary["wet_city_category"]]
    return {
        "window": f"{today}..{end - dt.timedelta(days=1)}",
        "realised_from": "future_demand (uncensored)",
        "heavy_city_days": {
            city: int(np.isin(band_codes(wide[i]), (3, 4)).sum())
            for i, city in enumerate(panel.cities)
        },
        **summary,
    }
