"""Rain uplift per category × channel × CMA band, estimated from the panel's own history.

Why a separate, explicit layer: a human must be able to read "baseline 12/day × rain uplift ×3.1
from 46 past 大雨 days" and judge it, and a pooled tree model learns heavy-rain effects from the
handful of heavy days in its training windows only (it reacted ×1.5 where the data held ×4).

Estimate. Every uncensored (forecasting.panel.observed_demand), non-promo, non-holiday series-day
in a wet band is compared with the series' own **comparable dry days**: the mean of its
uncensored dry days (< 0.1 mm) within ±14 days, adjusted by the weekday shape of its category ×
channel. Per cell (city × category × channel)
and band, the uplift is Σ sold ÷ Σ expected-if-dry (a ratio of sums, robust to sparse counts).

Pooling. Cells with few days of a band are noisy, so each cell is shrunk towards its category ×
channel value across cities, which is itself shrunk towards the value of all rain-sensitive (or
all other) categories of the channel: an empirical-Bayes (DerSimonian–Laird) normal model on
the log uplift, with a cell's sampling variance from its day-to-day scatter (cluster = city-day,
so a cell seen on 2 days is uncertain however many units it sold). When cities really differ the
between-city variance keeps them apart; when they do not, they are pooled.

Online. An online pool sells to customers in every city, so its demand follows the rain where
its customers are, not the rain at its warehouse. Its **rain exposure** on a day is the mix of
the cities' bands weighted by where the pool's customers are (each city's share of the pool's
dry-day store sales: the pool records no online buyer's city). Online demand is then
level × Σ_band exposure(band) · uplift(band), and the uplift per band is its Poisson maximum
likelihood (EM over the exposure mix), the level de-weathered by the previous round's uplift. At
forecast time the same weights mix each city's band probabilities (alert or climatology).

Nothing here knows the demo world's multipliers: they are estimated from sales and weather only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse, stats

from forecasting.calendar import holiday_flags
from forecasting.panel import Panel, observed_demand, sold_out
from inventory.vocabulary import _BAND_FLOORS, RAIN_BAND_ZH, RainBand

#: Bands in order of severity; index 0 is dry.
BANDS: tuple[RainBand, ...] = (
    RainBand.NONE,
    RainBand.LIGHT,
    RainBand.MODERATE,
    RainBand.HEAVY,
    RainBand.RAINSTORM,
)
#: Lower bounds (mm/day) of the wet bands, ascending: band index = searchsorted(…, side="right").
BAND_EDGES_MM = np.array(sorted(floor for floor, _ in _BAND_FLOORS), dtype=np.float32)
CHANNELS = ("store", "online")
DRY_WINDOW_DAYS = 14
MIN_DRY_DAYS = 3
#: Rounds of the online estimate (level de-weathered by the last round's uplift; they stop when
#: no uplift moves by more than the tolerance) and EM steps per round.
EXPOSURE_ROUNDS = 60
EXPOSURE_TOLERANCE = 1e-3
EM_STEPS = 100
_CHUNK = 5_000


def band_codes(mm: np.ndarray) -> np.ndarray:
    """CMA band index (0 dry … 4 暴雨) of daily precipitation, vectorised."""
    return np.searchsorted(BAND_EDGES_MM, np.asarray(mm, dtype=np.float32), side="right")


def one_hot_bands(mm: np.ndarray) -> np.ndarray:
    """(…, 5) probabilities that put all mass on the observed (or assumed) band."""
    codes = band_codes(mm)
    return np.eye(len(BANDS), dtype=np.float32)[codes]


#: Band code of a history day without a recorded observation (a weather feed that lags the
#: sales feed, or a gap): neither wet nor dry for the estimate. The pool's panel gives such a day
#: its date's climatological band mix (``tools.forecast_demand.pool_panel.load_weather``).
UNKNOWN_BAND = -1


def past_band_probability(panel: Panel, end: int) -> np.ndarray:
    """(cities, end, 5): the band probabilities of the days before column ``end``: one-hot on a
    recorded day, the climatological mix on a day without an observation."""
    if panel.band_probability is not None:
        return panel.band_probability[:, :end]
    return one_hot_bands(panel.precipitation_mm[:, :end])


def observed_bands(panel: Panel, end: int) -> np.ndarray:
    """(cities, end): the CMA band of each history day before column ``end`` whose weather was
    recorded, ``UNKNOWN_BAND`` where it was not (its probability is a mix, not one band).

    Read as dry (as before 2026-12-08), a wet day whose observation had not arrived yet counted
    its rain-gear sales as a dry day's: the comparable dry level rose and the uplift fell."""
    codes = band_codes(panel.precipitation_mm[:, :end])
    if panel.band_probability is None:
        return codes
    recorded = panel.band_probability[:, :end].max(axis=-1) >= 1.0 - 1e-6
    return np.where(recorded, codes, UNKNOWN_BAND)


def weather_recorded_through(panel: Panel, end: int) -> pd.Timestamp | None:
    """The newest day before column ``end`` on which every city of the panel has an observation
    (None: no such day): the days after it were read at their climatology."""
    complete = np.flatnonzero((observed_bands(panel, end) != UNKNOWN_BAND).all(axis=0))
    return panel.dates[int(complete[-1])] if len(complete) else None


def series_channels(panel: Panel) -> np.ndarray:
    """'store' or 'online' per series (panels without a channel column are all stores)."""
    if "channel" in panel.series.columns:
        return panel.series["channel"].astype(str).to_numpy()
    return np.full(panel.n_series, "store", dtype=object)


def exposed_series(panel: Panel) -> np.ndarray:
    """Series whose demand follows the rain exposure mix (online) rather than their own city."""
    return series_channels(panel) == "online"


def exposure_weights(panel: Panel, end: int) -> dict[str, float]:
    """Each city's share of the pool's store sales per in-stock dry day before column ``end``.

    Where the retailer's store customers are is the best record the pool has of where its
    online customers are (orders carry no buyer's city). Dry days only, so a rainy city's
    rain-gear spikes do not inflate its weight. Empty when the panel has no store sales."""
    store = ~exposed_series(panel)
    totals = np.zeros(len(panel.cities))
    dry_city = observed_bands(panel, end) == 0
    for lo in range(0, panel.n_series, _CHUNK):
        hi = min(panel.n_series, lo + _CHUNK)
        rows = np.flatnonzero(store[lo:hi]) + lo
        if len(rows) == 0:
            continue
        y = observed_demand(panel.units[rows, :end], panel.stockout[rows, :end])
        usable = ~np.isnan(y) & dry_city[panel.city_index[rows]]
        per_row = np.where(usable, np.nan_to_num(y), 0.0).sum(axis=1)
        totals += np.bincount(panel.city_index[rows], weights=per_row, minlength=len(totals))
    # Per dry day of the city: a rainy city has fewer dry days, not fewer customers.
    rate = totals / np.maximum(dry_city.sum(axis=1), 1)
    total = rate.sum()
    if total <= 0:
        return {}
    return {city: float(r / total) for city, r in zip(panel.cities, rate, strict=True) if r > 0}


def exposure_probability(
    weights: dict[str, float], cities: tuple[str, ...], probability: np.ndarray
) -> np.ndarray | None:
    """(days, 5): Σ_city weight · P(band) over the cities with weather in ``probability``
    ((cities, days, 5)), weights renormalised over them; None when none of them is weighted."""
    present = [(i, weights[c]) for i, c in enumerate(cities) if weights.get(c, 0.0) > 0]
    if not present:
        return None
    index = [i for i, _ in present]
    w = np.array([x for _, x in present], dtype=np.float64)
    w /= w.sum()
    return np.einsum("c,cdb->db", w, probability[index]).astype(np.float32)


@dataclass
class RainUplift:
    """The fitted uplift table and how to look it up for series.

    ``table`` has one row per (city, category, channel, band ≥ 1) with ``uplift`` (shrunk),
    ``raw`` (the cell's own ratio), ``days`` (city-days of that band the cell was seen in stock),
    ``units`` and ``expected`` (Σ sold, Σ expected-if-dry), ``weight`` (share of the cell's own
    estimate after shrinkage), and the category × channel value it was shrunk to
    (``pooled``, ``pooled_days``, ``pooled_cities``).
    """

    table: pd.DataFrame
    fallback: pd.DataFrame  # per (category, channel, band): pooled values for unseen cities
    group: pd.DataFrame  # per (rain_sensitive, channel, band): the top of the hierarchy
    data_start: pd.Timestamp
    data_end: pd.Timestamp  # last day used
    #: City → weight of the online channel's rain exposure (:func:`exposure_weights`).
    exposure: dict[str, float] = field(default_factory=dict)

    def series_factor(self, panel: Panel, probability: np.ndarray) -> np.ndarray:
        """(n_series, days): Σ_band P(band) · uplift(band), with ``probability`` the cities'
        band probabilities (cities, days, 5). A store series is under its own city's weather;
        an online series under the exposure mix of all cities (its own city's when the panel
        holds none of the exposure cities)."""
        per_band = self.series_uplift(panel).astype(np.float64)
        out = np.empty((panel.n_series, probability.shape[1]), dtype=np.float32)
        exposed = exposed_series(panel)
        mix = (
            exposure_probability(self.exposure, panel.cities, probability)
            if exposed.any()
            else None
        )
        if mix is None:
            exposed = np.zeros(panel.n_series, dtype=bool)
        for c in range(len(panel.cities)):
            rows = (panel.city_index == c) & ~exposed
            if rows.any():
                out[rows] = per_band[rows] @ probability[c].T.astype(np.float64)
        if exposed.any():
            out[exposed] = per_band[exposed] @ mix.T.astype(np.float64)
        return out

    def series_uplift(self, panel: Panel) -> np.ndarray:
        """(n_series, 5) uplift per band for each series of ``panel`` (band 0 ≡ 1).

        A city the history never saw takes its category × channel value; an unseen category the
        value of all rain-sensitive (or all other) categories of its channel."""
        keys = _series_keys(panel)
        code, unique = pd.factorize(
            pd.MultiIndex.from_frame(keys[["city", "category", "channel", "rain_sensitive"]])
        )
        per_key = np.ones((len(unique), len(BANDS)), dtype=np.float32)
        for k, (city, category, channel, sensitive) in enumerate(unique):
            for b in range(1, len(BANDS)):
                per_key[k, b] = self._value(city, category, channel, bool(sensitive), b)
        return per_key[code]

    def _value(self, city: str, category: str, channel: str, sensitive: bool, band: int) -> float:
        index = self._index()
        for key in (
            ("cell", city, category, channel, band),
            ("category", category, channel, band),
            ("group", sensitive, channel, band),
        ):
            row = index.get(key)
            if row is not None:
                return float(row["uplift"])
        return 1.0

    def _index(self) -> dict[tuple, dict[str, object]]:
        """Rows by key, built once (dict look-ups: the tool explains thousands of series)."""
        cached = getattr(self, "_rows", None)
        if cached is not None:
            return cached
        rows: dict[tuple, dict[str, object]] = {}
        for row in self.table.to_dict("records"):
            rows[("cell", row["city"], row["category"], row["channel"], int(row["band"]))] = row
        for row in self.fallback.to_dict("records"):
            rows[("category", row["category"], row["channel"], int(row["band"]))] = row
        for row in self.group.to_dict("records"):
            key = ("group", bool(row["rain_sensitive"]), row["channel"], int(row["band"]))
            rows[key] = row
        self._rows = rows
        return rows

    def support(self, city: str, category: str, channel: str, band: int) -> dict[str, object]:
        """The row a forecast's explanation cites (falls back to the pooled row)."""
        index = self._index()
        row = index.get(("cell", city, category, channel, band))
        if row is not None:
            return {"level": "city", **row}
        row = index.get(("category", category, channel, band))
        if row is not None:
            return {"level": "category", "city": city, **row}
        return {"level": "none", "city": city, "category": category, "uplift": 1.0, "days": 0}

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state.pop("_rows", None)  # a cache, rebuilt on first use
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        state.setdefault("exposure", {})  # pickled before the online exposure existed
        self.__dict__.update(state)


def _series_keys(panel: Panel) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "city": panel.series["city"].astype(str).to_numpy(),
            "category": panel.series["category"].astype(str).to_numpy(),
            "channel": series_channels(panel),
            "rain_sensitive": panel.series["rain_sensitive"].astype(bool).to_numpy(),
        }
    )


def estimate_uplift(
    panel: Panel, end: int | None = None, *, window: int = DRY_WINDOW_DAYS
) -> RainUplift:
    """Estimate the uplift table from the panel's history before column ``end``."""
    end = panel.n_days if end is None else end
    if end < 2 * window:
        raise ValueError(f"{end} days of history are too few to estimate a rain uplift")
    keys = _series_keys(panel)
    dates = panel.dates[:end]
    city_band = observed_bands(panel, end)  # (cities, T); UNKNOWN_BAND: neither wet nor dry
    excluded_day = holiday_flags(dates) > 0
    weights = exposure_weights(panel, end)
    mix = exposure_probability(weights, panel.cities, past_band_probability(panel, end))
    exposed = exposed_series(panel) & (mix is not None)

    group_code, _ = pd.factorize(keys["category"] + "|" + keys["channel"])
    cell_code, cell_names = pd.factorize(
        keys["city"] + "|" + keys["category"] + "|" + keys["channel"]
    )
    n_groups, n_cells = group_code.max() + 1, len(cell_names)
    weekday_factor = _weekday_factors(
        panel, end, group_code, n_groups, city_band, excluded_day, exposed
    )
    context = _Context(panel, end, excluded_day, weekday_factor, group_code, cell_code, n_cells)

    observed, expected = _own_city_sums(context, city_band, ~exposed, window)
    cell_city = np.array([name.split("|")[0] for name in cell_names])
    cell_band = city_band[pd.Index(panel.cities).get_indexer(cell_city)]  # (cells, T)
    o_band = np.zeros((n_cells, len(BANDS), end))
    e_band = np.zeros_like(o_band)
    days_band = np.zeros((n_cells, len(BANDS)))
    for b in range(1, len(BANDS)):
        in_band = cell_band == b
        o_band[:, b] = np.where(in_band, observed, 0.0)
        e_band[:, b] = np.where(in_band, expected, 0.0)
        days_band[:, b] = (in_band & (expected > 0)).sum(axis=1)
    if exposed.any():
        assert mix is not None
        cells = np.unique(cell_code[exposed])
        o_mix, e_mix, d_mix = _exposed_sums(context, exposed, mix, window)
        o_band[cells], e_band[cells], days_band[cells] = o_mix[cells], e_mix[cells], d_mix[cells]

    sensitive_categories = set(keys.loc[keys["rain_sensitive"], "category"])
    table, fallback, group = _pooled_table(
        cell_names, o_band, e_band, days_band, sensitive_categories
    )
    return RainUplift(
        table=table,
        fallback=fallback,
        group=group,
        data_start=dates[0],
        data_end=dates[-1],
        exposure=weights if exposed.any() else {},
    )


@dataclass
class _Context:
    """What every part of the estimate reads: the panel's history and its day/series codes."""

    panel: Panel
    end: int
    excluded_day: np.ndarray
    weekday_factor: np.ndarray  # (groups, 7)
    group_code: np.ndarray
    cell_code: np.ndarray
    n_cells: int

    def rows(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(units with NaN as 0, usable demand, weekday factor) of the given series rows."""
        panel, end = self.panel, self.end
        y = observed_demand(panel.units[rows, :end], panel.stockout[rows, :end])
        usable = ~np.isnan(y) & ~panel.promo[rows, :end]
        usable &= ~self.excluded_day[None, :]
        weekday = panel.dates[:end].weekday.to_numpy()
        factor = self.weekday_factor[self.group_code[rows]][:, weekday]
        return np.nan_to_num(y), usable, factor

    def by_cell(self, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
        """(cells, T): ``values`` of the given rows summed per cell."""
        indicator = sparse.csr_matrix(
            (np.ones(len(rows)), (self.cell_code[rows], np.arange(len(rows)))),
            shape=(self.n_cells, len(rows)),
        )
        return np.asarray(indicator @ values)


def _own_city_sums(
    context: _Context, city_band: np.ndarray, selected: np.ndarray, window: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per cell × day, over wet days of the series' own city: Σ demand and Σ expected-if-dry
    (the mean of in-stock dry days within ±window, weekday-adjusted).

    A wet day that sold out says demand was at least what sold. Counted as what sold plus
    ``SELL_OUT_EXCESS`` × the row's mean (the level's rule, :func:`observed_demand`, right for a
    dry day) it missed most of the excess exactly where rain lifts demand: sell-out days carry
    10–30 % of rain gear's 暴雨 units in the eval worlds. Such a day counts E[D | D ≥ sold] of
    a Poisson at the day's expected demand, expected-if-dry × the uplift of its category ×
    channel and band, estimated with it (:func:`_censored_demand`)."""
    panel = context.panel
    observed = np.zeros((context.n_cells, context.end))
    expected = np.zeros_like(observed)
    n_keys = int(context.group_code.max()) + 1 if len(context.group_code) else 0
    in_stock_sold = np.zeros((n_keys, len(BANDS)))
    expected_by_key = np.zeros((n_keys, len(BANDS)))
    censored: list[tuple[np.ndarray, ...]] = []
    chosen = np.flatnonzero(selected)
    for lo in range(0, len(chosen), _CHUNK):
        rows = chosen[lo : lo + _CHUNK]
        y, usable, factor = context.rows(rows)
        band = city_band[panel.city_index[rows]]
        dry = usable & (band == 0)
        level = _window_mean(np.where(dry, y / factor, 0.0), dry, window)
        valid = usable & (band > 0) & np.isfinite(level)
        dry_expected = np.where(valid, np.nan_to_num(level) * factor, 0.0)
        units = np.nan_to_num(np.asarray(panel.units[rows, : context.end], dtype=np.float64))
        censored_day = valid & sold_out(units, panel.stockout[rows, : context.end])
        in_stock = valid & ~censored_day
        observed += context.by_cell(rows, np.where(in_stock, units, 0.0))
        expected += context.by_cell(rows, dry_expected)
        key_band = context.group_code[rows][:, None] * len(BANDS) + band
        size = n_keys * len(BANDS)
        in_stock_sold += np.bincount(
            key_band[in_stock], weights=units[in_stock], minlength=size
        ).reshape(n_keys, len(BANDS))
        expected_by_key += np.bincount(
            key_band[valid], weights=dry_expected[valid], minlength=size
        ).reshape(n_keys, len(BANDS))
        r, t = np.nonzero(censored_day)
        censored.append(
            (context.cell_code[rows[r]], t, key_band[r, t], units[r, t], dry_expected[r, t])
        )
    if censored:
        cell, day, key_band, sold, dry_mean = (
            np.concatenate(part) for part in zip(*censored, strict=True)
        )
        demand = _censored_demand(
            in_stock_sold.ravel(), expected_by_key.ravel(), key_band, sold, dry_mean
        )
        np.add.at(observed, (cell, day), demand)
    return observed, expected


#: Rounds of the censored-demand EM (:func:`_censored_demand`) and when it stops early.
CENSORED_ROUNDS = 100
CENSORED_TOLERANCE = 1e-6


def _censored_demand(
    in_stock_sold: np.ndarray,
    expected: np.ndarray,
    key: np.ndarray,
    sold: np.ndarray,
    dry_mean: np.ndarray,
) -> np.ndarray:
    """E[D | D ≥ sold] of each sell-out day at the uplift of its key (EM for a censored Poisson).

    ``in_stock_sold`` and ``expected`` are per key: units sold on in-stock days and Σ
    expected-if-dry over every day (sell-outs included); a sell-out day has its key, what it
    sold and its expected-if-dry. Each round sets u = (in-stock units + Σ imputed) ÷ expected
    and imputes each sell-out at λ = expected-if-dry × u: the fixed point is the uplift's
    maximum likelihood with the sell-outs read as 'at least'. The imputation is bounded by
    what sold below (λ ≪ sold) and by λ + sold above, so a band whose days mostly sold out
    cannot run away."""
    imputed = sold.astype(np.float64)
    uplift = np.ones_like(expected)
    for _ in range(CENSORED_ROUNDS):
        total = in_stock_sold + np.bincount(key, weights=imputed, minlength=len(expected))
        with np.errstate(invalid="ignore", divide="ignore"):
            updated = np.where(expected > 0, total / expected, 1.0)
        lam = dry_mean * updated[key]
        imputed = _poisson_mean_at_least(sold, lam)
        if np.max(np.abs(updated - uplift)) < CENSORED_TOLERANCE:
            break
        uplift = updated
    return imputed


def _poisson_mean_at_least(at_least: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """E[D | D ≥ k] for D ~ Poisson(λ): λ · P(D ≥ k − 1) ÷ P(D ≥ k); k where the tail is 0."""
    k = np.asarray(at_least, dtype=np.float64)
    lam = np.maximum(np.asarray(lam, dtype=np.float64), 0.0)
    tail = stats.poisson.sf(k - 1, lam)
    wider = stats.poisson.sf(k - 2, lam)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(tail > 1e-300, lam * wider / tail, k)
    return np.maximum(mean, k)


def _exposed_sums(
    context: _Context, exposed: np.ndarray, mix: np.ndarray, window: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per cell × band × day for online series: Σ sold attributed to each band of the exposure
    mix, Σ expected-if-dry × the band's exposure, and the band's exposure-weighted days.

    The level is every in-stock day's sales ÷ (weekday × the exposure uplift of the previous
    round, 1 at first), averaged within ±window; the uplift per category and band is the
    Poisson maximum likelihood of Σ sold_t = expected_t · Σ_b exposure_tb · uplift_b (EM).
    The attribution of each day's sales to bands makes the per-band ratio of sums equal that
    estimate, so the pooling below treats online cells like store cells."""
    panel = context.panel
    rows = np.flatnonzero(exposed)
    category_code, categories = pd.factorize(panel.series["category"].astype(str).to_numpy()[rows])
    y, usable, factor = context.rows(rows)
    uplift = np.ones((len(categories), len(BANDS)))
    for _ in range(EXPOSURE_ROUNDS):
        exposure_uplift = uplift[category_code] @ mix.T.astype(np.float64)  # (rows, T)
        # An uplift can reach 0 in a thin category (no sale on that band's days): never ÷ 0.
        divisor = np.maximum(factor * exposure_uplift, 1e-3)
        level = _window_mean(np.where(usable, y / divisor, 0.0), usable, window)
        valid = usable & np.isfinite(level)
        sold = np.where(valid, y, 0.0)
        dry_expected = np.where(valid, np.nan_to_num(level) * factor, 0.0)
        per_category = sparse.csr_matrix(
            (np.ones(len(rows)), (category_code, np.arange(len(rows)))),
            shape=(len(categories), len(rows)),
        )
        previous, uplift = (
            uplift,
            _em_uplift(
                np.asarray(per_category @ sold),
                np.asarray(per_category @ dry_expected),
                mix,
                start=uplift,
            ),
        )
        if np.max(np.abs(uplift - previous)) < EXPOSURE_TOLERANCE:
            break
    observed = context.by_cell(rows, sold)  # (cells, T)
    expected = context.by_cell(rows, dry_expected)
    cell_category = np.zeros(context.n_cells, dtype=np.int64)
    cell_category[context.cell_code[rows]] = category_code
    weighted = uplift[cell_category][:, :, None] * mix.T[None, :, :]  # (cells, 5, T)
    total = weighted.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, weighted / total, 0.0)
    o_band = observed[:, None, :] * share
    e_band = expected[:, None, :] * mix.T[None, :, :]
    days_band = ((expected > 0)[:, None, :] * mix.T[None, :, :]).sum(axis=2)
    return o_band, e_band, days_band


def _em_uplift(
    sold: np.ndarray, expected: np.ndarray, mix: np.ndarray, *, start: np.ndarray
) -> np.ndarray:
    """(k, 5) Poisson MLE of sold_t ~ expected_t · Σ_b mix_tb · u_b with u_0 ≡ 1 (EM from
    ``start``, u ≥ 0). A band never in the mix keeps u = 1 (it has nothing to say)."""
    a = expected[:, :, None] * mix[None, :, :].astype(np.float64)  # (k, T, 5)
    denominator = a.sum(axis=1)
    u = np.where(start > 0, start, 1.0)
    for _ in range(EM_STEPS):
        mean = (a * u[:, None, :]).sum(axis=2)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(mean > 0, sold / mean, 0.0)
            u = np.where(
                denominator > 0, u * (a * ratio[:, :, None]).sum(axis=1) / denominator, 1.0
            )
        u[:, 0] = 1.0
    return u


def _weekday_factors(
    panel: Panel,
    end: int,
    group_code: np.ndarray,
    n_groups: int,
    city_band: np.ndarray,
    excluded_day: np.ndarray,
    exposed: np.ndarray,
) -> np.ndarray:
    """(groups, 7) mean of dry in-stock days per weekday ÷ the group's dry mean (every in-stock
    day for online series: rain does not favour a weekday, and their 'dry' is a mix)."""
    weekday = panel.dates[:end].weekday.to_numpy()
    sums = np.zeros((n_groups, 7))
    counts = np.zeros((n_groups, 7))
    for lo in range(0, panel.n_series, _CHUNK):
        hi = min(panel.n_series, lo + _CHUNK)
        y = observed_demand(panel.units[lo:hi, :end], panel.stockout[lo:hi, :end])
        dry = (
            ~np.isnan(y)
            & ~panel.promo[lo:hi, :end]
            & ((city_band[panel.city_index[lo:hi]] == 0) | exposed[lo:hi, None])
            & ~excluded_day[None, :]
        )
        indicator = sparse.csr_matrix(
            (np.ones(hi - lo), (group_code[lo:hi], np.arange(hi - lo))), shape=(n_groups, hi - lo)
        )
        day_sums = indicator @ np.where(dry, np.nan_to_num(y), 0.0)
        day_counts = indicator @ dry.astype(np.float64)
        for w in range(7):
            sums[:, w] += day_sums[:, weekday == w].sum(axis=1)
            counts[:, w] += day_counts[:, weekday == w].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_day = sums / counts
        overall = sums.sum(axis=1, keepdims=True) / counts.sum(axis=1, keepdims=True)
        factor = per_day / overall
    factor = np.where(np.isfinite(factor) & (factor > 0), factor, 1.0)
    return factor


def _window_mean(values: np.ndarray, mask: np.ndarray, window: int) -> np.ndarray:
    """Mean of ``values`` over masked days within ±window of each day (NaN when too few)."""
    n, t = values.shape
    csum = np.zeros((n, t + 1))
    ccount = np.zeros((n, t + 1))
    np.cumsum(values, axis=1, out=csum[:, 1:])
    np.cumsum(mask, axis=1, out=ccount[:, 1:])
    lo = np.clip(np.arange(t) - window, 0, t)
    hi = np.clip(np.arange(t) + window + 1, 0, t)
    total = csum[:, hi] - csum[:, lo]
    count = ccount[:, hi] - ccount[:, lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count >= MIN_DRY_DAYS, total / count, np.nan)


def _pooled_table(
    cell_names: pd.Index,
    o_band: np.ndarray,
    e_band: np.ndarray,
    days_band: np.ndarray,
    sensitive_categories: set[str],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``o_band``/``e_band``: (cells, 5, T) sold and expected-if-dry per band and day;
    ``days_band``: (cells, 5) days (exposure-weighted for online) behind each."""
    parts = pd.Series(cell_names).str.split("|", expand=True)
    cells = pd.DataFrame({"city": parts[0], "category": parts[1], "channel": parts[2]})
    rows = []
    for b in range(1, len(BANDS)):
        o_day, e_day = o_band[:, b], e_band[:, b]
        frame = cells.copy()
        frame["band"] = b
        frame["units"] = o_day.sum(axis=1)
        frame["expected"] = e_day.sum(axis=1)
        frame["days"] = days_band[:, b]
        rows.append((frame, o_day, e_day))
    table = pd.concat([f for f, _, _ in rows], ignore_index=True)
    o_day = np.concatenate([o for _, o, _ in rows])
    e_day = np.concatenate([e for _, _, e in rows])
    # Which categories are rain-sensitive is the pool's data (the series' flag), not a constant.
    table["rain_sensitive"] = table["category"].isin(sensitive_categories)

    # Top: all rain-sensitive (or all other) categories of a channel, per band: ratio of sums.
    group_keys = ["rain_sensitive", "channel", "band"]
    group = table.groupby(group_keys, as_index=False)[["units", "expected", "days"]].sum()
    group["uplift"] = _ratio(*_half_unit_if_none(group["units"], group["expected"]), np.nan)
    group["raw"] = group["uplift"]
    group = group.sort_values(group_keys, ignore_index=True)
    group_of_row = pd.MultiIndex.from_frame(table[group_keys])
    row_group = pd.MultiIndex.from_frame(group[group_keys]).get_indexer(group_of_row)
    group["city_days"], group["residual"] = _group_city_days(
        table["city"].to_numpy(), row_group, len(group), o_day, e_day, group["raw"].to_numpy()
    )
    log_uplift, group["line"], group["own_weight"] = _toward_the_line(
        group, ["rain_sensitive", "channel"]
    )
    group["extrapolated"] = group["uplift"].isna()
    group["uplift"] = np.exp(
        _monotone_in_band(
            group,
            log_uplift,
            group["days"].to_numpy(),
            ["rain_sensitive", "channel"],
        )
    )

    # Category × channel, shrunk towards the group.
    cat_keys = ["category", "channel", "band"]
    cat_code, cat_index = pd.factorize(pd.MultiIndex.from_frame(table[cat_keys]))
    n_cat = len(cat_index)
    cat = pd.DataFrame(list(cat_index), columns=cat_keys)
    cat["rain_sensitive"] = cat["category"].isin(sensitive_categories)
    cat_o = _sum_rows(table["units"].to_numpy(), cat_code, n_cat)
    cat_e = _sum_rows(table["expected"].to_numpy(), cat_code, n_cat)
    cat["units"], cat["expected"] = cat_o, cat_e
    cat["days"] = _sum_rows(table["days"].to_numpy(), cat_code, n_cat)
    cat["cities"] = _sum_rows((table["days"] > 0).to_numpy(float), cat_code, n_cat)
    cat_raw = _ratio(cat_o, cat_e, np.nan)
    # Day-level residuals of each cell around its category's raw ratio (cluster = city-day).
    cat_var = _cluster_variance(o_day, e_day, np.nan_to_num(cat_raw[cat_code], nan=1.0), cat_code)
    group_of_cat = cat.merge(group, on=group_keys, how="left")["uplift"].to_numpy()
    group_code, _ = pd.factorize(pd.MultiIndex.from_frame(cat[group_keys]))
    cat_log, cat_weight = _shrink(
        cat_o, cat_e, cat_var, cat["days"].to_numpy(), np.log(group_of_cat), group_code
    )
    cat_log = _monotone_in_band(cat, cat_log, cat["days"].to_numpy(), ["category", "channel"])
    cat["raw"], cat["uplift"], cat["weight"] = cat_raw, np.exp(cat_log), cat_weight

    # City × category × channel, shrunk towards its (shrunk) category value.
    cell_o, cell_e = table["units"].to_numpy(), table["expected"].to_numpy()
    cell_raw = _ratio(cell_o, cell_e, np.nan)
    cell_var = _cluster_variance(
        o_day, e_day, np.nan_to_num(cell_raw, nan=1.0), np.arange(len(table))
    )
    cell_log, cell_weight = _shrink(
        cell_o, cell_e, cell_var, table["days"].to_numpy(), cat_log[cat_code], cat_code
    )
    cell_log = _monotone_in_band(
        table, cell_log, table["days"].to_numpy(), ["city", "category", "channel"]
    )
    table["raw"], table["uplift"], table["weight"] = cell_raw, np.exp(cell_log), cell_weight
    table["pooled"] = cat["uplift"].to_numpy()[cat_code]
    table["pooled_days"] = cat["days"].to_numpy()[cat_code]
    table["pooled_cities"] = cat["cities"].to_numpy()[cat_code]
    table["band_name"] = [str(BANDS[b]) for b in table["band"]]
    table = table.drop(columns=["rain_sensitive"])
    return table, cat, group


def _group_city_days(
    city: np.ndarray,
    row_group: np.ndarray,
    n_groups: int,
    o_day: np.ndarray,
    e_day: np.ndarray,
    ratio: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per group row (a channel's rain or other categories × band): the city-days behind it
    and Σ over them of (O − r·E)², with O, E the city-day's sold and expected-if-dry summed
    over the row's categories (they share the day's rain: one observation, not five)."""
    days = np.zeros(n_groups)
    residual = np.zeros(n_groups)
    for g in range(n_groups):
        rows = row_group == g
        r = ratio[g] if np.isfinite(ratio[g]) else 1.0
        for c in np.unique(city[rows]):
            o = o_day[rows & (city == c)].sum(axis=0)
            e = e_day[rows & (city == c)].sum(axis=0)
            seen = e > 0
            days[g] += seen.sum()
            residual[g] += float(((o - r * e)[seen] ** 2).sum())
    return days, residual


def _toward_the_line(
    frame: pd.DataFrame, keys: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log uplift per row of ``frame`` (each key's bands), the line's value there and the
    weight the band's own data kept.

    The line: log uplift = slope × band index through dry ≡ 0, fitted by least squares over
    the key's seen bands weighted by their city-days. Why a line: the CMA band floors roughly
    double (10, 25, 50, 100 mm), so the band index is about log₂ of the day's rain, and a log
    uplift in proportion to it is a constant elasticity to the amount.

    - A band the history never saw takes the line (``extrapolated``): a short history (120
      days, one wet season) often holds no 暴雨 day, and carrying the milder band's value over
      put 暴雨 at the 大雨 (or 中雨) uplift (×2.2 where the demo worlds hold ×4).
    - A seen band is a credibility blend (empirical Bayes, normal on the log scale) of its own
      ratio and the line fitted on the *other* bands: own weight = t² ÷ (t² + σ²/days), with
      σ² the variance of one city-day's log ratio (the clustered sandwich of the key's bands
      seen on ≥ 2 days, median of variance × days) and t² = τ² (how far bands really sit off
      the line: DerSimonian–Laird on the residuals) + the variance of the line's prediction
      there. A 暴雨 read off one to three city-days (×3.09 where the world holds ×4,
      rain-chengdu-heavy) is pulled toward the line; a band seen on tens of days, or one whose
      distance from the line the other bands show to be real, keeps what its data say. With
      a single seen band there is no line to blend with: it keeps its value.
    - For categories whose demand rises on wet days (the catalogue's ``rain_sensitive``), a
      band above the heaviest one seen is no lower than that band: a thin channel's light band
      below 1 (online rain gear in a one-city pool, ×0.60 on 11 light days where its customers
      buy ×1.09) is data, but its line carried into a rainstorm said rain boots sell at a
      seventh of a dry day's rate (×0.13).
    """
    raw = np.log(frame["uplift"].to_numpy(float))
    out = raw.copy()
    line_value = np.full(len(frame), np.nan)
    own = np.where(np.isfinite(raw), 1.0, 0.0)
    for _, rows in frame.groupby(keys, sort=False):
        index = rows.index.to_numpy()
        band = rows["band"].to_numpy(float)
        units = rows["units"].to_numpy(float)
        days = np.nan_to_num(rows["city_days"].to_numpy(float))
        values = raw[index]
        seen = np.isfinite(values) & (days > 0)
        rises = "rain_sensitive" in rows and bool(rows["rain_sensitive"].all())
        # One city-day's variance of the log ratio: clustered sandwich (≥ the Poisson 1/Σsold)
        # × days, over the bands whose days show a scatter.
        scatter = seen & (days >= 2) & (units > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            sandwich = rows["residual"].to_numpy(float) * days / np.maximum(days - 1, 1)
            per_day = np.maximum(sandwich / units**2, 1.0 / units) * days
        sigma2 = float(np.median(per_day[scatter])) if scatter.any() else 1.0
        variance = np.where(seen, sigma2 / np.maximum(days, 1.0), np.inf)

        slope, _ = _line(band, values, days, seen, sigma2)
        line_value[index] = slope * band
        out[index[~seen]] = slope * band[~seen]
        if seen.sum() >= 2:
            w = 1.0 / variance[seen]
            q = float(np.sum(w * (values[seen] - slope * band[seen]) ** 2))
            scale = float(np.sum(w) - np.sum(w**2) / np.sum(w))
            tau2 = max(0.0, (q - (seen.sum() - 1)) / scale) if scale > 0 else 0.0
            for i in np.flatnonzero(seen):
                others = seen.copy()
                others[i] = False
                loo_slope, slope_variance = _line(band, values, days, others, sigma2)
                prior_variance = tau2 + band[i] ** 2 * slope_variance
                keep = (
                    prior_variance / (prior_variance + variance[i]) if prior_variance > 0 else 0.0
                )
                out[index[i]] = keep * values[i] + (1 - keep) * loo_slope * band[i]
                own[index[i]] = keep
        if rises and seen.any():
            # Rising demand: an unseen band is no lower than the heaviest seen (docstring).
            top = int(np.flatnonzero(seen).max())
            above = ~seen & (band > band[top])
            out[index[above]] = np.maximum(out[index[above]], out[index[top]])
    return out, line_value, own


def _line(
    band: np.ndarray, values: np.ndarray, days: np.ndarray, mask: np.ndarray, sigma2: float
) -> tuple[float, float]:
    """Slope of log uplift = slope × band through dry ≡ 0 over the ``mask``ed bands, weighted by
    their days, and its variance (σ² per day); no band: slope 0, infinite variance."""
    denominator = float(np.sum(days[mask] * band[mask] ** 2))
    if denominator <= 0:
        return 0.0, np.inf
    return float(np.sum(days[mask] * band[mask] * values[mask])) / denominator, sigma2 / denominator


def _monotone_in_band(
    frame: pd.DataFrame, log_uplift: np.ndarray, days: np.ndarray, keys: list[str]
) -> np.ndarray:
    """Make each key's log uplift monotone over dry → 暴雨 (dry ≡ 0), in the direction its
    bands lean (weighted by days), by weighted isotonic regression (pool adjacent violators).

    Heavier rain does not do less than lighter rain in the same direction; a 大雨 value above
    the 暴雨 value is the noise of a few days, and a human reading the table would not trust it.
    """
    out = np.asarray(log_uplift, dtype=float).copy()
    for _, rows in frame.groupby(keys, sort=False):
        index = rows.sort_values("band").index.to_numpy()
        values = np.concatenate([[0.0], out[index]])
        weights = np.concatenate([[1e6], np.maximum(days[index], 0) + 1.0])
        direction = 1.0 if np.sum(weights[1:] * values[1:]) >= 0 else -1.0
        out[index] = direction * _isotonic(direction * values, weights)[1:]
    return out


def _isotonic(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Non-decreasing weighted least-squares fit (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [mean, weight, count]
    for v, w in zip(values, weights, strict=True):
        blocks.append([float(v), float(w), 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, n2 = blocks.pop()
            m1, w1, n1 = blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    return np.concatenate([np.full(int(n), m) for m, _, n in blocks])


def _ratio(units: np.ndarray, expected: np.ndarray, empty: float) -> np.ndarray:
    units, expected = np.asarray(units, float), np.asarray(expected, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(expected > 0, units / expected, empty)


def _half_unit_if_none(units: pd.Series, expected: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Units and expected with half a unit added to each where nothing sold but some was
    expected (the usual correction of a zero count).

    A whole group without a sale on a band's few days (a thin channel, a short history, a
    rare 暴雨) is weak evidence, not an uplift of 0: its log (−∞) is the prior every category
    below it shrinks towards, and would sink them all. Groups that sold keep their plain ratio
    of sums."""
    units, expected = np.asarray(units, float), np.asarray(expected, float)
    none = (units <= 0) & (expected > 0)
    return np.where(none, 0.5, units), np.where(none, expected + 0.5, expected)


def _sum_rows(values: np.ndarray, code: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(code, weights=values, minlength=n)


def _cluster_variance(
    o_day: np.ndarray, e_day: np.ndarray, ratio: np.ndarray, code: np.ndarray
) -> np.ndarray:
    """Σ over city-days of (sold − ratio · expected)², summed per ``code`` (sandwich numerator)."""
    residual = ((o_day - ratio[:, None] * e_day) ** 2).sum(axis=1)
    return np.bincount(code, weights=residual, minlength=code.max() + 1 if len(code) else 0)


def _shrink(
    units: np.ndarray,
    expected: np.ndarray,
    residual: np.ndarray,
    days: np.ndarray,
    prior_log: np.ndarray,
    parent: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Empirical-Bayes log uplift per row and the weight its own data got.

    Sampling variance of a row's log ratio: the cluster-robust (city-day) sandwich
    Σ(o − r·e)² ÷ (Σo)² with the small-sample factor n/(n−1), at least the Poisson 1/Σo; a
    row seen on one day only borrows the per-day variance of its siblings. The between-row
    variance τ² per parent is DerSimonian–Laird's moment estimate.
    """
    units, expected, days = (np.asarray(a, float) for a in (units, expected, days))
    seen = (expected > 0) & (days > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        own_log = np.log((units + 0.5) / (expected + 0.5 / np.exp(prior_log)))
        variance = residual * days / np.maximum(days - 1, 1) / np.maximum(units, 1.0) ** 2
        variance = np.maximum(variance, 1.0 / (units + 1.0))
        per_day = variance * days
    # One-day rows: the median per-day variance of siblings seen on ≥ 2 days.
    n_parent = parent.max() + 1 if len(parent) else 0
    sibling_per_day = np.full(n_parent, np.nan)
    for p in range(n_parent):
        ok = (parent == p) & seen & (days >= 2)
        if ok.any():
            sibling_per_day[p] = np.median(per_day[ok])
    fallback = np.nan_to_num(sibling_per_day[parent], nan=1.0) / np.maximum(days, 1)
    variance = np.where(seen & (days >= 2), variance, np.maximum(variance, fallback))
    variance = np.where(seen, variance, np.inf)
    tau2 = _dersimonian_laird(own_log, variance, parent, seen)
    with np.errstate(invalid="ignore", divide="ignore"):
        weight = np.where(seen, tau2[parent] / (tau2[parent] + variance), 0.0)
    weight = np.nan_to_num(weight)
    log_uplift = np.where(seen, weight * own_log + (1 - weight) * prior_log, prior_log)
    return log_uplift, weight


def _dersimonian_laird(
    estimate: np.ndarray, variance: np.ndarray, parent: np.ndarray, seen: np.ndarray
) -> np.ndarray:
    n_parent = parent.max() + 1 if len(parent) else 0
    tau2 = np.zeros(n_parent)
    for p in range(n_parent):
        ok = (parent == p) & seen & np.isfinite(variance)
        if ok.sum() < 2:
            continue
        w = 1.0 / variance[ok]
        mean = np.sum(w * estimate[ok]) / np.sum(w)
        q = np.sum(w * (estimate[ok] - mean) ** 2)
        denominator = np.sum(w) - np.sum(w**2) / np.sum(w)
        if denominator > 0:
            tau2[p] = max(0.0, (q - (ok.sum() - 1)) / denominator)
    return tau2


@dataclass
class Climate:
    """What is expected, not observed, per city × target date (see :func:`climatology`)."""

    probability: np.ndarray  # (cities, dates, 5) band probabilities
    mean_mm: np.ndarray  # (cities, dates)
    mean_temp_c: np.ndarray  # (cities, dates), NaN when unknown
    days: np.ndarray  # (cities, dates) past days each estimate rests on


def climatology(
    history: pd.DataFrame,
    cities: list[str] | tuple[str, ...],
    dates: pd.DatetimeIndex,
    *,
    window_days: int = 15,
    min_days: int = 30,
) -> Climate:
    """Band probabilities, mean mm and temperature per city × target date from past same-season
    days.

    ``history`` holds (city, date, precipitation_mm[, temp_mean_c]) rows strictly before the
    clock (the caller guarantees it); a target date's climate is every past day whose day of
    year lies within ±``window_days`` (any year), or all past days of the city when fewer than
    ``min_days`` match; a city with no past weather is taken as dry.
    """
    shape = (len(cities), len(dates))
    probability = np.zeros((*shape, len(BANDS)), dtype=np.float32)
    probability[..., 0] = 1.0
    mean_mm = np.zeros(shape, dtype=np.float32)
    mean_temp = np.full(shape, np.nan, dtype=np.float32)
    days = np.zeros(shape, dtype=np.int32)
    if history.empty:
        return Climate(probability, mean_mm, mean_temp, days)
    past = history.assign(date=pd.to_datetime(history["date"]))
    for i, city in enumerate(cities):
        rows = past[past["city"] == city]
        if rows.empty:
            continue
        mm = rows["precipitation_mm"].fillna(0.0).to_numpy(np.float32)
        temp = (
            rows["temp_mean_c"].to_numpy(np.float32)
            if "temp_mean_c" in rows.columns
            else np.full(len(rows), np.nan, dtype=np.float32)
        )
        doy = rows["date"].dt.dayofyear.to_numpy()
        bands = band_codes(mm)
        for j, day in enumerate(dates):
            gap = np.abs(doy - day.dayofyear)
            gap = np.minimum(gap, 365 - gap)
            near = gap <= window_days
            if near.sum() < min_days:
                near = np.ones_like(near)
            probability[i, j] = np.bincount(bands[near], minlength=len(BANDS)) / near.sum()
            mean_mm[i, j] = mm[near].mean()
            known = near & ~np.isnan(temp)
            if known.any():
                mean_temp[i, j] = temp[known].mean()
            days[i, j] = near.sum()
    return Climate(probability, mean_mm, mean_temp, days)


def band_label(band: int) -> str:
    """'大雨 heavy' style label for explanations."""
    name = BANDS[band]
    return f"{RAIN_BAND_ZH[name]} {name}"
