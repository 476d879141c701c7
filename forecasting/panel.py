"""The daily demand panel every model reads: dense series × day arrays plus per-city weather.

Dense arrays (not a long dataframe) because features for 100,000 series must be built in
vectorised numpy; ``from_frames`` accepts the long sktime-style frames and ``to_sktime_y`` gives
them back for sktime's per-series forecasters.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

SERIES_COLUMNS = ("category", "city", "rain_sensitive")
#: Optional series columns kept when present: ``channel`` is 'store' or 'online'; ``style``
#: names the product whose promo a series-day without a sales row shares (``fill_style_promo``).
OPTIONAL_SERIES_COLUMNS = ("channel", "style")
#: A style-day is a promo day where at least this share of its sales rows (per channel) say so.
STYLE_PROMO_SHARE = 0.5
SALES_COLUMNS = ("units", "stockout", "promo", "price_ratio")
WEATHER_COLUMNS = ("precipitation_mm", "temp_mean_c")
#: Expected demand beyond the stock on a sell-out day, in units of the series' in-stock mean
#: (see :func:`observed_demand`).
SELL_OUT_EXCESS = 1.0


class PanelError(ValueError):
    """The frames given cannot form a panel; the message names the field and value."""


@dataclass
class Panel:
    """Daily SKU × location (or style × location) demand with its exogenous inputs.

    ``units`` is NaN where nothing was observed (the future, or missing days); stock-out days keep
    their observed (censored) units and are flagged in ``stockout`` so models can ignore them.
    Weather is stored per city and shared by the series of that city.
    """

    series: pd.DataFrame  # index series_id; columns category (str), city (str), rain_sensitive
    dates: pd.DatetimeIndex  # consecutive days
    units: np.ndarray  # float32 (n_series, n_days)
    stockout: np.ndarray  # bool (n_series, n_days)
    promo: np.ndarray  # bool (n_series, n_days)
    price_ratio: np.ndarray  # float32 (n_series, n_days): price ÷ full price
    cities: tuple[str, ...]
    precipitation_mm: np.ndarray  # float32 (n_cities, n_days)
    temp_mean_c: np.ndarray  # float32 (n_cities, n_days), NaN when unknown
    city_index: np.ndarray  # int (n_series,) row of each series' city in the weather arrays
    #: float32 (n_cities, n_days, 5): probability of each CMA band (dry … 暴雨) per city-day.
    #: None: the observed band of ``precipitation_mm`` with certainty. The pool sets it for the
    #: horizon (an alert's band, or climatology) because the future is not observed.
    band_probability: np.ndarray | None = None

    def __post_init__(self) -> None:
        n, t = len(self.series), len(self.dates)
        if n == 0:
            raise PanelError("panel has no series")
        if t == 0:
            raise PanelError("panel has no days")
        if not (self.dates[1:] - self.dates[:-1] == pd.Timedelta(days=1)).all():
            raise PanelError("panel dates must be consecutive days")
        for name in ("units", "stockout", "promo", "price_ratio"):
            shape = getattr(self, name).shape
            if shape != (n, t):
                raise PanelError(f"{name} has shape {shape}, expected {(n, t)}")
        for name in ("precipitation_mm", "temp_mean_c"):
            shape = getattr(self, name).shape
            if shape != (len(self.cities), t):
                raise PanelError(f"{name} has shape {shape}, expected {(len(self.cities), t)}")
        if self.band_probability is not None:
            expected = (len(self.cities), t, 5)
            if self.band_probability.shape != expected:
                raise PanelError(
                    f"band_probability has shape {self.band_probability.shape}, expected {expected}"
                )
        if np.isnan(self.precipitation_mm).any():
            raise PanelError("precipitation_mm has gaps: fill or clean the weather first")
        if (np.nan_to_num(self.units, nan=0.0) < 0).any():
            raise PanelError("units must be ≥ 0")

    @property
    def n_series(self) -> int:
        return len(self.series)

    @property
    def n_days(self) -> int:
        return len(self.dates)

    def index_of(self, day: pd.Timestamp | str) -> int:
        """Column of a date; raises naming the date and the panel's span when outside it."""
        stamp = pd.Timestamp(day)
        position = (stamp - self.dates[0]).days
        if not 0 <= position < self.n_days:
            raise PanelError(
                f"date {stamp.date()} is outside the panel "
                f"({self.dates[0].date()}..{self.dates[-1].date()})"
            )
        return position

    def series_precipitation(self) -> np.ndarray:
        """Precipitation per series and day (a view through the city index)."""
        return self.precipitation_mm[self.city_index]

    def take(self, rows: np.ndarray) -> Panel:
        """The sub-panel of the given series rows (positions)."""
        return Panel(
            series=self.series.iloc[rows],
            dates=self.dates,
            units=self.units[rows],
            stockout=self.stockout[rows],
            promo=self.promo[rows],
            price_ratio=self.price_ratio[rows],
            cities=self.cities,
            precipitation_mm=self.precipitation_mm,
            temp_mean_c=self.temp_mean_c,
            city_index=self.city_index[rows],
            band_probability=self.band_probability,
        )

    def since(self, start: int) -> Panel:
        """The panel from column ``start`` on (models that need no older history)."""
        if start == 0:
            return self
        return Panel(
            series=self.series,
            dates=self.dates[start:],
            units=self.units[:, start:],
            stockout=self.stockout[:, start:],
            promo=self.promo[:, start:],
            price_ratio=self.price_ratio[:, start:],
            cities=self.cities,
            precipitation_mm=self.precipitation_mm[:, start:],
            temp_mean_c=self.temp_mean_c[:, start:],
            city_index=self.city_index,
            band_probability=(
                None if self.band_probability is None else self.band_probability[:, start:]
            ),
        )

    def to_sktime_y(self, end: int) -> pd.DataFrame:
        """Units before column ``end`` as sktime's pd-multiindex (series_id, date) frame.

        Censored and missing days are filled from the series' own weekday mean so per-series
        models, which cannot mask, do not learn the zeros of a stock-out.
        """
        history = self.units[:, :end].astype(np.float64)
        censored = self.stockout[:, :end] | np.isnan(history)
        filled = fill_censored_with_weekday_mean(history, censored)
        index = pd.MultiIndex.from_product(
            [self.series.index.astype(str), self.dates[:end]], names=["series_id", "date"]
        )
        return pd.DataFrame({"units": filled.reshape(-1)}, index=index)

    @classmethod
    def from_frames(
        cls,
        sales: pd.DataFrame,
        series: pd.DataFrame,
        weather: pd.DataFrame,
        *,
        start: pd.Timestamp | str,
        end: pd.Timestamp | str,
        weather_cities: tuple[str, ...] | list[str] = (),
    ) -> Panel:
        """Build a panel over [start, end) from long frames.

        Args:
            sales: index (series_id, date) or columns of those names; columns ``units`` and
                optionally ``stockout``, ``promo``, ``price_ratio``.
            series: index series_id; columns ``category``, ``city``, ``rain_sensitive``.
            weather: index (city, date) or columns; ``precipitation_mm`` and optionally
                ``temp_mean_c``. It must cover every day of every city used, future included.
            weather_cities: cities whose weather the panel keeps although no series is there
                (the online channel's rain exposure mixes every city where customers are).
        """
        for column in SERIES_COLUMNS:
            if column not in series.columns:
                raise PanelError(f"series frame lacks column {column!r}")
        dates = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), inclusive="left", freq="D")
        if len(dates) == 0:
            raise PanelError(f"empty date range start={start} end={end}")
        sales = sales.reset_index() if "series_id" not in sales.columns else sales
        if "units" not in sales.columns:
            raise PanelError("sales frame lacks column 'units'")
        series = series.copy()
        series.index = series.index.astype(str)
        n, t = len(series), len(dates)
        row = pd.Index(series.index).get_indexer(sales["series_id"].astype(str))
        if (row < 0).any():
            unknown = sales["series_id"].astype(str)[row < 0].iloc[0]
            raise PanelError(f"sales for series_id {unknown!r} not in the series frame")
        col = ((pd.to_datetime(sales["date"]) - dates[0]).dt.days).to_numpy()
        keep = (col >= 0) & (col < t)
        row, col, sales = row[keep], col[keep], sales.loc[keep]

        def dense(name: str, fill: float, dtype: type) -> np.ndarray:
            out = np.full((n, t), fill, dtype=dtype)
            if name in sales.columns:
                out[row, col] = sales[name].to_numpy(dtype=dtype)
            return out

        units = dense("units", np.nan, np.float32)
        promo = dense("promo", False, bool)
        observed_price = dense("price_ratio", np.nan, np.float32)
        if "price_ratio" not in sales.columns:  # no price known: every row at the regular one
            observed_price[row, col] = 1.0
        if "style" in series.columns:
            groups = series["style"].astype(str)
            if "channel" in series.columns:
                groups = groups + "|" + series["channel"].astype(str)
            promo, price_ratio = fill_style_promo(promo, observed_price, pd.factorize(groups)[0])
        else:
            price_ratio = fill_price_ratio(observed_price, promo)

        weather = weather.reset_index() if "city" not in weather.columns else weather
        cities = tuple(sorted(set(series["city"].astype(str)) | set(weather_cities)))
        known_cities = set(weather["city"].astype(str))
        missing = [c for c in cities if c not in known_cities]
        if missing:
            raise PanelError(f"weather lacks city {missing[0]!r}")
        wide_rain = _city_wide(weather, "precipitation_mm", cities, dates)
        if np.isnan(wide_rain).any():
            c, d = np.argwhere(np.isnan(wide_rain))[0]
            raise PanelError(f"weather lacks precipitation_mm for {cities[c]} on {dates[d].date()}")
        wide_temp = (
            _city_wide(weather, "temp_mean_c", cities, dates)
            if "temp_mean_c" in weather.columns
            else np.full((len(cities), t), np.nan, dtype=np.float32)
        )
        return cls(
            series=series[
                list(SERIES_COLUMNS) + [c for c in OPTIONAL_SERIES_COLUMNS if c in series.columns]
            ],
            dates=dates,
            units=units,
            stockout=dense("stockout", False, bool),
            promo=promo,
            price_ratio=price_ratio,
            cities=cities,
            precipitation_mm=wide_rain,
            temp_mean_c=wide_temp,
            city_index=pd.Index(cities).get_indexer(series["city"].astype(str)),
        )


def _city_wide(
    weather: pd.DataFrame, column: str, cities: tuple[str, ...], dates: pd.DatetimeIndex
) -> np.ndarray:
    frame = weather.assign(date=pd.to_datetime(weather["date"])).pivot_table(
        index="city", columns="date", values=column, aggfunc="mean", dropna=False
    )
    return frame.reindex(index=list(cities), columns=dates).to_numpy(dtype=np.float32)


def sold_out(units: np.ndarray, stockout: np.ndarray) -> np.ndarray:
    """Series-days that sold what they had and ran out: flagged out of stock with a sale.
    (Flagged with nothing sold, the day was out from the start and says nothing.)"""
    return stockout & (np.nan_to_num(np.asarray(units, dtype=np.float64)) > 0)


def observed_demand(units: np.ndarray, stockout: np.ndarray) -> np.ndarray:
    """Demand per series-day as far as the sales tell it (float64), NaN where they do not.

    - in stock all day: the units sold;
    - out of stock from the start (flag, nothing sold): NaN, it says nothing about demand;
    - sold out during the day (flag, units sold): demand was at least what sold; counted as
      what sold plus ``SELL_OUT_EXCESS`` × the row's mean over its in-stock days, the expected
      demand beyond the stock (changed 2026-12-06, was the larger of the two).

    Why the excess: with a memoryless (geometric) demand, E[D − u | D ≥ u] is exactly the mean;
    for a negative binomial of shape 2 it is 0.6–0.9 of the day's mean, for a Poisson 0.2–0.7;
    and the in-stock mean understates the mean of a sell-out day (sell-outs happen on the
    high-demand days), so the two roughly cancel. Counting a sell-out as only what sold (or the
    mean) kept every level below demand: sales are 93 % of demand in the 16 × 30 demo world,
    and July's dry-day forecast was 0.90 of the uncensored demand (0.97 with the excess).
    Dropping sell-out days altogether, as models here did before, was worse (0.56–0.92 for rain
    gear). Models are still *scored* on in-stock days only (``FeatureBuilder.targets``), like
    every peer.
    """
    units = np.asarray(units, dtype=np.float64)
    known = ~np.isnan(units)
    in_stock = known & ~stockout
    values = np.where(in_stock, units, np.nan)
    sold_out_day = known & sold_out(units, stockout)
    if not sold_out_day.any():
        return values
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)  # rows with no in-stock day
        in_stock_mean = np.nan_to_num(np.nanmean(values, axis=1, keepdims=True), nan=0.0)
    return np.where(sold_out_day, np.nan_to_num(units) + SELL_OUT_EXCESS * in_stock_mean, values)


def fill_price_ratio(observed: np.ndarray, promo: np.ndarray) -> np.ndarray:
    """Price ÷ full price per series-day where no row says it: the series' **regular** price,
    the last one seen on a day that was not a promo (the next one before the first such day;
    1.0 without any). A day with a row keeps its own price.

    Why not the last price seen: sales are stored sparsely (no row = sold nothing), so after a
    promo week every zero-sale day carried the promo price without the promo flag, a pair that
    in the history almost only marked days that sold nothing — and a forecast from a clock
    after a promo carried that price into the whole horizon. The global model learnt the pair
    as "no sale" and forecast 0.05–0.07 of the level (umbrellas at the stores of the
    rain-shanghai-heavy eval world: 1.7 units for a dry week where ~19 were expected). A
    permanent price (an outlet's 30 % off, a markdown) is a regular price and is carried on."""
    regular = regular_price(observed, promo)
    return np.where(np.isnan(observed), regular, observed).astype(np.float32)


def fill_style_promo(
    promo: np.ndarray, observed_price: np.ndarray, group: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Promo flag and price ratio of every series-day (``observed_price`` is NaN where the
    series has no sales row that day). A day **without a row** is a promo day when at least
    ``STYLE_PROMO_SHARE`` of the rows of the same style (and channel: ``group`` per series)
    that day say promo; it then takes the rows' mean depth (price ÷ the row's regular price)
    times the series' own regular price. Days with a row keep their own; a style-day with no
    row anywhere (the future at the clock) stays regular (``fill_price_ratio``).

    Why: sales are stored sparsely (no row = sold nothing) and the flag lives on the row, so a
    promo day that sold nothing had no promo. In the history "promo" then meant "promo *and*
    sold something": the global model learnt a promo uplift that was partly the sale itself,
    and the zero-sale promo days sat among the regular days, pulling the no-promo level down
    (a series selling 0.06 units a day has no row on ~94 % of its promo days). A price
    campaign is a property of the style and day, which any location's row tells."""
    from scipy import sparse

    has_row = ~np.isnan(observed_price)
    regular = regular_price(observed_price, promo)
    price = np.where(has_row, observed_price, regular)
    n_groups = int(group.max()) + 1 if len(group) else 0
    member = sparse.csr_matrix(
        (np.ones(len(group), dtype=np.float64), (group, np.arange(len(group)))),
        shape=(n_groups, len(group)),
    )
    promo_row = promo & has_row
    rows = member @ has_row.astype(np.float64)
    promo_rows = member @ promo_row.astype(np.float64)
    depth = np.where(promo_row, price / np.maximum(regular, 1e-6), 0.0)
    depth_sum = member @ depth
    on_promo = (rows > 0) & (promo_rows >= STYLE_PROMO_SHARE * rows)
    mean_depth = np.where(promo_rows > 0, depth_sum / np.maximum(promo_rows, 1.0), 1.0)
    fill = ~has_row & on_promo[group]
    new_price = np.where(fill, regular * mean_depth[group], price).astype(np.float32)
    return promo | fill, new_price


def with_planned_promos(panel: Panel, depth: np.ndarray) -> Panel:
    """``panel`` with the retailer's **planned** promos set: ``depth`` (n_series, n_days) is the
    planned discount as a fraction of the regular price, 0 where none is planned. A planned day
    that is not a promo day yet becomes one, at its price ratio × (1 − depth); a day already on
    promo (its row, or its style's rows, say so) keeps what it has.

    Why: the horizon has no sales rows, so without the plan every future day was a regular-price
    day, though the retailer's own promo calendar for the coming days is known at the clock (the
    caller passes only plans made before it). The model has learnt a promo's lift from the
    history's promo days; now the horizon's planned promos reach it through the same two inputs
    (the day's flag and price ratio)."""
    import dataclasses

    depth = np.asarray(depth, dtype=np.float32)
    if depth.shape != panel.promo.shape:
        raise PanelError(f"planned promo depth has shape {depth.shape}, not {panel.promo.shape}")
    planned = (depth > 0) & ~panel.promo
    if not planned.any():
        return panel
    price = np.where(planned, panel.price_ratio * (1.0 - depth), panel.price_ratio)
    return dataclasses.replace(
        panel, promo=panel.promo | planned, price_ratio=price.astype(np.float32)
    )


def regular_price(observed: np.ndarray, promo: np.ndarray) -> np.ndarray:
    """Per series-day the series' regular price ratio: the last one seen on a day with a row
    that was not a promo (the next one before the first such day; 1.0 without any)."""
    regular = np.where(promo, np.nan, observed)
    frame = pd.DataFrame(regular.T)
    return frame.ffill().bfill().fillna(1.0).to_numpy(dtype=observed.dtype).T


def fill_censored_with_weekday_mean(history: np.ndarray, censored: np.ndarray) -> np.ndarray:
    """Replace censored cells by the series' mean on that weekday (overall mean as fallback)."""
    clean = np.where(censored, np.nan, history)
    filled = clean.copy()
    # All-NaN rows (fully censored series) are expected here; numpy's warning is not news.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        overall = np.nan_to_num(np.nanmean(clean, axis=1, keepdims=True), nan=0.0)
        for weekday in range(7):
            cols = slice(weekday, None, 7)
            weekday_mean = np.nanmean(clean[:, cols], axis=1, keepdims=True)
            weekday_mean = np.where(np.isnan(weekday_mean), overall, weekday_mean)
            block = filled[:, cols]
            filled[:, cols] = np.where(np.isnan(block), weekday_mean, block)
    return filled
