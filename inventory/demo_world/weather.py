"""Load the real hourly weather of the five cities and clean it visibly.

The UCI files have gaps (NA) and a few impossible values (Beijing's 999990 mm sentinel,
Guangzhou's -9999 % humidity). Bad values become missing, never guessed; every hour keeps a
``quality`` tag naming what was wrong, and the counts go into the world's metadata and the docs.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from inventory.demo_world.vocabulary import CITY_REGION
from inventory.vocabulary import rain_band

#: Physical bounds; outside them a reading is a sensor or export error, not weather.
MAX_HOURLY_PRECIP_MM = 200.0  # China's hourly record is ≈ 202 mm (Zhengzhou 2021)
TEMP_RANGE_C = (-50.0, 50.0)
HUMIDITY_RANGE = (0.0, 100.0)

_FIELDS: tuple[tuple[str, str, tuple[float, float]], ...] = (
    ("precipitation", "precip", (0.0, MAX_HOURLY_PRECIP_MM)),
    ("TEMP", "temp", TEMP_RANGE_C),
    ("HUMI", "humidity", HUMIDITY_RANGE),
)


class WeatherDataError(ValueError):
    """The weather file is absent or does not have the columns we read."""


class CleaningCounts(BaseModel):
    """What cleaning did to one city's hourly rows."""

    city: str
    hours: int
    precip_missing: int = Field(description="NA in the source.")
    precip_bad: int = Field(description="Outside [0, 200] mm/h, set to missing.")
    temp_missing: int
    temp_bad: int
    humidity_missing: int
    humidity_bad: int
    bad_examples: list[str] = Field(default_factory=list, description="A few raw bad readings.")


class CityWeather(BaseModel):
    """One city's cleaned hourly and daily weather."""

    model_config = {"arbitrary_types_allowed": True}

    city: str
    hourly: pd.DataFrame = Field(description="ts, precipitation_mm, temp_c, humidity, quality.")
    daily: pd.DataFrame = Field(description="Columns of the weather_daily table.")
    counts: CleaningCounts


#: The real city weather shipped inside the package (CC BY 4.0; see LICENSE.md beside it).
PACKAGED_WEATHER = ("inventory", "data/weather")


def weather_file(data_dir: Path | None, city: str) -> Traversable:
    """One city's hourly file: the packaged copy, or ``data_dir/<City>.csv.gz`` when given."""
    if data_dir is not None:
        return data_dir / f"{city}.csv.gz"
    package, folder = PACKAGED_WEATHER
    return resources.files(package).joinpath(folder, f"{city}.csv.gz")


def load_city_weather(city: str, data_dir: Path | None = None) -> CityWeather:
    """Read, clean and aggregate one city's file (the packaged real weather by default)."""
    if city not in CITY_REGION:
        raise WeatherDataError(f"city={city!r} is not one of {sorted(CITY_REGION)}")
    source = weather_file(data_dir, city)
    if not source.is_file():
        raise WeatherDataError(f"weather file for city={city!r} not found at {source}")
    with source.open("rb") as handle:
        raw = pd.read_csv(
            handle,
            compression="gzip",
            usecols=["year", "month", "day", "hour", "precipitation", "TEMP", "HUMI"],
        )
    hourly, counts = clean_hourly(city, raw)
    return CityWeather(
        city=city, hourly=hourly, daily=daily_aggregates(city, hourly), counts=counts
    )


def clean_hourly(city: str, raw: pd.DataFrame) -> tuple[pd.DataFrame, CleaningCounts]:
    """Put the rows on a complete hourly grid and blank out impossible values, tagging each."""
    ts = pd.to_datetime(raw[["year", "month", "day", "hour"]])
    frame = raw.assign(ts=ts).drop_duplicates("ts").set_index("ts").sort_index()
    grid = pd.date_range(frame.index.min(), frame.index.max(), freq="h")
    frame = frame.reindex(grid)
    issues = np.full(len(frame), "", dtype=object)
    tallies: dict[str, int] = {}
    examples: list[str] = []
    cleaned: dict[str, np.ndarray] = {}
    for column, tag, (low, high) in _FIELDS:
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        missing = np.isnan(values)
        bad = ~missing & ((values < low) | (values > high))
        for i in np.flatnonzero(bad)[:3]:
            examples.append(f"{frame.index[i]:%Y-%m-%d %H:00} {column}={values[i]:g}")
        values = np.where(bad, np.nan, values)
        issues = _append_tag(issues, missing, f"{tag}_missing")
        issues = _append_tag(issues, bad, f"{tag}_bad")
        tallies[f"{tag}_missing"] = int(missing.sum())
        tallies[f"{tag}_bad"] = int(bad.sum())
        cleaned[tag] = values
    hourly = pd.DataFrame(
        {
            "ts": frame.index,
            "precipitation_mm": cleaned["precip"],
            "temp_c": cleaned["temp"],
            "humidity": cleaned["humidity"],
            "quality": np.where(issues == "", "ok", issues),
        }
    )
    counts = CleaningCounts(city=city, hours=len(hourly), bad_examples=examples, **tallies)
    return hourly, counts


def _append_tag(issues: np.ndarray, mask: np.ndarray, tag: str) -> np.ndarray:
    joined = np.where(issues == "", tag, issues + ";" + tag)
    return np.where(mask, joined, issues)


def daily_aggregates(city: str, hourly: pd.DataFrame) -> pd.DataFrame:
    """Sum rain over the observed hours of each day; the day's band follows the CMA 24 h bands.

    A day with missing hours keeps the rain that was observed (a lower bound) and says how many
    hours it saw; a day with no observed hour counts as dry for the band.
    """
    day = hourly["ts"].dt.date
    grouped = hourly.groupby(day)
    precip = grouped["precipitation_mm"]
    temp = grouped["temp_c"]
    daily = pd.DataFrame(
        {
            "precipitation_mm": precip.sum(min_count=1).fillna(0.0).round(1),
            "max_hourly_mm": precip.max().fillna(0.0),
            "temp_mean_c": temp.mean().round(2),
            "temp_min_c": temp.min(),
            "temp_max_c": temp.max(),
            "hours_observed": precip.count().astype(int),
        }
    )
    daily.index.name = "date"
    daily = daily.reset_index()
    daily.insert(0, "city", city)
    daily["rain_band"] = [rain_band(mm).value for mm in daily["precipitation_mm"]]
    return daily


def smoothed_temperature(daily: pd.DataFrame, days: int) -> pd.Series:
    """Daily mean temperature, gaps interpolated and smoothed so it carries season, not noise."""
    series = daily.set_index("date")["temp_mean_c"].astype(float)
    filled = series.interpolate(limit_direction="both")
    return filled.rolling(days, center=True, min_periods=1).mean()
