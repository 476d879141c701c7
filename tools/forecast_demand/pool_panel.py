"""Reads the pool into a forecasting Panel: sales history, weather (real or scenario) and styles.

The pool stores sales sparsely: a carried series without a row on a day sold 0 and was in stock.
Weather for the horizon is the stored WeatherDaily of those dates (the real weather, used as a
perfect weather forecast by the demo and evals); RainScenario overrides replace it per city/day.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlmodel import Session

from forecasting.panel import Panel
from inventory.models import DailySales, Style, WeatherDaily
from tools.context import ToolError, resolve_city
from tools.forecast_demand.models import RainScenario

#: A style-day counts as censored when at least this share of its carried sizes was out.
STYLE_CENSOR_SHARE = 0.5


def series_id(location: str, code: str) -> str:
    return f"{location}|{code}"


def load_panel(
    session: Session,
    series: pd.DataFrame,
    *,
    level: str,
    today: dt.date,
    history_days: int,
    horizon: int,
    rain: list[RainScenario] | None = None,
) -> Panel:
    """The panel over [today − history_days, today + horizon) for the selected series."""
    start = today - dt.timedelta(days=history_days)
    end = today + dt.timedelta(days=horizon)
    sales = _sales(session, series, start, today)
    prices = dict(session.execute(select(Style.code, Style.price)).tuples().all())
    sales["price_ratio"] = sales["price"] / sales["style"].map(prices)
    key = "sku" if level == "sku" else "style"
    sales["series_id"] = sales["location"] + "|" + sales[key]
    if level == "style":
        sales = _to_style_level(sales, series)
        members = series.drop_duplicates(["location", "style"])
    else:
        members = series
    frame = pd.DataFrame(
        {
            "category": members["category"].to_numpy(),
            "city": members["city"].to_numpy(),
            "rain_sensitive": members["rain_sensitive"].to_numpy(),
        },
        index=pd.Index((members["location"] + "|" + members[key]).to_numpy(), name="series_id"),
    )
    weather = load_weather(session, sorted(frame["city"].unique()), start, end, rain or [])
    panel = Panel.from_frames(
        sales[["series_id", "date", "units", "stockout", "promo", "price_ratio"]],
        frame,
        weather,
        start=pd.Timestamp(start),
        end=pd.Timestamp(end),
    )
    # Sparse storage: a missing history day of a carried series is a day it sold 0, in stock.
    history = history_days
    panel.units[:, :history] = np.nan_to_num(panel.units[:, :history], nan=0.0)
    return panel


def _sales(session: Session, series: pd.DataFrame, start: dt.date, end: dt.date) -> pd.DataFrame:
    skus = sorted(series["sku"].unique())
    locations = sorted(series["location"].unique())
    query = select(
        DailySales.location_code,
        DailySales.sku_code,
        DailySales.date,
        DailySales.units,
        DailySales.price,
        DailySales.promo,
        DailySales.stockout,
    ).where(DailySales.date >= start, DailySales.date < end)
    # Bound IN-lists: SQLite caps bound parameters; the filter is finished in pandas.
    if len(skus) <= 900:
        query = query.where(DailySales.sku_code.in_(skus))
    if len(locations) <= 900:
        query = query.where(DailySales.location_code.in_(locations))
    columns = ["location", "sku", "date", "units", "price", "promo", "stockout"]
    sales = pd.DataFrame(session.execute(query).tuples().all(), columns=columns)
    pairs = series[["location", "sku", "style"]]
    sales = sales.merge(pairs, on=["location", "sku"], how="inner")
    sales["date"] = pd.to_datetime(sales["date"])
    return sales


def _to_style_level(sales: pd.DataFrame, series: pd.DataFrame) -> pd.DataFrame:
    """Sum sizes per style × location × day; censored when many of its sizes were out."""
    sizes = series.groupby(["location", "style"]).size().rename("carried")
    grouped = sales.groupby(["series_id", "location", "style", "date"], as_index=False).agg(
        units=("units", "sum"),
        out=("stockout", "sum"),
        promo=("promo", "max"),
        price_ratio=("price_ratio", "mean"),
    )
    grouped = grouped.join(sizes, on=["location", "style"])
    grouped["stockout"] = grouped["out"] >= STYLE_CENSOR_SHARE * grouped["carried"]
    return grouped


def load_weather(
    session: Session,
    cities: list[str],
    start: dt.date,
    end: dt.date,
    rain: list[RainScenario],
) -> pd.DataFrame:
    """Daily precipitation and temperature per city over [start, end), scenarios applied.

    Days the pool has no weather for are taken as dry (0 mm) so a forecast can still be made;
    a scenario outside the horizon or for an unknown city is a ToolError.
    """
    query = select(
        WeatherDaily.city,
        WeatherDaily.date,
        WeatherDaily.precipitation_mm,
        WeatherDaily.temp_mean_c,
    ).where(WeatherDaily.city.in_(cities), WeatherDaily.date >= start, WeatherDaily.date < end)
    columns = ["city", "date", "precipitation_mm", "temp_mean_c"]
    stored = pd.DataFrame(session.execute(query).tuples().all(), columns=columns)
    stored["date"] = pd.to_datetime(stored["date"])
    full = pd.MultiIndex.from_product(
        [cities, pd.date_range(start, end, inclusive="left")], names=["city", "date"]
    )
    weather = stored.set_index(["city", "date"]).reindex(full)
    weather["precipitation_mm"] = weather["precipitation_mm"].fillna(0.0)
    for scenario in rain:
        city = resolve_city(session, scenario.city, field="rain.city")
        first = pd.Timestamp(scenario.start)
        last = first + pd.Timedelta(days=scenario.days - 1)
        if first < pd.Timestamp(start) or last >= pd.Timestamp(end):
            raise ToolError(
                f"rain scenario {scenario.start}..{last.date()} lies outside the forecast "
                f"window {start}..{end - dt.timedelta(days=1)}",
                field="rain.start",
                value=str(scenario.start),
            )
        if city not in cities:
            continue  # no selected series in that city: nothing to change
        days = pd.date_range(first, last)
        weather.loc[(city, days), "precipitation_mm"] = scenario.precipitation_mm_per_day
    return weather.reset_index()
