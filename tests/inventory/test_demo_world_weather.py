"""Weather cleaning: impossible readings become missing, visibly tagged and counted."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from inventory.demo_world.weather import (
    WeatherDataError,
    clean_hourly,
    daily_aggregates,
    load_city_weather,
    weather_file,
)


def _raw(precip: list[float | None], temp: list[float | None], humi: list[float | None]):
    hours = len(precip)
    return pd.DataFrame(
        {
            "year": [2014] * hours,
            "month": [7] * hours,
            "day": [1 + h // 24 for h in range(hours)],
            "hour": [h % 24 for h in range(hours)],
            "precipitation": precip,
            "TEMP": temp,
            "HUMI": humi,
        }
    )


def test_bad_and_missing_values_are_blanked_tagged_and_counted() -> None:
    precip = [0.0] * 48
    precip[3], precip[5] = 999990.0, None
    temp = [25.0] * 48
    temp[7] = 80.0
    humi = [60.0] * 48
    humi[9] = -9999.0
    hourly, counts = clean_hourly("Beijing", _raw(precip, temp, humi))

    assert (counts.precip_bad, counts.precip_missing) == (1, 1)
    assert (counts.temp_bad, counts.humidity_bad) == (1, 1)
    assert math.isnan(hourly.loc[3, "precipitation_mm"])
    assert hourly.loc[3, "quality"] == "precip_bad"
    assert hourly.loc[5, "quality"] == "precip_missing"
    assert hourly.loc[7, "quality"] == "temp_bad"
    assert hourly.loc[9, "quality"] == "humidity_bad"
    assert (hourly.drop(index=[3, 5, 7, 9])["quality"] == "ok").all()
    assert "precipitation=999990" in counts.bad_examples[0]


def test_a_gap_in_the_file_becomes_missing_hours() -> None:
    raw = _raw([1.0] * 24, [20.0] * 24, [50.0] * 24).drop(index=[10, 11])
    hourly, counts = clean_hourly("Shanghai", raw)
    assert len(hourly) == 24
    assert counts.precip_missing == 2
    assert hourly.loc[10, "quality"] == "precip_missing;temp_missing;humidity_missing"


def test_daily_sum_keeps_observed_rain_and_sets_the_cma_band() -> None:
    precip = [0.0] * 24 + [2.0] * 13 + [None] * 11  # day 2: 26 mm over 13 observed hours
    hourly, _ = clean_hourly("Guangzhou", _raw(precip, [25.0] * 48, [80.0] * 48))
    daily = daily_aggregates("Guangzhou", hourly)
    assert list(daily["rain_band"]) == ["none", "heavy"]
    assert list(daily["precipitation_mm"]) == [0.0, 26.0]
    assert list(daily["hours_observed"]) == [24, 13]
    assert daily.loc[1, "max_hourly_mm"] == 2.0


def test_real_beijing_file_has_its_sentinel_cleaned() -> None:
    weather = load_city_weather("Beijing")  # the copy shipped in the package
    assert weather.counts.precip_bad == 1
    assert weather.daily["precipitation_mm"].max() < 300
    assert weather.hourly["precipitation_mm"].max() < 200
    assert len(weather.daily) == 2191  # 2010-01-01 .. 2015-12-31


def test_unknown_city_and_missing_file_are_named(tmp_path) -> None:
    with pytest.raises(WeatherDataError, match="city='Paris'"):
        load_city_weather("Paris", tmp_path)
    with pytest.raises(WeatherDataError, match="not found"):
        load_city_weather("Beijing", tmp_path)


def test_the_weather_ships_inside_the_package_with_its_licence() -> None:
    """A clone runs without any sibling data folder: every city's file is package data, read
    through importlib.resources, with the CC BY 4.0 attribution beside it."""
    from importlib import resources

    from inventory.demo_world.vocabulary import CITY_REGION

    folder = resources.files("inventory").joinpath("data", "weather")
    for city in CITY_REGION:
        assert weather_file(None, city).is_file(), city
    licence = folder.joinpath("LICENSE.md").read_text(encoding="utf-8")
    assert "CC BY 4.0" in licence and "Liang" in licence
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '"data/weather/*.csv.gz"' in pyproject and '"data/weather/LICENSE.md"' in pyproject
