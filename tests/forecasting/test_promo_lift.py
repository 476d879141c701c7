"""The explicit promo lift (forecasting/promo.py): a promo day is forecast as the baseline's
promo-free forecast × (1 − depth)^−elasticity, the elasticity per category read from the
history's promo days against the baseline's own error on the same weeks' regular days.

Before it, the global model learnt a promo's lift from the few promo rows of its 4 training
origins: on the 16 × 30 demo hold-out promo days were forecast at 0.77–0.97 of the world's
expected demand (docs/forecasting.md "Promo lift", 2026-12-07)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from forecasting.global_model import GlobalBoostingForecaster, GlobalModelConfig
from forecasting.panel import Panel
from forecasting.promo import estimate_promo_lift, promo_depth, without_promo
from forecasting.rain_model import RainUpliftForecaster

ELASTICITY = 2.0
DEPTHS = (0.2, 0.3, 0.4)
HORIZON = 14
CONFIG = GlobalModelConfig(
    max_horizon=HORIZON,
    max_iter=40,
    max_train_rows=60_000,
    fit_threads=1,
    use_weather=False,
    use_temperature=True,
)


def _promo_world(seed: int = 3, styles: int = 60, per_style: int = 12, days: int = 280):
    """Series in styles; a style goes on a week-long national promo from a Monday with
    probability 0.08 a week at 20/30/40 % off, lifting demand (1 − depth)^−2 (×1.56–2.78);
    negative-binomial days. Returns the panel (sales = demand, nothing censored) and the means."""
    rng = np.random.default_rng(seed)
    n = styles * per_style
    dates = pd.date_range("2014-03-03", periods=days, freq="D")  # a Monday
    style = np.repeat(np.arange(styles), per_style)
    categories = np.array(["jeans", "tshirts", "hoodies"])[style % 3]
    discount = np.zeros((styles, days))
    for s in range(styles):
        for monday in range(0, days - 7, 7):
            if rng.random() < 0.08:
                discount[s, monday : monday + 7] = rng.choice(DEPTHS)
    level = rng.lognormal(-0.5, 0.8, size=(n, 1))
    weekday = np.array([0.9, 0.85, 0.9, 0.95, 1.1, 1.2, 1.1])[dates.weekday.to_numpy()]
    depth = discount[style]
    mean = level * weekday[None, :] * (1.0 - depth) ** -ELASTICITY
    units = rng.poisson(rng.gamma(2.0, mean / 2.0)).astype(np.float32)
    series = pd.DataFrame(
        {
            "category": categories,
            "city": "Shanghai",
            "rain_sensitive": False,
            "style": [f"ST{s:03d}" for s in style],
        },
        index=pd.Index([f"S1|K{i:04d}" for i in range(n)], name="series_id"),
    )
    panel = Panel(
        series=series,
        dates=dates,
        units=units,
        stockout=np.zeros((n, days), dtype=bool),
        promo=depth > 0,
        price_ratio=(1.0 - depth).astype(np.float32),
        cities=("Shanghai",),
        precipitation_mm=np.zeros((1, days), dtype=np.float32),
        temp_mean_c=np.full((1, days), 18.0, dtype=np.float32),
        city_index=np.zeros(n, dtype=int),
    )
    return panel, mean


@pytest.fixture(scope="module")
def world():
    panel, mean = _promo_world()
    origin = panel.n_days - HORIZON
    fits = {
        flag: RainUpliftForecaster(GlobalBoostingForecaster(CONFIG), promo_lift=flag).fit(
            panel, origin
        )
        for flag in (False, True)
    }
    return panel, mean, origin, fits


def test_the_lift_reads_the_elasticity_from_the_history(world) -> None:
    fits = world[3]
    lift = fits[True].promo_lift
    assert lift is not None
    assert abs(lift.pooled - ELASTICITY) < 0.3, lift.table
    for row in lift.table.itertuples():
        assert abs(row.elasticity - ELASTICITY) < 0.4, lift.table
        assert row.days > 0 and row.episodes > 0


def test_promo_days_land_on_demand_and_regular_days_do_not_move(world) -> None:
    panel, mean, origin, fits = world
    days = slice(origin, origin + HORIZON)
    promo = panel.promo[:, days]
    assert promo.sum() > 100, "the hold-out needs promo days"
    truth = mean[:, days]
    forecast = {flag: fit.predict_mean(panel, origin, HORIZON) for flag, fit in fits.items()}
    ratio = {flag: f[promo].sum() / truth[promo].sum() for flag, f in forecast.items()}
    regular = forecast[True][~promo].sum() / truth[~promo].sum()
    # The same forecast to the bit on regular days: the lift touches promo days only.
    np.testing.assert_array_equal(forecast[True][~promo], forecast[False][~promo])
    # This small world's model learns most of the lift by itself (measured: promo ÷ regular
    # days 1.021 without the lift, 0.982 with it); the demo world's did not (0.73 → 0.91, seed
    # 7). What is checked here: the explicit lift lands promo days on demand like the rest.
    assert abs(ratio[True] / regular - 1) < 0.08, (ratio, regular)


def test_a_promo_free_horizon_is_the_regular_price_and_no_flag() -> None:
    panel, _ = _promo_world(styles=6, days=60)
    panel.promo[:12, 42:49] = True
    panel.price_ratio[:12, 42:49] = 0.7
    np.testing.assert_allclose(promo_depth(panel)[:12, 42:49], 0.3, rtol=1e-5)
    bare = without_promo(panel, 40, 14)
    assert not bare.promo[:, 40:54].any()
    np.testing.assert_allclose(bare.price_ratio[:, 40:54], 1.0)
    np.testing.assert_array_equal(bare.promo[:, :40], panel.promo[:, :40])  # history kept
    np.testing.assert_array_equal(bare.promo[:, 54:], panel.promo[:, 54:])


def test_no_promo_in_the_history_means_no_lift() -> None:
    panel, _ = _promo_world(styles=6, days=120)
    plain = dataclasses.replace(
        panel,
        promo=np.zeros_like(panel.promo),
        price_ratio=np.ones_like(panel.price_ratio),
    )
    assert estimate_promo_lift(lambda p, o, h: np.ones((p.n_series, h)), plain, 100) is None
