"""Measure the rain effect back out of a world's observed sales, as an analyst would.

Used by the rain-effect test (which compares the estimates with DemandParameters) and by the
docs. Only days a series was in stock count (stock-out days censor sales), and the estimates
come from Poisson regressions with store, weekday, holiday and city × month controls, so season
and calendar do not masquerade as weather.
"""

from __future__ import annotations

import holidays
import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from sklearn.linear_model import PoissonRegressor
from sqlalchemy import text
from sqlalchemy.engine import Engine

from inventory.demo_world.demand import BAND_ORDER
from inventory.demo_world.params import DemandParameters
from inventory.demo_world.vocabulary import RAIN_CATEGORIES

_ONLINE_PEAKS = {(11, 11), (6, 18)}


class RainEffect(BaseModel):
    """Estimated multipliers, relative to dry days (band 'none')."""

    rain_store: dict[str, float] = Field(description="Rain categories in stores, by band.")
    other_store: dict[str, float] = Field(description="Other categories in stores, by band.")
    online_response: float = Field(
        description="Elasticity of online other-category demand to the modelled online shift "
        "(1.0 = exactly as the parameters say, 0 = no shift)."
    )
    online_heavy_uplift: float = Field(
        description="Online other-category multiplier implied on a day of 大雨 in every city."
    )
    store_days: dict[str, int] = Field(description="Store-days per band in the sample.")


def _frame(engine: Engine, sql: str) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql_query(text(sql), conn)


def load_panel(engine: Engine) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Units and in-stock exposure per (location, date, group) of the history.

    ``group`` is 'rain' or 'other'. Exposure is the sum, over the carried SKUs (those with a
    stock position) in stock that day, of each SKU's usual daily units at that location: a
    fast seller out of stock removes its own weight, not an average SKU's, so stock-outs on
    busy days do not drag the measured rate down.
    """
    sales = _frame(
        engine,
        """
        SELECT d.location_code, d.sku_code, d.date, d.units, d.stockout
        FROM daily_sales d JOIN location l ON l.code = d.location_code
        WHERE l.kind IN ('store', 'online')
        """,
    )
    carried = _frame(
        engine,
        """
        SELECT p.location_code, p.sku_code, s.category, l.kind, l.city
        FROM stock_position p
        JOIN sku k ON k.code = p.sku_code
        JOIN style s ON s.code = k.style_code
        JOIN location l ON l.code = p.location_code
        WHERE l.kind IN ('store', 'online')
        """,
    )
    weather = _frame(engine, "SELECT city, date, rain_band FROM weather_daily")
    for frame in (sales, weather):
        frame["date"] = pd.to_datetime(frame["date"])
    sales["stockout"] = sales["stockout"].astype(bool)
    carried["group"] = np.where(carried["category"].isin(RAIN_CATEGORIES), "rain", "other")
    n_days = sales["date"].nunique()
    series = ["location_code", "sku_code"]
    in_stock = sales[~sales["stockout"]]
    out = sales[sales["stockout"]]
    usual = (
        in_stock.groupby(series)["units"].sum()
        / (
            n_days
            - out.groupby(series)
            .size()
            .reindex(in_stock.groupby(series)["units"].sum().index, fill_value=0)
        )
    ).rename("usual")
    carried = carried.merge(usual.reset_index(), on=series, how="left").fillna({"usual": 0.0})
    keys = ["location_code", "group"]
    full = carried.groupby([*keys, "kind", "city"], as_index=False)["usual"].sum()
    out = out.merge(carried[[*series, "group", "usual"]], on=series)
    lost = out.groupby([*keys, "date"])["usual"].sum()
    units = (
        in_stock.merge(carried[[*series, "group"]], on=series)
        .groupby([*keys, "date"])["units"]
        .sum()
    )
    dates = pd.DataFrame({"date": pd.date_range(sales["date"].min(), sales["date"].max())})
    panel = full.merge(dates, how="cross").set_index([*keys, "date"])
    panel["units"] = units.reindex(panel.index, fill_value=0)
    panel["exposure"] = panel["usual"] - lost.reindex(panel.index, fill_value=0.0)
    panel = panel.reset_index()
    return panel[panel["exposure"] > 1e-9], weather


def _calendar_features(dates: pd.Series) -> pd.DataFrame:
    years = sorted(dates.dt.year.unique().tolist())
    cn = holidays.China(years=years, language="en_US")  # names are matched: pin the locale
    names = [cn.get(d.date(), "") for d in dates]
    return pd.DataFrame(
        {
            "weekday": dates.dt.weekday.astype(str),
            "holiday": ["spring" if "Spring" in n else "yes" if n else "no" for n in names],
        },
        index=dates.index,
    )


def _poisson_fit(frame: pd.DataFrame, categorical: list[str], numeric: list[str]) -> pd.Series:
    """Multiplicative effects of a Poisson rate model (units / exposure), by feature name."""
    design = pd.get_dummies(frame[categorical].astype(str), drop_first=True, dtype=float)
    design = pd.concat([design, frame[numeric].astype(float)], axis=1)
    model = PoissonRegressor(alpha=0.0, solver="newton-cholesky", max_iter=200, tol=1e-8)
    model.fit(design, frame["units"] / frame["exposure"], sample_weight=frame["exposure"])
    return pd.Series(model.coef_, index=design.columns)


def _band_effects(stores: pd.DataFrame) -> dict[str, float]:
    coefs = _poisson_fit(stores, ["rain_band", "weekday", "holiday", "month"], [])
    effects = {BAND_ORDER[0].value: 1.0}
    for band in BAND_ORDER[1:]:
        name = f"rain_band_{band.value}"
        effects[band.value] = float(np.exp(coefs[name])) if name in coefs else float("nan")
    return effects


def measure_rain_effect(engine: Engine, params: DemandParameters) -> RainEffect:
    panel, weather = load_panel(engine)
    panel = pd.concat([panel, _calendar_features(panel["date"])], axis=1)
    panel["month"] = panel["city"] + panel["date"].dt.strftime("-%Y-%m")
    # rain_band_none must be the reference level: prefix it so it sorts first.
    weather["rain_band"] = weather["rain_band"].replace({"none": "0none"})
    stores = panel[panel["kind"] == "store"].merge(weather, on=["city", "date"])
    rain = _band_effects(stores[stores["group"] == "rain"])
    other = _band_effects(stores[stores["group"] == "other"])
    day_counts = stores[stores["group"] == "other"]["rain_band"].value_counts()
    store_days = {
        b.value: int(day_counts.get("0none" if i == 0 else b.value, 0))
        for i, b in enumerate(BAND_ORDER)
    }

    online = panel[(panel["kind"] == "online") & (panel["group"] == "other")].copy()
    shift = online_shift_index(stores, weather, params)
    online = online.merge(shift, on="date")
    peaks = online["date"].map(lambda d: (d.month, d.day) in _ONLINE_PEAKS)
    online = online[~peaks]
    online["month"] = online["date"].dt.strftime("%Y-%m")
    coefs = _poisson_fit(online, ["weekday", "month"], ["log_shift"])
    response = float(coefs["log_shift"])
    heavy_shift = (
        1.0
        + params.online_shift * (1.0 - params.store_footfall[BAND_ORDER[3]]) / params.online_share
    )
    return RainEffect(
        rain_store=rain,
        other_store=other,
        online_response=response,
        online_heavy_uplift=float(heavy_shift**response),
        store_days=store_days,
    )


def online_shift_index(
    stores: pd.DataFrame, weather: pd.DataFrame, params: DemandParameters
) -> pd.DataFrame:
    """Per date, log of the online multiplier the parameters predict from each city's band,
    weighting cities by their observed share of other-category store sales."""
    weights = stores[stores["group"] == "other"].groupby("city")["units"].sum()
    weights = weights / weights.sum()
    footfall = {
        ("0none" if b.value == "none" else b.value): params.store_footfall[b] for b in BAND_ORDER
    }
    cities = weather[weather["city"].isin(weights.index)].copy()
    cities["lift"] = cities["city"].map(weights) * (
        params.online_share + params.online_shift * (1.0 - cities["rain_band"].map(footfall))
    )
    by_date = cities.groupby("date")["lift"].sum() / params.online_share
    return pd.DataFrame({"date": by_date.index, "log_shift": np.log(by_date.to_numpy())})
