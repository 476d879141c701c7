"""``evals.heldout``: held-out real rain events are real days in the band they claim, never the
suite's days, dry when they are false alarms, buildable, and the same for the same seed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.decisions import SCENARIOS
from evals.heldout import (
    FALSE_ALARM_MM,
    MARGIN_DAYS,
    HeldOutDay,
    candidates,
    false_alarm_months,
    held_out_scenarios,
    scenario_for,
    select_days,
    suite_dates,
    world_fits,
)
from evals.scenario import load_scenario, load_scenarios
from inventory.demo_world.weather import load_city_weather
from inventory.vocabulary import RainBand, rain_band

SUITE = load_scenarios(SCENARIOS)


@pytest.fixture(scope="module")
def daily() -> dict[str, pd.DataFrame]:
    cities = ("Beijing", "Shenyang", "Shanghai", "Guangzhou", "Chengdu")
    return {c: load_city_weather(c).daily.set_index("date") for c in cities}


@pytest.fixture(scope="module")
def picked(daily: dict[str, pd.DataFrame]) -> list[HeldOutDay]:
    return select_days(2, 0, SUITE, weather=lambda c: daily[c].reset_index())


def test_act_days_are_in_the_band_the_real_weather_gives(
    picked: list[HeldOutDay], daily: dict[str, pd.DataFrame]
) -> None:
    act = [d for d in picked if d.role == "act"]
    # two per city and band, but Beijing has fewer than two 暴雨 days outside the suite's
    assert len(act) >= 18
    for day in act:
        mm = float(daily[day.city].loc[day.date, "precipitation_mm"])
        assert day.mm == mm
        assert rain_band(mm) == day.band and day.band in (RainBand.HEAVY, RainBand.RAINSTORM)
        scenario = scenario_for(day)
        assert scenario.weather_check is not None
        assert scenario.weather_check.band == str(rain_band(mm))
        assert scenario.trigger.alert is not None
        assert scenario.trigger.alert.payload["mm"] == pytest.approx(mm)
    for city in daily:
        for band in (RainBand.HEAVY, RainBand.RAINSTORM):
            assert any(d.city == city and d.band == band for d in act), (city, band)


def test_false_alarm_days_stayed_dry_in_the_suites_months(
    picked: list[HeldOutDay], daily: dict[str, pd.DataFrame]
) -> None:
    alarms = [d for d in picked if d.role == "false-alarm"]
    assert len(alarms) == 2 * len(daily)
    months = {s.clock.month for s in SUITE if s.role == "false-alarm"}
    for day in alarms:
        weather = daily[day.city]
        assert weather.loc[day.date, "precipitation_mm"] == 0.0
        assert weather.loc[day.date, "hours_observed"] == 24
        assert weather.loc[day.date + dt.timedelta(days=1), "precipitation_mm"] == 0.0
        assert day.date.month in months
        scenario = scenario_for(day)
        assert scenario.role == "false-alarm"
        assert scenario.trigger.alert is not None
        assert scenario.trigger.alert.payload["mm"] == FALSE_ALARM_MM
        assert rain_band(FALSE_ALARM_MM) == RainBand.RAINSTORM


def test_no_day_near_the_suites_and_every_world_can_be_built(picked: list[HeldOutDay]) -> None:
    dates = suite_dates(SUITE)
    assert dt.date(2012, 7, 10) in dates and dt.date(2014, 7, 29) in dates
    for day in picked:
        assert min(abs((day.date - d).days) for d in dates) > MARGIN_DAYS
        assert world_fits(day.date)
    assert not world_fits(dt.date(2010, 2, 1))  # 120 days of history before the weather starts
    assert not world_fits(dt.date(2015, 12, 20))  # 28 future days past its end
    assert len({d.date.year for d in picked}) >= 4


def _synthetic(days: dict[dt.date, float]) -> pd.DataFrame:
    start, end = dt.date(2010, 1, 1), dt.date(2015, 12, 31)
    dates = pd.date_range(start, end).date
    mm = [days.get(d, 3.0) for d in dates]  # light rain everywhere else
    return pd.DataFrame({"date": dates, "precipitation_mm": mm, "hours_observed": 24})


def test_band_edges_and_suite_margin_on_synthetic_weather() -> None:
    near = dt.date(2012, 7, 10) + dt.timedelta(days=MARGIN_DAYS)  # a suite date + 14 days
    weather = {
        dt.date(2011, 5, 1): 24.9,  # 中雨: not an act day
        dt.date(2011, 5, 10): 25.0,  # 大雨
        dt.date(2012, 5, 10): 49.9,  # 大雨
        dt.date(2013, 5, 10): 50.0,  # 暴雨
        near: 80.0,  # 暴雨, but inside the margin
        dt.date(2010, 2, 15): 90.0,  # 暴雨, but the world's 120 days of history precede the data
        dt.date(2015, 12, 20): 70.0,  # 暴雨, but its 28 future days run past the data
        dt.date(2011, 7, 2): 0.0,  # dry, and the day after too
        dt.date(2011, 7, 3): 0.0,  # dry, but rain the day after
        dt.date(2013, 7, 20): 0.0,  # dry twice, but 4 days from a suite date
        dt.date(2013, 7, 21): 0.0,
        dt.date(2013, 9, 5): 0.0,  # dry twice in a month the suite's false alarms do not use
        dt.date(2013, 9, 6): 0.0,
    }
    days = select_days(9, 3, SUITE, cities=["Beijing"], weather=lambda _: _synthetic(weather))
    got = {(d.date, d.band, d.role) for d in days}
    assert got == {
        (dt.date(2011, 5, 10), RainBand.HEAVY, "act"),
        (dt.date(2012, 5, 10), RainBand.HEAVY, "act"),
        (dt.date(2013, 5, 10), RainBand.RAINSTORM, "act"),
        (dt.date(2011, 7, 2), RainBand.NONE, "false-alarm"),
    }
    # a partly observed day is not trusted to be dry (a missing hour reads as 0 mm)
    frame = _synthetic(weather)
    frame.loc[frame["date"] == dt.date(2011, 7, 2), "hours_observed"] = 20
    days = select_days(9, 3, SUITE, cities=["Beijing"], weather=lambda _: frame)
    assert not [d for d in days if d.role == "false-alarm"]


def test_same_seed_same_days_other_seed_other_days_spread_over_years(
    daily: dict[str, pd.DataFrame], picked: list[HeldOutDay]
) -> None:
    again = select_days(2, 0, SUITE, weather=lambda c: daily[c].reset_index())
    assert again == picked
    other = select_days(2, 1, SUITE, weather=lambda c: daily[c].reset_index())
    assert other != picked
    pools: dict[str, list[HeldOutDay]] = {}
    for city, weather in daily.items():
        pools |= candidates(
            city, weather.reset_index(), suite_dates(SUITE), false_alarm_months(SUITE)
        )
    spread = 0
    for stratum, pool in pools.items():
        years = [d.date.year for d in picked if d.stratum == stratum]
        assert len(years) == min(2, len(pool)), stratum
        if len({d.date.year for d in pool}) >= 2:  # two years to pick from: two picked
            assert years[0] != years[1], stratum
            spread += 1
    assert spread >= 10


def _unordered(value: object) -> object:
    """Lists compared as multisets (the shipped files list categories in no canonical order)."""
    if isinstance(value, dict):
        return {k: _unordered(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return sorted((_unordered(v) for v in value), key=repr)
    return value


def test_the_suites_template() -> None:
    """On the suite's own day, the generator rebuilds the shipped scenario (but its name)."""
    for name, day in (
        (
            "rain-beijing-heavy",
            HeldOutDay("Beijing", dt.date(2012, 7, 10), 34.3, RainBand.HEAVY, "act"),
        ),
        (
            "false-alarm-shanghai",
            HeldOutDay("Shanghai", dt.date(2014, 7, 29), 0.0, RainBand.NONE, "false-alarm"),
        ),
    ):
        shipped = load_scenario(Path(SCENARIOS) / f"{name}.yaml")
        made = scenario_for(day)
        assert made.role == shipped.role
        assert _unordered(made.world.model_dump()) == _unordered(shipped.world.model_dump())
        assert made.clock == shipped.clock and made.weather_check == shipped.weather_check
        assert made.approver == shipped.approver
        assert _unordered(made.expect.model_dump()) == _unordered(shipped.expect.model_dump())
        assert made.replay_days == shipped.replay_days and made.replay_scope is None
        assert shipped.trigger.alert is not None and made.trigger.alert is not None
        keep = {"type", "city", "mm", "hours", "sender"}
        assert {k: v for k, v in made.trigger.alert.payload.items() if k in keep} == {
            k: v for k, v in shipped.trigger.alert.payload.items() if k in keep
        }


def test_held_out_scenarios_are_act_then_false_alarms_with_unique_ids() -> None:
    scenarios = held_out_scenarios(1, 0, SUITE)
    roles = [s.role for s in scenarios]
    assert roles == sorted(roles, key=lambda r: r != "act")
    assert roles.count("false-alarm") == 5 and roles.count("act") == 10
    assert len({s.id for s in scenarios}) == len(scenarios)
    assert all(s.id.startswith("heldout-") and "held-out" in s.tags for s in scenarios)


def test_the_benchmark_option_takes_the_held_out_events_of_the_roles_asked() -> None:
    import argparse

    from benchmarks.decisions import held_out_selection

    args = argparse.Namespace(held_out=1, held_out_seed=0, roles="false-alarm")
    alarms = held_out_selection(args, SUITE)
    assert [s.role for s in alarms] == ["false-alarm"] * 5
    args = argparse.Namespace(held_out=1, held_out_seed=0, roles="")
    assert [s.id for s in held_out_selection(args, SUITE)] == [
        s.id for s in held_out_scenarios(1, 0, SUITE)
    ]
