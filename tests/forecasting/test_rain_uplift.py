"""The explicit rain layer: uplift estimated from data, shrinkage, the forecaster built on it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from forecasting.baselines import WeekdayProfile
from forecasting.global_model import GlobalBoostingForecaster, GlobalModelConfig
from forecasting.model import fit_calibrated
from forecasting.panel import Panel, observed_demand
from forecasting.rain import BANDS, band_codes, climatology, estimate_uplift, one_hot_bands
from forecasting.rain_model import RainUpliftForecaster
from forecasting.synthetic import FOOTFALL_LOSS, RAIN_LIFT, SyntheticSpec, synthetic_panel


@pytest.fixture(scope="module")
def wide_panel() -> Panel:
    """3,000 series × 400 days: enough 暴雨 days per city to check the top band too."""
    return synthetic_panel(SyntheticSpec(series=3_000, days=400, seed=11))


def test_band_codes_follow_the_cma_bands() -> None:
    mm = np.array([0.0, 0.09, 0.1, 9.9, 10.0, 24.9, 25.0, 49.9, 50.0, 300.0])
    assert band_codes(mm).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert [str(b) for b in BANDS] == ["none", "light", "moderate", "heavy", "rainstorm"]


def test_uplift_recovers_the_generators_multipliers(wide_panel: Panel) -> None:
    uplift = estimate_uplift(wide_panel)
    group = uplift.group.set_index(["rain_sensitive", "band"])["uplift"]
    for band in range(1, 5):
        # Rain categories: within 10 % of the true lift; the others: their footfall loss.
        assert group[(True, band)] == pytest.approx(RAIN_LIFT[band], rel=0.10), band
        assert group[(False, band)] == pytest.approx(FOOTFALL_LOSS[band], rel=0.10), band
    # Per category × channel too (shrunk values), for the bands with most data.
    fallback = uplift.fallback
    rain = fallback[fallback["rain_sensitive"] & (fallback["band"] == 3)]
    assert np.all(np.abs(rain["uplift"] / RAIN_LIFT[3] - 1) < 0.15), rain
    # Support is reported: past city-days of the band behind each estimate.
    assert (uplift.table["days"] > 0).all() and (uplift.fallback["days"] > 0).all()


def test_days_out_of_stock_from_the_start_do_not_count(wide_panel: Panel) -> None:
    """A stock-out day with nothing sold says nothing about demand: the estimate is the same as
    with the day missing altogether."""
    empty = wide_panel.stockout & (np.nan_to_num(wide_panel.units) == 0)
    assert empty.any()
    missing = dataclasses.replace(
        wide_panel, units=np.where(empty, np.nan, wide_panel.units).astype(np.float32)
    )
    a = estimate_uplift(wide_panel).group["uplift"].to_numpy()
    b = estimate_uplift(missing).group["uplift"].to_numpy()
    np.testing.assert_allclose(a, b, rtol=1e-9)


def test_a_sell_out_day_counts_what_sold_plus_the_in_stock_mean() -> None:
    units = np.array([[2.0, 0.0, 1.0, 5.0, 0.0, np.nan], [0.0, 0.0, 0.0, 0.0, 1.0, 0.0]])
    stockout = np.array(
        [[False, False, True, True, True, False], [False, False, False, False, True, True]]
    )
    demand = observed_demand(units, stockout)
    # Row 0: in-stock mean 1.0; a sell-out of 1 counts 2.0, of 5 counts 6.0 (demand went on
    # after the shelf was empty); out from the start (flag, 0 sold) and unknown days are NaN.
    np.testing.assert_array_equal(demand[0], [2.0, 0.0, 2.0, 6.0, np.nan, np.nan])
    # Row 1: in-stock mean 0, the sell-out counts what sold.
    np.testing.assert_array_equal(demand[1], [0.0, 0.0, 0.0, 0.0, 1.0, np.nan])


def _distort_city(panel: Panel, city: str, band: int, factor: float) -> Panel:
    """Multiply one city's sales on days of one band (a city that really reacts differently)."""
    c = panel.cities.index(city)
    days = band_codes(panel.precipitation_mm[c]) == band
    rows = (panel.city_index == c) & panel.series["rain_sensitive"].to_numpy(bool)
    units = panel.units.copy()
    units[np.ix_(rows, days)] = np.round(units[np.ix_(rows, days)] * factor)
    return dataclasses.replace(panel, units=units)


def test_a_thin_city_is_pulled_to_the_pooled_value_and_a_thick_one_keeps_its_own(
    wide_panel: Panel,
) -> None:
    city = "Chengdu"
    in_city = np.flatnonzero(wide_panel.city_index == wide_panel.cities.index(city))
    others = np.flatnonzero(wide_panel.city_index != wide_panel.cities.index(city))
    thick = _distort_city(wide_panel, city, 3, 2.0)
    thin = thick.take(np.sort(np.concatenate([others, in_city[:6]])))

    def row(panel: Panel) -> dict:
        table = estimate_uplift(panel).table
        hit = table[
            (table["city"] == city) & (table["category"] == "umbrellas") & (table["band"] == 3)
        ]
        return hit.iloc[0].to_dict()

    thick_row, thin_row = row(thick), row(thin)
    # The thick city shows its own ×2 surplus (raw ≈ 2 × pooled) and keeps most of it.
    assert thick_row["raw"] > 1.6 * thick_row["pooled"]
    assert thick_row["uplift"] > 1.4 * thick_row["pooled"]
    # A city with a handful of series: its own estimate counts for little.
    assert thin_row["weight"] < thick_row["weight"]
    assert abs(np.log(thin_row["uplift"] / thin_row["pooled"])) < 0.5 * abs(
        np.log(thin_row["raw"] / thin_row["pooled"])
    )


def test_climatology_uses_same_season_days_only() -> None:
    import pandas as pd

    dates = pd.date_range("2010-01-01", "2014-12-31")
    wet_summer = np.where(dates.month.isin([6, 7]), 30.0, 0.0)
    history = pd.DataFrame({"city": "Shanghai", "date": dates, "precipitation_mm": wet_summer})
    climate = climatology(
        history, ["Shanghai", "Nowhere"], pd.DatetimeIndex(["2015-07-01", "2015-12-01"])
    )
    assert climate.probability[0, 0, 3] == pytest.approx(1.0)  # every past early July: 大雨
    assert climate.probability[0, 1, 0] == pytest.approx(1.0)  # every past early December: dry
    assert climate.probability[1, :, 0].tolist() == [1.0, 1.0]  # no record: dry
    np.testing.assert_allclose(climate.probability.sum(axis=2), 1.0)


@pytest.fixture(scope="module")
def fitted(wide_panel: Panel) -> tuple[RainUpliftForecaster, int]:
    end = wide_panel.n_days - 14
    config = GlobalModelConfig(
        max_horizon=14, max_iter=40, max_train_rows=60_000, fit_threads=1, use_weather=False
    )
    model = RainUpliftForecaster(GlobalBoostingForecaster(config))
    return fit_calibrated(model, wide_panel, end), end


def test_forecast_is_baseline_times_uplift_and_reacts_to_the_band(
    wide_panel: Panel, fitted
) -> None:
    model, origin = fitted
    horizon = 7

    def with_band(mm: float) -> Panel:
        probability = one_hot_bands(wide_panel.precipitation_mm).copy()
        probability[:, origin : origin + horizon] = one_hot_bands(np.array([mm]))[0]
        return dataclasses.replace(wide_panel, band_probability=probability)

    dry = model.forecast(with_band(0.0), origin, horizon)
    storm = model.forecast(with_band(75.0), origin, horizon)
    np.testing.assert_allclose(storm.mean, storm.baseline * storm.rain_uplift, rtol=1e-5)
    # The baseline reads only the past: the horizon's weather does not move it.
    np.testing.assert_allclose(dry.baseline, storm.baseline)
    rain = wide_panel.series["rain_sensitive"].to_numpy(bool)
    response = storm.mean[rain].sum() / dry.mean[rain].sum()
    assert response == pytest.approx(RAIN_LIFT[4], rel=0.15)
    assert storm.mean[~rain].sum() < dry.mean[~rain].sum()
    # Quantiles scale with the mean: the P90 of rain series rises with the forecast.
    assert storm.quantiles[0.9][rain].sum() > 2 * dry.quantiles[0.9][rain].sum()


def test_a_climatological_horizon_sits_between_dry_and_storm(wide_panel: Panel, fitted) -> None:
    model, origin = fitted
    probability = one_hot_bands(wide_panel.precipitation_mm).copy()
    mix = np.array([0.6, 0.2, 0.1, 0.07, 0.03], dtype=np.float32)
    probability[:, origin:] = mix
    forecast = model.forecast(
        dataclasses.replace(wide_panel, band_probability=probability), origin, 7
    )
    rain = wide_panel.series["rain_sensitive"].to_numpy(bool)
    expected = float(mix @ RAIN_LIFT)
    assert forecast.rain_uplift[rain].mean() == pytest.approx(expected, rel=0.1)


def test_bands_without_a_single_sale_give_a_finite_small_uplift_and_no_warnings() -> None:
    """A store and an online channel that sold nothing on any 大雨 / 暴雨 day (a thin pool, a
    short history): the estimate runs with every warning an error (no log of 0, no ÷ 0), and
    those bands get a small positive uplift, not 0 (whose log, −∞, every category and city
    below the group shrinks towards) and not NaN."""
    import warnings

    panel = synthetic_panel(SyntheticSpec(series=400, days=200, seed=3))
    series = panel.series.assign(
        channel=np.where(np.arange(panel.n_series) % 5 == 0, "online", "store")
    )
    heavy = band_codes(panel.precipitation_mm)[panel.city_index] >= 3
    units = np.where(heavy, 0.0, panel.units).astype(panel.units.dtype)
    panel = dataclasses.replace(panel, series=series, units=units)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        uplift = estimate_uplift(panel)
        factor = uplift.series_factor(panel, one_hot_bands(panel.precipitation_mm))
    store = uplift.group[(uplift.group["channel"] == "store") & (uplift.group["band"] >= 3)]
    assert (store["units"] == 0).all() and (store["expected"] > 0).all()
    for frame in (uplift.group, uplift.fallback, uplift.table):
        assert np.isfinite(frame["uplift"]).all() and (frame["uplift"] > 0).all()
    # Nothing sold: far below "no effect" (a blend of the band's own 0 with the line, whose
    # weight the bands' distance from the line makes small: 0.09–0.11 here).
    assert (store["uplift"] < 0.2).all()
    assert np.isfinite(factor).all() and (factor > 0).all()


def test_a_band_the_history_never_saw_is_extrapolated_along_the_bands_seen() -> None:
    """No 暴雨 day in the history (a short one): the top band is extrapolated from the bands seen
    (log uplift in proportion to the band), not carried over from 大雨. Carried over, rain gear
    on a rainstorm day got the heavy-rain lift (×2.8 here, where the data hold ×3.6)."""
    panel = synthetic_panel(SyntheticSpec(series=600, days=300, seed=5))
    storm = band_codes(panel.precipitation_mm)[panel.city_index] == 4
    assert storm.any()
    # Their sales are unknown (as if the pool's record started after them): no usable 暴雨 day.
    unseen = dataclasses.replace(
        panel, units=np.where(storm, np.nan, panel.units).astype(panel.units.dtype)
    )
    group = estimate_uplift(unseen).group
    rain = group[group["rain_sensitive"] & (group["channel"] == "store")].set_index("band")
    assert rain.loc[4, "days"] == 0 and bool(rain.loc[4, "extrapolated"])
    assert not rain.loc[[1, 2, 3], "extrapolated"].any()
    assert rain.loc[4, "uplift"] > 1.05 * rain.loc[3, "uplift"]
    assert rain.loc[4, "uplift"] == pytest.approx(RAIN_LIFT[4], rel=0.2)
    other = group[~group["rain_sensitive"] & (group["channel"] == "store")].set_index("band")
    # The footfall loss of the other categories extrapolates downwards (at most 大雨's value).
    assert other.loc[4, "uplift"] <= other.loc[3, "uplift"] < 1.0


def test_the_uplift_reads_the_calibration_window_too() -> None:
    """``fit_calibrated`` scores the newest window out of sample, then re-reads the rain uplift
    up to the clock: in a short history that window holds the start of the wet season."""
    panel = synthetic_panel(SyntheticSpec(series=300, days=120, seed=2))
    fitted = fit_calibrated(RainUpliftForecaster(WeekdayProfile()), panel, 120)
    model = fitted.model
    assert isinstance(model, RainUpliftForecaster) and model.uplift is not None
    assert model.uplift.data_end == panel.dates[119]
    expected = estimate_uplift(panel, 120).group["uplift"].to_numpy()
    np.testing.assert_allclose(model.uplift.group["uplift"].to_numpy(), expected)


def test_a_band_seen_on_one_city_day_is_pulled_toward_the_line_of_the_others() -> None:
    """暴雨 seen on a single city-day whose sales ran 60 % over the lift (one day's noise): the
    estimate is not that day's ratio alone but a credibility blend with the line the other
    bands draw; the bands seen on many days keep their own value."""
    panel = synthetic_panel(SyntheticSpec(series=600, days=300, seed=5))
    codes = band_codes(panel.precipitation_mm)
    storm_days = np.argwhere(codes == 4)
    assert len(storm_days) >= 2
    keep_city, keep_day = storm_days[0]
    storm = codes[panel.city_index] == 4
    only = (panel.city_index == keep_city)[:, None] & (np.arange(panel.n_days) == keep_day)
    units = np.where(storm & ~only, np.nan, panel.units)
    units = np.where(only, np.round(units * 1.6), units).astype(panel.units.dtype)
    group = estimate_uplift(dataclasses.replace(panel, units=units)).group
    rain = group[group["rain_sensitive"] & (group["channel"] == "store")].set_index("band")
    raw, value = rain.loc[4, "units"] / rain.loc[4, "expected"], rain.loc[4, "uplift"]
    assert raw > 1.25 * RAIN_LIFT[4]  # the day's ratio is off
    assert value < raw / 1.05  # pulled toward the line
    assert abs(np.log(value / RAIN_LIFT[4])) < abs(np.log(raw / RAIN_LIFT[4]))
    line = np.exp(rain.loc[4, "line"])
    assert line < 1.25 * RAIN_LIFT[4] and value > line  # toward it, not onto it
    assert rain.loc[4, "city_days"] == 1 and rain.loc[4, "own_weight"] < 0.8
    # 小雨, seen on hundreds of city-days, keeps (nearly) its own ratio.
    assert rain.loc[1, "uplift"] == pytest.approx(rain.loc[1, "raw"], rel=0.03)
    assert rain.loc[1, "own_weight"] > 0.5


def _store_rain_gear(group: pd.DataFrame) -> pd.DataFrame:
    return group[group["rain_sensitive"] & (group["channel"] == "store")].set_index("band")


def test_wet_days_that_sold_out_count_the_demand_beyond_the_shelf() -> None:
    """Rain gear capped at 2 units a day on 大雨/暴雨 days (57 % of them sell out): counting a
    sell-out as what sold plus the row's dry mean read 大雨 at 0.68 of its lift; the censored
    Poisson's E[D | D ≥ sold] at the band's own uplift reads 0.80."""
    panel = synthetic_panel(SyntheticSpec(series=600, days=300, seed=5))
    codes = band_codes(panel.precipitation_mm)[panel.city_index]
    wet = (codes >= 3) & panel.series["rain_sensitive"].to_numpy(bool)[:, None]
    capped = wet & (np.nan_to_num(panel.units) >= 2)
    censored = dataclasses.replace(
        panel,
        units=np.where(capped, 2, panel.units).astype(panel.units.dtype),
        stockout=panel.stockout | capped,
    )
    rain = _store_rain_gear(estimate_uplift(censored).group)
    assert capped[wet].mean() > 0.5
    for band in (3, 4):
        assert 0.75 < rain.loc[band, "raw"] / RAIN_LIFT[band] < 1.0, band


def test_rain_gear_is_not_extrapolated_downwards_from_a_light_band_below_one() -> None:
    """Only 小雨 in the history, and rain gear sold a quarter under its dry days there (a thin
    channel's noise): a heavier band the history never saw keeps the light band's value instead
    of falling with the band (×0.74 in 小雨 had become ×0.30 in 暴雨). The other categories, whose
    footfall really falls, still extrapolate downwards."""
    panel = synthetic_panel(SyntheticSpec(series=600, days=300, seed=5))
    codes = band_codes(panel.precipitation_mm)[panel.city_index]
    sensitive = panel.series["rain_sensitive"].to_numpy(bool)[:, None]
    units = np.where(codes >= 2, np.nan, panel.units)
    units = np.where((codes == 1) & sensitive, np.round(units * 0.6), units)
    group = estimate_uplift(dataclasses.replace(panel, units=units.astype(panel.units.dtype))).group
    rain = _store_rain_gear(group)
    assert rain.loc[1, "uplift"] < 0.8 and rain.loc[[2, 3, 4], "extrapolated"].all()
    assert rain.loc[[2, 3, 4], "uplift"].to_numpy() == pytest.approx(rain.loc[1, "uplift"])
    other = group[~group["rain_sensitive"] & (group["channel"] == "store")].set_index("band")
    assert other.loc[4, "uplift"] < other.loc[2, "uplift"] < other.loc[1, "uplift"] < 1.0
