"""Reads the pool into a forecasting Panel: sales history, weather and styles.

The pool stores sales sparsely: a carried series without a row on a day sold 0 and was in stock.

Weather: only what is known at the clock. History days (before ``today``) carry the observed
WeatherDaily. A horizon day (``today`` on) never reads the stored observation, even when the
pool has one (the demo world stores the whole record): it takes the band and amount of a
RainScenario (an alert, or a weather forecast given as input) covering that city and day, else
the city's **climatology** for the date — the band frequencies of past same-season days — so
the rain model applies the expected uplift over those bands.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlmodel import Session

from forecasting.panel import Panel, with_planned_promos
from forecasting.rain import Climate, climatology, one_hot_bands
from inventory.clock import as_utc
from inventory.models import DailySales, Location, PromoPlan, Style, WeatherDaily
from tools.context import ToolError, resolve_city
from tools.forecast_demand.models import RainScenario

#: A style-day counts as censored when at least this share of its carried sizes was out.
STYLE_CENSOR_SHARE = 0.5
#: Years of past weather the climatology of a horizon day reads.
CLIMATE_YEARS = 10


class Unread:
    """``load_panel``'s ``sales_through`` not given: it reads it."""


UNREAD = Unread()


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
    known_at: dt.datetime | None = None,
    sales_through: dt.date | Unread | None = UNREAD,
) -> Panel:
    """The panel over [today − history_days, today + horizon) for the selected series.

    The horizon's promos are the retailer's plans (``PromoPlan``) made before ``known_at`` (the
    clock; default the start of ``today``, UTC): a plan made later is not known yet.
    ``sales_through``: the pool's ``sales_recorded_through``, when the caller has read it."""
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
            "channel": members["channel"].to_numpy(),
            # A style's promo reaches its series' days without a sales row (Panel.from_frames).
            "style": members["style"].to_numpy(),
        },
        index=pd.Index((members["location"] + "|" + members[key]).to_numpy(), name="series_id"),
    )
    cities = sorted(set(frame["city"]) | set(exposure_cities(session, frame)))
    weather, probability = load_weather(session, cities, start, today, end)
    panel = Panel.from_frames(
        sales[["series_id", "date", "units", "stockout", "promo", "price_ratio"]],
        frame,
        weather,
        start=pd.Timestamp(start),
        end=pd.Timestamp(end),
        weather_cities=cities,
    )
    # Sparse storage: a missing history day of a carried series is a day it sold 0, in stock;
    # but only up to the pool's newest recorded sale (``unknown_days``).
    if isinstance(sales_through, Unread):
        sales_through = sales_recorded_through(session, today)
    recorded = history_days - unknown_days(start, today, sales_through)
    panel.units[:, :recorded] = np.nan_to_num(panel.units[:, :recorded], nan=0.0)
    panel.band_probability = probability[pd.Index(cities).get_indexer(panel.cities)]
    one_day = dt.timedelta(days=1)
    if horizon > 0:
        known = known_at or dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC)
        promos = known_promos(session, list(frame["style"]), today, end - one_day, known)
        panel = with_planned_promos(panel, planned_promo_depth(promos, frame, panel.dates, today))
    return with_rain(session, panel, rain, today) if rain else panel


@dataclasses.dataclass(frozen=True)
class KnownPromo:
    """A planned promo of the horizon that was known at the clock (a ``PromoPlan`` row)."""

    style: str
    location: str | None  # None: every location
    start: dt.date
    end: dt.date
    depth: float
    planned_at: dt.datetime


def known_promos(
    session: Session, styles: list[str], today: dt.date, last: dt.date, known_at: dt.datetime
) -> list[KnownPromo]:
    """The plans of ``styles`` with a day in [today, last], made before ``known_at``; a plan
    made at or after the clock is not known yet (the same rule as the weather's)."""
    if last < today or not styles:
        return []
    query = select(
        PromoPlan.style_code,
        PromoPlan.location_code,
        PromoPlan.start,
        PromoPlan.end,
        PromoPlan.depth,
        PromoPlan.planned_at,
    ).where(PromoPlan.start <= last, PromoPlan.end >= today)
    wanted = sorted(set(styles))
    if len(wanted) <= 900:  # bound IN-lists, as _sales does; otherwise filtered below
        query = query.where(PromoPlan.style_code.in_(wanted))
    known_at = as_utc(known_at)
    found = []
    for style, location, start, end, depth, planned_at in session.execute(query).tuples():
        if style in wanted and as_utc(planned_at) < known_at and 0 < depth < 1:
            found.append(KnownPromo(style, location, start, end, float(depth), as_utc(planned_at)))
    return sorted(found, key=lambda p: (p.start, p.style, p.location or ""))


def planned_promo_depth(
    promos: list[KnownPromo], series: pd.DataFrame, dates: pd.DatetimeIndex, today: dt.date
) -> np.ndarray:
    """Planned discount per series × day from ``today`` on (0: none; the largest where plans
    overlap). ``series`` is indexed by ``location|code`` and has a ``style`` column. History
    days stay 0: their rows (and their style's rows) say what really happened."""
    depth = np.zeros((len(series), len(dates)), dtype=np.float32)
    styles = series["style"].to_numpy()
    locations = np.array([str(i).split("|", 1)[0] for i in series.index])
    first, last = dates[0].date(), dates[-1].date()
    for promo in promos:
        rows = styles == promo.style
        if promo.location is not None:
            rows &= locations == promo.location
        lo = (max(promo.start, today, first) - first).days
        hi = (min(promo.end, last) - first).days + 1
        if hi > lo:
            depth[rows, lo:hi] = np.maximum(depth[rows, lo:hi], promo.depth)
    return depth


def with_rain(session: Session, panel: Panel, rain: list[RainScenario], today: dt.date) -> Panel:
    """``panel`` (loaded without scenarios: climatology over the horizon) with each scenario
    day's amount and its band (with certainty) set, without reading the pool's sales and
    weather again: a plan's rain and dry forecasts share one load. A scenario outside the
    horizon or for an unknown city is a ToolError (``scenario_days``)."""
    cities = list(panel.cities)
    start, end = panel.dates[0].date(), panel.dates[-1].date() + dt.timedelta(days=1)
    assumed = scenario_days(session, rain, cities, start, end, today)
    if not assumed:
        return panel
    assert panel.band_probability is not None  # load_panel sets it
    mm = panel.precipitation_mm.copy()
    probability = panel.band_probability.copy()
    for (city, day), amount in assumed.items():
        i, j = cities.index(city), panel.index_of(day)
        mm[i, j] = amount
        probability[i, j] = one_hot_bands(np.array([amount]))[0]
    return dataclasses.replace(panel, precipitation_mm=mm, band_probability=probability)


def exposure_cities(session: Session, series: pd.DataFrame) -> list[str]:
    """Cities whose weather an online series needs: every city the pool has stores in (its
    rain exposure mixes them, forecasting/rain.py); none when no online series is selected."""
    if not (series["channel"] == "online").any():
        return []
    query = select(Location.city).where(Location.kind == "store").distinct()
    return sorted(str(city) for city in session.execute(query).scalars() if city)


def sales_recorded_through(session: Session, today: dt.date) -> dt.date | None:
    """The newest day before ``today`` with any recorded sale in the pool: how far its sales
    history is known (None: no sales at all)."""
    return session.execute(
        select(func.max(DailySales.date)).where(DailySales.date < today)
    ).scalar()


def unknown_days(start: dt.date, today: dt.date, sales_through: dt.date | None) -> int:
    """How many of the history days [start, today) come after the pool's newest recorded sale.

    Up to it, a day without a row of a series means it sold 0. The days after it are not
    imported yet (a nightly feed that is late): they stay unknown (NaN), as a day out of stock
    from the start does, and a forecast runs from the last known day over them
    (``FittedForecaster.forecast``). Read as zeros they pulled the forecast down: umbrellas at
    the demo world's clock, 7 days, −1.6 / −4.7 / −15.5 % per style and −1.3 / −3.2 / −20.0 % per
    size for 1 / 3 / 7 such days; from the last known day +0.2 / +0.7 / +1.7 % and +0.7 / +2.0 /
    +2.1 %. A window with no recorded sale at all keeps the zeros: no level to read around."""
    if sales_through is None or sales_through < start:
        return 0
    return max(0, (today - sales_through).days - 1)


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
    today: dt.date,
    end: dt.date,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Daily weather per city over [start, end) and its band probabilities (cities, days, 5).

    Before ``today``: the stored observation; a day without one (a weather feed that lags the
    sales feed, or a gap) takes its date's climatology, as the horizon does, and stays a mix of
    bands (``forecasting.rain.observed_bands`` leaves it out of the uplift's estimate). From
    ``today``: climatology — never a stored row dated ``today`` or later; a scenario's days
    are set on the panel afterwards (``with_rain``).
    """
    stored = _stored_weather(session, cities, start, min(today, end))
    days = pd.date_range(start, end, inclusive="left")
    full = pd.MultiIndex.from_product([cities, days], names=["city", "date"])
    weather = stored.set_index(["city", "date"]).reindex(full)
    shape = (len(cities), len(days))
    rain_mm = weather["precipitation_mm"].to_numpy(dtype=np.float32).reshape(shape)
    temp = weather["temp_mean_c"].to_numpy(dtype=float).reshape(shape)
    past = days < pd.Timestamp(today)
    recorded = ~np.isnan(rain_mm) & past[None, :]
    probability = np.zeros((*shape, 5), dtype=np.float32)
    probability[recorded] = one_hot_bands(rain_mm[recorded])
    needed = ~recorded.all(axis=0)  # the horizon, and history days some city has no row for
    if needed.any():
        climate = horizon_climate(session, cities, today, days[needed])
        fill = ~recorded[:, needed]
        probability[:, needed] = np.where(
            fill[..., None], climate.probability, probability[:, needed]
        )
        rain_mm[:, needed] = np.where(fill, climate.mean_mm, rain_mm[:, needed])
        temp[:, needed] = np.where(fill, climate.mean_temp_c, temp[:, needed])
    weather["precipitation_mm"] = rain_mm.reshape(-1)
    weather["temp_mean_c"] = temp.reshape(-1)
    return weather.reset_index(), probability


def _stored_weather(
    session: Session, cities: list[str], start: dt.date, before: dt.date
) -> pd.DataFrame:
    """Observed rows over [start, before); ``before`` is at most the clock's day."""
    query = select(
        WeatherDaily.city,
        WeatherDaily.date,
        WeatherDaily.precipitation_mm,
        WeatherDaily.temp_mean_c,
    ).where(WeatherDaily.city.in_(cities), WeatherDaily.date >= start, WeatherDaily.date < before)
    columns = ["city", "date", "precipitation_mm", "temp_mean_c"]
    stored = pd.DataFrame(session.execute(query).tuples().all(), columns=columns)
    stored["date"] = pd.to_datetime(stored["date"])
    stored["temp_mean_c"] = stored["temp_mean_c"].astype(float)
    return stored


def horizon_climate(
    session: Session, cities: list[str], today: dt.date, horizon: pd.DatetimeIndex
) -> Climate:
    """Climatology of the horizon days from the observations before ``today`` only."""
    first = today - dt.timedelta(days=365 * CLIMATE_YEARS)
    return climatology(_stored_weather(session, cities, first, today), cities, horizon)


def scenario_days(
    session: Session,
    rain: list[RainScenario],
    cities: list[str],
    start: dt.date,
    end: dt.date,
    today: dt.date,
) -> dict[tuple[str, pd.Timestamp], float]:
    """(city, day) → assumed mm/day for every horizon day a scenario covers (later ones win).

    Days of a scenario before the clock are ignored (the past was observed); a scenario that
    ends before the clock or runs past the window is a ToolError.
    """
    out: dict[tuple[str, pd.Timestamp], float] = {}
    for scenario in rain:
        city = resolve_city(session, scenario.city, field="rain.city")
        first = pd.Timestamp(scenario.start)
        last = first + pd.Timedelta(days=scenario.days - 1)
        if last < pd.Timestamp(today) or last >= pd.Timestamp(end) or first < pd.Timestamp(start):
            raise ToolError(
                f"rain scenario {scenario.start}..{last.date()} lies outside the forecast "
                f"window {today}..{end - dt.timedelta(days=1)}",
                field="rain.start",
                value=str(scenario.start),
            )
        if city not in cities:
            continue  # no selected series in that city: nothing to change
        for day in pd.date_range(max(first, pd.Timestamp(today)), last):
            out[(city, day)] = scenario.precipitation_mm_per_day
    return out
