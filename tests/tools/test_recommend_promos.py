"""recommend_promos: elasticity from history, the markdown ladder's money, the tool on a pool."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from inventory.models import DailySales
from tests.tools.plan_transfers_pool import NOW, build_pool, fake_forecast
from tools.context import ToolContext, ToolError
from tools.recommend_promos.economics import SALVAGE_SHARE, StyleStock
from tools.recommend_promos.elasticity import PRIOR_ELASTICITY, estimate_elasticity
from tools.recommend_promos.models import PromoInput
from tools.recommend_promos.tool import recommend_promos


def _history(rng: np.random.Generator, elasticity: float, days: int, base: float):
    style = rng.integers(0, 4, days)
    ratio = np.where(rng.random(days) < 0.3, rng.choice([0.6, 0.7, 0.8, 0.9], days), 1.0)
    level = base * (1 + style)
    units = rng.poisson(level * ratio**elasticity)
    return style, units, ratio


@settings(max_examples=25, deadline=None)
@given(
    elasticity=st.floats(-3.0, -0.5),
    seed=st.integers(0, 10_000),
    base=st.floats(15.0, 40.0),
)
def test_elasticity_is_recovered_from_promo_history(elasticity, seed, base):
    style, units, ratio = _history(np.random.default_rng(seed), elasticity, 600, base)
    est = estimate_elasticity(style, units, ratio)
    assert est.source == "history"
    assert est.interval[0] < est.value < est.interval[1]
    assert abs(est.value - elasticity) < 0.35


def test_no_price_variation_falls_back_to_the_prior():
    est = estimate_elasticity(np.zeros(100), np.full(100, 5), np.ones(100))
    assert est.source == "prior" and est.value == PRIOR_ELASTICITY


def test_negative_sales_are_refused():
    with pytest.raises(ValueError, match="units"):
        estimate_elasticity(np.zeros(3), np.array([1, -1, 2]), np.ones(3))


@settings(max_examples=50, deadline=None)
@given(
    on_hand=st.integers(1, 500),
    rate=st.floats(0.0, 50.0),
    weeks=st.floats(0.5, 30.0),
    elasticity=st.floats(-4.0, -0.1),
)
def test_deeper_markdowns_never_sell_fewer_units(on_hand, rate, weeks, elasticity):
    econ = StyleStock(on_hand, rate, 300.0, 120.0, weeks)
    options = [econ.markdown(d, elasticity) for d in (0.1, 0.2, 0.3, 0.4, 0.5)]
    extra = [o.expected_extra_units for o in options]
    assert all(b >= a - 1e-6 for a, b in itertools.pairwise(extra))
    assert all(0 <= x <= on_hand for x in extra)


def test_markdown_margin_by_hand():
    # 100 units, 2/week, 10 weeks: 20 sell at full price, 80 are cleared at salvage.
    econ = StyleStock(100, 2.0, 300.0, 120.0, 10.0)
    option = econ.markdown(0.5, -2.0)  # demand × 4 → 80 sold at 150
    assert option.expected_extra_units == pytest.approx(60)
    base = 20 * (300 - 120) - 80 * (1 - SALVAGE_SHARE) * 120
    after = 80 * (150 - 120) - 20 * (1 - SALVAGE_SHARE) * 120
    assert option.margin_impact == pytest.approx(after - base)
    assert option.weeks_of_cover_after == pytest.approx(12.5)


def _ctx(engine):
    return ToolContext(engine=engine, now=NOW)


def test_overstock_gets_a_priced_ladder_and_the_transfer_alternative(engine):
    """On SQLite and PostgreSQL: stock, cover and the transfer alternative come from the pool."""
    build_pool(engine)
    provider = fake_forecast({"SHA-S01": 0.5, "SHA-S02": 9.0, "SHA-S03": 0.2, "BEI-S01": 1.0})
    out = recommend_promos(
        _ctx(engine),
        PromoInput(city="Shanghai", weeks_of_cover_threshold=4),
        forecast_provider=provider,
    )
    by_location = {r.location: r for r in out.recommendations}
    s01 = by_location["SHA-S01"]
    assert s01.on_hand == 60 and s01.weeks_of_cover > 4
    assert [o.depth for o in s01.options] == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert s01.transfer_alternative is not None
    assert s01.transfer_alternative.dest == "SHA-S02"
    assert s01.verdict.startswith("transfer")
    outlet = by_location["SHA-S03"]
    assert outlet.transfer_alternative is None, "outlet stock offered to a full-price store"
    assert any("prior" in note for note in out.notes)


def test_elasticity_comes_from_the_pool_history(engine):
    """On SQLite and PostgreSQL: the promo history is read back from either pool."""
    build_pool(engine)
    rng = np.random.default_rng(3)
    with Session(engine) as session:
        for day in range(200):
            date = NOW.date() - dt.timedelta(days=day + 1)
            ratio = 0.7 if day % 4 == 0 else 1.0
            units = int(rng.poisson(20 * ratio**-2.0))
            session.add(
                DailySales(
                    location_code="SHA-S01",
                    sku_code="RB001-BLK-38",
                    date=date,
                    units=units,
                    price=299.0 * ratio,
                    promo=ratio < 1,
                )
            )
        session.commit()
    out = recommend_promos(
        _ctx(engine),
        PromoInput(locations=["SHA-S01"], weeks_of_cover_threshold=1),
        forecast_provider=fake_forecast({"SHA-S01": 0.5}),
    )
    (rec,) = out.recommendations
    assert abs(rec.elasticity + 2.0) < 0.4, rec.elasticity
    assert rec.elasticity_ci[0] < rec.elasticity < rec.elasticity_ci[1]
    assert not any("prior" in note for note in out.notes)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"locations": ["NOPE"]}, "locations"),
        ({"city": "Atlantis"}, "city"),
        ({"styles": ["ZZ999"]}, "styles"),
    ],
)
def test_bad_input_names_the_field(sqlite_engine, args, field):
    build_pool(sqlite_engine)
    with pytest.raises(ToolError) as err:
        recommend_promos(
            _ctx(sqlite_engine), PromoInput(**args), forecast_provider=fake_forecast({})
        )
    assert err.value.field == field


def test_transfer_alternative_uses_the_plan_value_at_the_destinations_price() -> None:
    stock = StyleStock(on_hand=100, weekly_rate=2.0, price=300.0, cost=120.0, horizon_weeks=4)
    # To an outlet (300 × 0.7 − 120 = 90 margin a unit): margin there, freight, and the
    # clearance loss the source avoids.
    net = stock.transfer_margin(10, dest_margin=90.0, transfer_cost=50.0)
    assert net == pytest.approx(10 * 90 - 50 + 10 * (1 - SALVAGE_SHARE) * 120)


@pytest.mark.parametrize("ladder", [[0.0, 0.2], [], [0.5, 1.0], [0.1] * 11])
def test_the_ladder_is_bounded_in_the_schema(ladder):
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as err:
        PromoInput(ladder=ladder)
    assert err.value.errors()[0]["loc"][0] == "ladder"
