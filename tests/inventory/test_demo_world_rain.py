"""The rain effect, measured back out of the generated sales, must match the documented model.

Measured on a rain world of 12 stores × 400 days (June 2014 – June 2015, so it holds a full
rainy season: 168 store-days of 大雨 and 72 of 暴雨), cached like the small world. Tolerances come
from building it with seeds 1, 2, 3 and 7 (docs/demo-world.md §Measured):

- Sales are censored by stock-outs, and a rain surge is exactly when stores sell out, so the
  in-stock rows of a heavy-rain day under-read the uplift of rain categories: measured/true was
  0.92–0.94 for 大雨 across seeds. We accept 0.8–1.1 of the parameter.
- Other categories in store (footfall): 0.68–0.77 against 0.70 across seeds; we accept ±0.08.
- Online: the response to the modelled shift (1.0 = as documented) was 0.75–0.96 across seeds,
  again pulled down by online stock-outs on surge days; we accept 0.5–1.3, which still fails
  when the shift is switched off (≈ 0) or doubled.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from inventory.db import make_engine
from inventory.demo_world import DEFAULT_PARAMETERS, WorldSpec, world_template
from inventory.demo_world.measure import RainEffect, measure_rain_effect
from inventory.vocabulary import RainBand

RAIN_WORLD = WorldSpec(
    seed=7, stores=12, styles=14, history_days=400, cities=("Shanghai", "Guangzhou", "Beijing")
)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "demo-world.md"


@pytest.fixture(scope="module")
def rain_world() -> Engine:
    engine = make_engine(f"sqlite:///{world_template(RAIN_WORLD)}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def measured(rain_world: Engine) -> RainEffect:
    return measure_rain_effect(rain_world, DEFAULT_PARAMETERS)


def test_rain_categories_rise_on_heavy_rain_days(measured: RainEffect) -> None:
    expected = DEFAULT_PARAMETERS.rain_uplift[RainBand.HEAVY]
    assert 0.8 * expected <= measured.rain_store["heavy"] <= 1.1 * expected


def test_rain_categories_rise_with_every_band(measured: RainEffect) -> None:
    bands = ["none", "light", "moderate", "heavy"]
    values = [measured.rain_store[b] for b in bands]
    assert values == sorted(values)
    assert measured.rain_store["rainstorm"] > measured.rain_store["moderate"]


def test_other_store_categories_fall_on_heavy_rain_days(measured: RainEffect) -> None:
    expected = DEFAULT_PARAMETERS.store_footfall[RainBand.HEAVY]
    assert measured.other_store["heavy"] == pytest.approx(expected, abs=0.08)
    assert measured.other_store["rainstorm"] < measured.other_store["moderate"] < 1.0


def test_online_rises_when_store_footfall_falls(measured: RainEffect) -> None:
    assert 0.5 <= measured.online_response <= 1.3
    assert measured.online_heavy_uplift > 1.3


def test_sample_has_enough_heavy_rain_days(measured: RainEffect) -> None:
    assert measured.store_days["heavy"] >= 100
    assert measured.store_days["rainstorm"] >= 40


def _docs_row(band: str) -> list[float]:
    row = next(line for line in DOCS.read_text().splitlines() if line.startswith(f"| {band} "))
    return [float(x) for x in re.findall(r"×([\d.]+)", row)]


@pytest.mark.parametrize("band", list(RainBand))
def test_documented_rain_table_matches_the_parameters(band: RainBand) -> None:
    p = DEFAULT_PARAMETERS
    rain, footfall = p.rain_uplift[band], p.store_footfall[band]
    online_other = 1 + p.online_shift * (1 - footfall) / p.online_share
    online_rain = 1 + p.online_rain_fraction * (rain - 1)
    expected = [rain, footfall, online_other, online_rain]
    assert _docs_row(band.value) == pytest.approx(expected, abs=0.005)
