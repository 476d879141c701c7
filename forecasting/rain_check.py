"""How well the forecast carries rain: the numbers issue 10 asks for, on any panel.

- per band: the uplift the model estimated (all rain / all other categories, per channel) against
  the true multiplier when it is known (the demo world's parameters);
- the forecast's response to a 暴雨 (75 mm) against a dry day, for rain categories in stores;
- city × category forecast ÷ realised on 大雨/暴雨 days, each day's band given to the model as an
  alert of that band would give it (target 0.8–1.25).

Realised demand: in-stock sales (stock-out days are left out, their sales understate demand), or
uncensored demand when the caller has it (the demo world's ``future_demand``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from forecasting.features import FeatureBuilder
from forecasting.global_model import GlobalBoostingForecaster, GlobalModelConfig
from forecasting.model import FittedForecaster, fit_calibrated
from forecasting.panel import Panel
from forecasting.rain import BANDS, band_codes, one_hot_bands, series_channels
from forecasting.rain_model import RainUpliftForecaster
from inventory.vocabulary import RAIN_BAND_ZH

TARGET_LOW, TARGET_HIGH = 0.8, 1.25
HEAVY_BANDS = (3, 4)

#: (channel, "rain" | "other") → multiplier per band index 0..4.
Truth = dict[tuple[str, str], list[float]]


class BandCheck(BaseModel):
    band: str
    band_zh: str
    channel: str
    categories: str = Field(description="rain | other")
    estimated: float
    true: float | None
    ratio: float | None = Field(description="estimated ÷ true (target 0.75–1.25)")
    days: int = Field(description="City-days of the band behind the estimate.")


class CityCategoryCheck(BaseModel):
    city: str
    category: str
    channel: str
    forecast: float
    realised: float
    ratio: float | None
    cells: int
    days: int


class RainCheckReport(BaseModel):
    model: str
    origins: list[str]
    horizon: int
    realised_from: str
    bands: list[BandCheck]
    response_75mm_vs_dry: float = Field(description="Rain categories in stores, Σ forecast ratio.")
    wet_city_category: list[CityCategoryCheck]
    wet_ratio_pooled: float | None
    wet_ratio_median: float | None
    wet_ratio_min: float | None
    wet_ratio_max: float | None
    wet_share_in_target: float | None = Field(description="Share of cells within 0.8–1.25.")
    wet_cells_min_realised: float
    dry_ratio_pooled: float | None = Field(
        description="Σ forecast ÷ Σ realised on dry days (band 0): the baseline's own bias."
    )
    all_days_ratio_pooled: float | None
    dry_ratio_by_category: dict[str, float] = Field(
        default_factory=dict,
        description="Per category (all channels): Σ forecast ÷ Σ realised "
        "on dry days, where the rain layer is 1 and only the baseline speaks.",
    )


def rain_model(config: GlobalModelConfig | None = None) -> RainUpliftForecaster:
    """The production rain model, optionally with a given baseline configuration."""
    if config is None:
        return RainUpliftForecaster()
    baseline = GlobalBoostingForecaster(
        config.model_copy(update={"use_weather": False, "use_temperature": True})
    )
    return RainUpliftForecaster(baseline)


def band_truth(
    rain_uplift: list[float],
    store_footfall: list[float],
    *,
    online_shift: float,
    online_share: float,
    online_rain_fraction: float,
) -> Truth:
    """The demo world's multipliers by channel (its documented online formulas)."""
    rain, foot = np.asarray(rain_uplift), np.asarray(store_footfall)
    return {
        ("store", "rain"): rain.tolist(),
        ("store", "other"): foot.tolist(),
        ("online", "rain"): (1.0 + online_rain_fraction * (rain - 1.0)).tolist(),
        ("online", "other"): (1.0 + online_shift * (1.0 - foot) / online_share).tolist(),
    }


def rain_check(
    panel: Panel,
    end: int,
    *,
    fitted: FittedForecaster | None = None,
    origins: int = 8,
    horizon: int = 7,
    truth: Truth | None = None,
    min_realised: float = 20.0,
    config: GlobalModelConfig | None = None,
) -> RainCheckReport:
    """Fit once before the first origin (unless ``fitted`` is given) and score ``origins``
    consecutive windows of ``horizon`` days ending at column ``end``, each day's band known.

    City × category cells with fewer than ``min_realised`` units realised on heavy days are left
    out of the ratio summary (their ratio is noise), but listed.
    """
    first = end - origins * horizon
    if fitted is None:
        fitted = fit_calibrated(rain_model(config), panel, first)
    known = dataclasses.replace(panel, band_probability=one_hot_bands(panel.precipitation_mm))
    means, actuals, usables, starts = [], [], [], []
    for k in range(origins):
        origin = first + k * horizon
        forecast = fitted.forecast(known, origin, horizon)
        actual, usable = FeatureBuilder.targets(panel, origin, horizon)
        means.append(forecast.mean)
        actuals.append(np.nan_to_num(actual.reshape(forecast.mean.shape)))
        usables.append(usable.reshape(forecast.mean.shape))
        starts.append(str(panel.dates[origin].date()))
    mean = np.concatenate(means, axis=1)
    actual = np.concatenate(actuals, axis=1)
    usable = np.concatenate(usables, axis=1)
    bands = band_codes(panel.precipitation_mm[:, first:end])[panel.city_index]
    report = wet_ratios(panel, mean, actual, usable, bands, min_realised=min_realised)
    return RainCheckReport(
        model=fitted.name,
        origins=starts,
        horizon=horizon,
        realised_from="in-stock sales (stock-out days left out)",
        bands=band_checks(fitted, truth),
        response_75mm_vs_dry=storm_response(fitted, panel, end - horizon, horizon),
        **report,
    )


def wet_ratios(
    panel: Panel,
    mean: np.ndarray,
    actual: np.ndarray,
    usable: np.ndarray,
    bands: np.ndarray,
    *,
    min_realised: float,
) -> dict[str, object]:
    """City × category × channel Σ forecast ÷ Σ realised over usable heavy-band cells."""
    heavy = usable & np.isin(bands, HEAVY_BANDS)
    keys = pd.DataFrame(
        {
            "city": panel.series["city"].astype(str).to_numpy(),
            "category": panel.series["category"].astype(str).to_numpy(),
            "channel": series_channels(panel),
        }
    )
    keys["forecast"] = np.where(heavy, mean, 0.0).sum(axis=1)
    keys["realised"] = np.where(heavy, actual, 0.0).sum(axis=1)
    keys["cells"] = heavy.sum(axis=1)
    keys["days"] = 0
    grouped = keys.groupby(["city", "category", "channel"], as_index=False).agg(
        forecast=("forecast", "sum"), realised=("realised", "sum"), cells=("cells", "sum")
    )
    city_days = {
        city: int(np.isin(bands[panel.city_index == i], HEAVY_BANDS).any(axis=0).sum())
        for i, city in enumerate(panel.cities)
    }
    rows = []
    for row in grouped.itertuples(index=False):
        if row.cells == 0:
            continue
        rows.append(
            CityCategoryCheck(
                city=row.city,
                category=row.category,
                channel=row.channel,
                forecast=round(float(row.forecast), 2),
                realised=round(float(row.realised), 2),
                ratio=round(float(row.forecast / row.realised), 3) if row.realised > 0 else None,
                cells=int(row.cells),
                days=city_days.get(row.city, 0),
            )
        )
    scored = [r for r in rows if r.realised >= min_realised and r.ratio is not None]
    ratios = np.array([r.ratio for r in scored])
    total_f = sum(r.forecast for r in rows)
    total_r = sum(r.realised for r in rows)
    dry = usable & (bands == 0)
    by_category = (
        pd.DataFrame(
            {
                "category": keys["category"],
                "forecast": np.where(dry, mean, 0.0).sum(axis=1),
                "realised": np.where(dry, actual, 0.0).sum(axis=1),
            }
        )
        .groupby("category")[["forecast", "realised"]]
        .sum()
    )
    by_category = by_category[by_category["realised"] >= min_realised]
    dry_r, all_r = float(np.where(dry, actual, 0).sum()), float(np.where(usable, actual, 0).sum())
    return {
        "wet_city_category": rows,
        "wet_ratio_pooled": round(total_f / total_r, 3) if total_r > 0 else None,
        "wet_ratio_median": round(float(np.median(ratios)), 3) if len(ratios) else None,
        "wet_ratio_min": round(float(ratios.min()), 3) if len(ratios) else None,
        "wet_ratio_max": round(float(ratios.max()), 3) if len(ratios) else None,
        "wet_share_in_target": (
            round(float(np.mean((ratios >= TARGET_LOW) & (ratios <= TARGET_HIGH))), 3)
            if len(ratios)
            else None
        ),
        "wet_cells_min_realised": min_realised,
        "dry_ratio_pooled": (
            round(float(np.where(dry, mean, 0).sum()) / dry_r, 3) if dry_r > 0 else None
        ),
        "dry_ratio_by_category": {
            str(category): round(float(row.forecast / row.realised), 3)
            for category, row in by_category.iterrows()
        },
        "all_days_ratio_pooled": (
            round(float(np.where(usable, mean, 0).sum()) / all_r, 3) if all_r > 0 else None
        ),
    }


def band_checks(fitted: FittedForecaster, truth: Truth | None) -> list[BandCheck]:
    uplift = getattr(fitted.model, "uplift", None)
    if uplift is None:
        return []
    out = []
    for row in uplift.group.itertuples(index=False):
        kind = "rain" if row.rain_sensitive else "other"
        band = BANDS[int(row.band)]
        true = truth.get((row.channel, kind)) if truth else None
        true_value = float(true[int(row.band)]) if true else None
        out.append(
            BandCheck(
                band=str(band),
                band_zh=RAIN_BAND_ZH[band],
                channel=row.channel,
                categories=kind,
                estimated=round(float(row.uplift), 3),
                true=true_value,
                ratio=round(float(row.uplift) / true_value, 3) if true_value else None,
                days=int(row.days),
            )
        )
    return out


def storm_response(fitted: FittedForecaster, panel: Panel, origin: int, horizon: int) -> float:
    """Σ forecast of rain categories in stores with every horizon day 75 mm ÷ with it dry.

    Works for any model: both the band probabilities and the precipitation are set."""
    rows = panel.series["rain_sensitive"].to_numpy(bool) & (series_channels(panel) == "store")
    if not rows.any():
        return float("nan")
    part = panel.take(np.flatnonzero(rows))

    def at(mm: float) -> float:
        rain = part.precipitation_mm.copy()
        rain[:, origin : origin + horizon] = mm
        chance = one_hot_bands(rain)
        scenario = dataclasses.replace(part, precipitation_mm=rain, band_probability=chance)
        return float(fitted.forecast(scenario, origin, horizon).mean.sum())

    dry = at(0.0)
    return round(at(75.0) / dry, 3) if dry > 0 else float("nan")
