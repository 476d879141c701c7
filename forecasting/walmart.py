"""Real-data check: does weather help on real sales? Walmart store 1, item 9, with NOAA weather.

One series, so the global model trains on many origins (every 3 days) of its own history, and the
backtest uses many folds; the comparison is the same model with and without weather features,
overall and on wet days (≥ 10 mm).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel

from forecasting.backtest import ALL, WET_RAIN, BacktestConfig, run_backtest
from forecasting.baselines import SeasonalNaive, WeekdayProfile
from forecasting.global_model import GlobalBoostingForecaster, GlobalModelConfig
from forecasting.panel import Panel

MM_PER_INCH = 25.4
WALMART_FILE = Path("walmart-stormy") / "store1_item9_daily.csv"


class WeatherCheck(BaseModel):
    """The figures the note and the test record."""

    days: int
    folds: int
    wet_days_scored: int
    rmsse_with_weather: float
    rmsse_without_weather: float
    wet_rmsse_with_weather: float
    wet_rmsse_without_weather: float
    rmsse_weekday_profile: float
    rmsse_seasonal_naive: float

    @property
    def rmsse_ratio(self) -> float:
        """With ÷ without weather, all days (below 1: weather helps)."""
        return self.rmsse_with_weather / self.rmsse_without_weather

    @property
    def wet_rmsse_ratio(self) -> float:
        return self.wet_rmsse_with_weather / self.wet_rmsse_without_weather


def load_walmart_panel(shared_data_dir: Path) -> Panel:
    """The CSV as a one-series panel: units, precipitation (inches → mm), mean temperature."""
    path = shared_data_dir / WALMART_FILE
    raw = pd.read_csv(path, parse_dates=["date"])
    missing = {"date", "units", "preciptotal", "tavg"} - set(raw.columns)
    if missing:
        raise ValueError(f"{path} lacks columns {sorted(missing)}")
    # Closed days (Christmas) have no row: no sales observed, weather taken as dry.
    full = pd.date_range(raw["date"].min(), raw["date"].max(), freq="D")
    raw = raw.set_index("date").reindex(full).rename_axis("date").reset_index()
    # NOAA writes trace precipitation and gaps as NaN here: trace is < 0.01 in, dry for us.
    rain = raw["preciptotal"].fillna(0.0).clip(lower=0.0) * MM_PER_INCH
    temp_c = (raw["tavg"] - 32.0) * 5.0 / 9.0
    series = pd.DataFrame(
        {"category": ["walmart_item9"], "city": ["station1"], "rain_sensitive": [True]},
        index=pd.Index(["store1|item9"], name="series_id"),
    )
    sales = pd.DataFrame({"series_id": "store1|item9", "date": raw["date"], "units": raw["units"]})
    weather = pd.DataFrame(
        {"city": "station1", "date": raw["date"], "precipitation_mm": rain, "temp_mean_c": temp_c}
    )
    start, end = raw["date"].min(), raw["date"].max() + pd.Timedelta(days=1)
    return Panel.from_frames(sales, series, weather, start=start, end=end)


def weather_check(shared_data_dir: Path, *, folds: int = 10, horizon: int = 14) -> WeatherCheck:
    panel = load_walmart_panel(shared_data_dir)

    def global_model(use_weather: bool) -> GlobalBoostingForecaster:
        return GlobalBoostingForecaster(
            GlobalModelConfig(
                max_horizon=horizon,
                origins=120,
                origin_step_days=3,
                max_iter=80,
                min_samples_leaf=20,
                use_weather=use_weather,
                fit_threads=1,
            )
        )

    config = BacktestConfig(horizon=horizon, folds=folds)
    report = run_backtest(
        panel,
        {
            "with_weather": lambda: global_model(True),
            "without_weather": lambda: global_model(False),
            "weekday_profile": WeekdayProfile,
            "seasonal_naive": SeasonalNaive,
        },
        config,
    )
    return WeatherCheck(
        days=panel.n_days,
        folds=folds,
        wet_days_scored=int(report.metric("with_weather", WET_RAIN, "days")),
        rmsse_with_weather=report.metric("with_weather", ALL, "rmsse"),
        rmsse_without_weather=report.metric("without_weather", ALL, "rmsse"),
        wet_rmsse_with_weather=report.metric("with_weather", WET_RAIN, "rmsse"),
        wet_rmsse_without_weather=report.metric("without_weather", WET_RAIN, "rmsse"),
        rmsse_weekday_profile=report.metric("weekday_profile", ALL, "rmsse"),
        rmsse_seasonal_naive=report.metric("seasonal_naive", ALL, "rmsse"),
    )


class BandUpliftCheck(BaseModel):
    """Per CMA band: the uplift the rain layer estimates from the older days against the one
    observed (same comparable-dry-day method) on the held-out last ``holdout_days``."""

    band: str
    estimated: float
    estimated_days: int
    observed: float | None
    observed_days: int
    raw_ratio_all_days: float | None  # mean units on the band's days ÷ on dry days, no controls


def band_uplift_check(shared_data_dir: Path, *, holdout_days: int = 365) -> list[BandUpliftCheck]:
    """Walmart store 1 item 9: estimated (training years) vs observed (hold-out year) uplift."""
    from forecasting.rain import BANDS, band_codes, estimate_uplift

    panel = load_walmart_panel(shared_data_dir)
    cut = panel.n_days - holdout_days
    fitted = estimate_uplift(panel, cut).table.set_index("band")
    held = estimate_uplift(panel.since(cut)).table.set_index("band")
    bands = band_codes(panel.precipitation_mm[0])
    units = panel.units[0]
    dry = float(np.nanmean(units[bands == 0]))
    out = []
    for b in range(1, len(BANDS)):
        on_band = units[bands == b]
        on_band = on_band[~np.isnan(on_band)]
        fitted_row = fitted.loc[b] if b in fitted.index else None
        held_row = held.loc[b] if b in held.index else None
        out.append(
            BandUpliftCheck(
                band=str(BANDS[b]),
                estimated=round(float(fitted_row["uplift"]), 3) if fitted_row is not None else 1.0,
                estimated_days=int(fitted_row["days"]) if fitted_row is not None else 0,
                observed=(
                    round(float(held_row["raw"]), 3)
                    if held_row is not None and np.isfinite(held_row["raw"])
                    else None
                ),
                observed_days=int(held_row["days"]) if held_row is not None else 0,
                raw_ratio_all_days=round(float(on_band.mean()) / dry, 3) if len(on_band) else None,
            )
        )
    return out


def main() -> None:  # pragma: no cover - manual entry point
    from inventory.config import get_settings

    data = get_settings().shared_data_dir
    if data is None or not (data / WALMART_FILE).exists():
        where = "STOCKPILOT_SHARED_DATA_DIR is unset" if data is None else f"not at {data}"
        print(f"skipped: the Walmart file ({WALMART_FILE}): {where}")
        return
    for row in band_uplift_check(data):
        print(row.model_dump_json())
    check = weather_check(data)
    print(check.model_dump_json())
    print(f"rmsse ratio {check.rmsse_ratio:.3f}, wet {check.wet_rmsse_ratio:.3f}")


if __name__ == "__main__":  # pragma: no cover
    main()
