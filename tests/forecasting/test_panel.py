from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.panel import Panel, PanelError, fill_censored_with_weekday_mean


def _frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    dates = pd.date_range("2015-06-01", periods=14)
    sales = pd.DataFrame(
        {
            "series_id": ["A"] * 14,
            "date": dates,
            "units": np.arange(14, dtype=float),
            "stockout": [False] * 13 + [True],
            "promo": [False] * 14,
            "price_ratio": [1.0] * 7 + [0.8] * 7,
        }
    )
    series = pd.DataFrame(
        {"category": ["umbrellas"], "city": ["Shanghai"], "rain_sensitive": [True]},
        index=pd.Index(["A"], name="series_id"),
    )
    weather = pd.DataFrame(
        {
            "city": "Shanghai",
            "date": pd.date_range("2015-06-01", periods=21),
            "precipitation_mm": 1.0,
        }
    )
    return sales, series, weather


def test_from_frames_builds_dense_arrays_with_future_columns_unobserved() -> None:
    sales, series, weather = _frames()
    panel = Panel.from_frames(sales, series, weather, start="2015-06-01", end="2015-06-22")
    assert panel.units.shape == (1, 21)
    assert panel.units[0, 3] == 3.0
    assert np.isnan(panel.units[0, 14:]).all()
    assert panel.stockout[0, 13] and not panel.stockout[0, 12]
    assert panel.price_ratio[0, 20] == pytest.approx(0.8)  # carried forward into the horizon
    assert panel.series_precipitation().shape == (1, 21)


def test_weather_gap_names_city_and_day() -> None:
    sales, series, weather = _frames()
    weather = weather[weather["date"] != pd.Timestamp("2015-06-05")]
    with pytest.raises(PanelError, match="Shanghai on 2015-06-05"):
        Panel.from_frames(sales, series, weather, start="2015-06-01", end="2015-06-22")


def test_sales_of_unknown_series_are_refused() -> None:
    sales, series, weather = _frames()
    sales.loc[0, "series_id"] = "B"
    with pytest.raises(PanelError, match="'B'"):
        Panel.from_frames(sales, series, weather, start="2015-06-01", end="2015-06-22")


def test_negative_units_are_refused() -> None:
    sales, series, weather = _frames()
    sales.loc[2, "units"] = -1
    with pytest.raises(PanelError, match="units"):
        Panel.from_frames(sales, series, weather, start="2015-06-01", end="2015-06-22")


def test_censored_days_are_filled_from_the_weekday_not_learnt_as_zero() -> None:
    history = np.array([[5.0, 1, 1, 1, 1, 1, 1, 5.0, 1, 1, 1, 1, 1, 1, 0.0]])
    censored = np.zeros_like(history, dtype=bool)
    censored[0, 14] = True  # a stock-out on the weekday that sells 5
    filled = fill_censored_with_weekday_mean(history, censored)
    assert filled[0, 14] == pytest.approx(5.0)
    assert filled[0, 1] == 1.0


def test_to_sktime_y_is_a_pd_multiindex_frame() -> None:
    sales, series, weather = _frames()
    panel = Panel.from_frames(sales, series, weather, start="2015-06-01", end="2015-06-22")
    y = panel.to_sktime_y(14)
    assert list(y.index.names) == ["series_id", "date"]
    assert len(y) == 14 and not y["units"].isna().any()


def test_days_without_a_row_take_the_regular_price_not_the_last_promo_price() -> None:
    """Sales are stored sparsely (no row = sold nothing). After a promo week the days with no
    sale, and the horizon, take the series' regular price: carried over, the promo price
    without the promo flag marked exactly the days that sold nothing, and a forecast from a
    clock after a promo read its whole horizon as such days (umbrellas forecast at 0.05 of
    their level in an eval world)."""
    sales, series, weather = _frames()
    sales = sales.iloc[[2, 3, 8, 9]].assign(
        price_ratio=[1.0, 1.0, 0.8, 0.8], promo=[False, False, True, True]
    )
    panel = Panel.from_frames(sales, series, weather, start="2015-06-01", end="2015-06-22")
    assert panel.price_ratio[0, 8] == pytest.approx(0.8) and panel.promo[0, 8]  # a promo sale
    assert panel.price_ratio[0, 5] == pytest.approx(1.0)  # a zero-sale day between
    assert np.allclose(panel.price_ratio[0, 10:], 1.0)  # after it, and the horizon
    assert panel.price_ratio[0, 0] == pytest.approx(1.0)  # before the first row
    # A permanent price (an outlet's, a markdown) is the regular price: carried on.
    outlet = sales.assign(price_ratio=0.7, promo=False)
    panel = Panel.from_frames(outlet, series, weather, start="2015-06-01", end="2015-06-22")
    assert np.allclose(panel.price_ratio[0], 0.7)


def test_a_promo_day_without_a_sale_takes_its_styles_promo_from_other_locations() -> None:
    """Sparse storage puts the promo flag on sales rows only, so a promo day that sold nothing
    read as a regular day (and "promo" as "sold something"). With a ``style`` column, a day
    without a row shares the promo of its style's rows that day (same channel), at the rows'
    depth on its own regular price; a day no location sold (the future at the clock) stays
    regular, and a promo of another channel or another style does not spread."""
    dates = pd.date_range("2015-06-01", periods=14)
    # A (outlet, regular 0.7) and B sell style S in stores; C sells S online; D sells style T.
    rows = [
        ("A", dates[1], 1.0, False, 0.7),
        ("B", dates[1], 2.0, False, 1.0),
        ("B", dates[8], 3.0, True, 0.8),  # S on promo in stores on day 8: only B sold
        ("C", dates[9], 1.0, True, 0.6),  # an online-only promo on day 9
        ("D", dates[8], 1.0, False, 1.0),
    ]
    sales = pd.DataFrame(rows, columns=["series_id", "date", "units", "promo", "price_ratio"])
    series = pd.DataFrame(
        {
            "category": "umbrellas",
            "city": "Shanghai",
            "rain_sensitive": True,
            "channel": ["store", "store", "online", "store"],
            "style": ["S", "S", "S", "T"],
        },
        index=pd.Index(["A", "B", "C", "D"], name="series_id"),
    )
    weather = pd.DataFrame(
        {
            "city": "Shanghai",
            "date": pd.date_range("2015-06-01", periods=21),
            "precipitation_mm": 0.0,
        }
    )
    panel = Panel.from_frames(sales, series, weather, start="2015-06-01", end="2015-06-22")
    a, b, c, d = range(4)
    assert panel.promo[a, 8] and panel.price_ratio[a, 8] == pytest.approx(0.7 * 0.8)
    assert panel.promo[b, 8] and panel.price_ratio[b, 8] == pytest.approx(0.8)
    assert not panel.promo[c, 8] and not panel.promo[d, 8]  # other channel, other style
    assert panel.promo[c, 9] and not panel.promo[a, 9]  # the online promo stays online
    assert not panel.promo[:, 14:].any()  # no row anywhere: the horizon stays regular
    assert panel.price_ratio[a, 14] == pytest.approx(0.7)
    assert not panel.promo[a, 7] and panel.price_ratio[a, 7] == pytest.approx(0.7)
    # Without a style column a day without a row is regular, as before.
    plain = Panel.from_frames(
        sales, series.drop(columns="style"), weather, start="2015-06-01", end="2015-06-22"
    )
    assert not plain.promo[a, 8] and plain.price_ratio[a, 8] == pytest.approx(0.7)
