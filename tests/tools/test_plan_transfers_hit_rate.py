"""A rain alert is valued at its chance of verifying: p·value if it rains + (1 − p)·value if dry."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlmodel import Session

from inventory.models import AlertRecord, WeatherDaily
from inventory.vocabulary import RainBand
from tests.tools.plan_transfers_pool import NOW, build_pool, forecast_from
from tools.context import ToolContext
from tools.forecast_demand.models import ForecastInput, RainScenario
from tools.plan_transfers.expected_sales import count_curves, expected_sales, mix_count_curves
from tools.plan_transfers.hit_rate import alert_hit_rate, verifies
from tools.plan_transfers.models import PlanTransfersInput
from tools.plan_transfers.tool import plan_transfers
from tools.plan_transfers.value import AlertVerification

RAIN = [RainScenario(city="Shanghai", start=NOW.date(), days=1, precipitation_mm_per_day=60.0)]


def _rain_aware(wet: float, dry: float):
    """SHA-S02 (the short store) sells ``wet`` units per SKU if the request assumes rain, ``dry``
    otherwise; every other store sells 0.2."""

    def mean_of(request: ForecastInput, location: str) -> float:
        rainy = any(r.precipitation_mm_per_day > 0 for r in request.rain)
        return (wet if rainy else dry) if location == "SHA-S02" else 0.2

    return forecast_from(mean_of)


def test_verification_needs_the_band_below_the_warned_one_and_at_least_moderate():
    assert verifies(RainBand.RAINSTORM, [RainBand.HEAVY])
    assert not verifies(RainBand.RAINSTORM, [RainBand.MODERATE])
    assert verifies(RainBand.HEAVY, [RainBand.NONE, RainBand.MODERATE])
    assert not verifies(RainBand.HEAVY, [RainBand.LIGHT, RainBand.NONE])


def test_mixture_curves_are_the_mix_of_expected_sales():
    levels = np.array([0.1, 0.5, 0.9])
    mean_a, mean_b = np.array([6.0, 0.4]), np.array([0.3, 0.1])
    a = count_curves(levels, np.stack([0.5 * mean_a, mean_a, 1.6 * mean_a], axis=1), mean_a)
    b = count_curves(levels, np.stack([0.5 * mean_b, mean_b, 1.6 * mean_b], axis=1), mean_b)
    mixed = mix_count_curves(0.3, a, b)
    for s in (0.0, 1.0, 3.0, 12.0):
        stock = np.full(2, s)
        want = 0.3 * expected_sales(a, stock) + 0.7 * expected_sales(b, stock)
        assert np.allclose(expected_sales(mixed, stock), want)


def test_a_doubtful_alert_moves_less_and_the_plan_says_why(engine):
    build_pool(engine)
    ctx = ToolContext(engine=engine, now=NOW)
    provider = _rain_aware(wet=4.0, dry=0.3)
    request = PlanTransfersInput(city="Shanghai", rain=RAIN, window_days=2)
    certain = plan_transfers(
        ctx, request.model_copy(update={"rain_hit_rate": 1.0}), forecast_provider=provider
    )
    doubtful = plan_transfers(
        ctx, request.model_copy(update={"rain_hit_rate": 0.3}), forecast_provider=provider
    )
    never = plan_transfers(
        ctx, request.model_copy(update={"rain_hit_rate": 0.0}), forecast_provider=provider
    )
    assert certain.totals.units > doubtful.totals.units >= never.totals.units
    assert certain.totals.net_value > doubtful.totals.net_value
    assert any("p = 0.30" in note for note in doubtful.notes)
    # p = 0 is the dry forecast alone: the plan of a forecast that never saw the alert.
    dry = plan_transfers(
        ctx,
        request.model_copy(update={"rain_hit_rate": 1.0}),
        forecast_provider=_rain_aware(wet=0.3, dry=0.3),
    )
    assert never.totals.units == dry.totals.units
    assert never.totals.net_value == pytest.approx(dry.totals.net_value)


def _alert(session: Session, n: int, day: dt.date, mm: float) -> None:
    session.add(
        AlertRecord(
            external_id=f"a{n}",
            sender="cma",
            type="rain",
            payload={"type": "rain", "city": "Shanghai", "mm": mm, "hours": 24, "start": str(day)},
            received_at=dt.datetime.combine(day, dt.time(6), tzinfo=dt.UTC),
            run_id=f"r{n}",
        )
    )


def _weather(session: Session, day: dt.date, mm: float, band: RainBand) -> None:
    session.add(WeatherDaily(city="Shanghai", date=day, precipitation_mm=mm, rain_band=str(band)))


def test_hit_rate_comes_from_the_pools_past_alerts_shrunk_to_the_prior(engine):
    build_pool(engine)
    terms = AlertVerification(prior_hit_rate=0.6, prior_alerts=10)
    with engine.connect() as conn:
        empty = alert_hit_rate(conn, 60.0, NOW.date(), terms)
    assert empty.probability == pytest.approx(0.6) and empty.alerts == 0
    with Session(engine) as session:
        for n in range(20):  # 20 past 暴雨 alerts, only 4 brought as much as 大雨
            day = NOW.date() - dt.timedelta(days=30 + n)
            _alert(session, n, day, 80.0)
            wet = n < 4
            _weather(session, day, 40.0 if wet else 0.0, RainBand.HEAVY if wet else RainBand.NONE)
        # Today's own alert, already raining in the store: its outcome is not known at the clock.
        _alert(session, 99, NOW.date(), 80.0)
        _weather(session, NOW.date(), 90.0, RainBand.RAINSTORM)
        session.commit()
    with engine.connect() as conn:
        hit = alert_hit_rate(conn, 60.0, NOW.date(), terms)
        heavy = alert_hit_rate(conn, 30.0, NOW.date(), terms)
    assert (hit.alerts, hit.verified) == (20, 4)
    assert hit.probability == pytest.approx((4 + 6) / 30)
    assert heavy.alerts == 0  # per band of the warning
    assert "4 of 20" in hit.note
