"""Held-out real rain events: the suite's decision template on real days the suite never used.

The suite's rain scenarios (``evals/scenarios/rain-*.yaml``, ``false-alarm-*.yaml``) sit on a
handful of real days; every decision rule was chosen on them. This module picks other real days
from the same city weather the demo worlds are built from (``inventory.demo_world.weather``, the
table ``weather_check`` reads) and builds the same scenarios on them:

- **act**: 大雨 (heavy) and 暴雨 (rainstorm) days per city, banded by the product's own
  ``inventory.vocabulary.rain_band``, the alert carrying the day's real amount;
- **false alarm**: days that stayed dry (0 mm on the day, fully observed, and 0 mm the day
  after: the replay window) in the months the suite's false alarms use, with a 暴雨 alert of
  ``FALSE_ALARM_MM``.

No day within ``MARGIN_DAYS`` of any date a shipped rain scenario uses (any city) is taken, only
days whose world can be built (the world's history and future on real weather dates), and the
pick is a function of ``seed`` alone, spread over the years that have candidates.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from evals.scenario import Scenario, WorldSetup
from inventory.demo_world.spec import WorldSpec
from inventory.demo_world.vocabulary import CITY_REGION, DEMO_VOCABULARY
from inventory.demo_world.weather import load_city_weather
from inventory.vocabulary import RainBand, rain_band

#: Days either side of every shipped rain scenario's date that no held-out event may use.
MARGIN_DAYS = 14
#: The act bands: the alert graph's business is heavy rain.
ACT_BANDS: tuple[RainBand, ...] = (RainBand.HEAVY, RainBand.RAINSTORM)
#: The alert a false alarm receives (the suite's false-alarm template: a 暴雨 warning).
FALSE_ALARM_MM = 60.0
#: Hours a day must have observed for its amount to be trusted (a missing hour reads as dry).
FULL_DAY_HOURS = 24
CITIES: tuple[str, ...] = tuple(CITY_REGION)
#: The suite's scenario shape (``rain-beijing-heavy.yaml``, ``false-alarm-shanghai.yaml``).
STORES, STYLES, GEAR_SCALE, CLOCK_HOUR = 8, 12, 0.25, 8
FALSE_ALARM_CAP = 500.0

Role = Literal["act", "false-alarm"]
WeatherLoader = Callable[[str], pd.DataFrame]


@dataclass(frozen=True)
class HeldOutDay:
    """One real day chosen for a held-out event."""

    city: str
    date: dt.date
    mm: float
    band: RainBand
    role: Role

    @property
    def stratum(self) -> str:
        return f"{self.city}/{'false-alarm' if self.role == 'false-alarm' else self.band.value}"


def suite_dates(suite: Iterable[Scenario]) -> set[dt.date]:
    """Every date a shipped rain scenario stands on (its clock and its claimed weather day)."""
    dates: set[dt.date] = set()
    for scenario in suite:
        if "rain" not in scenario.tags and scenario.weather_check is None:
            continue
        dates.add(scenario.clock.date())
        if scenario.weather_check is not None:
            dates.add(scenario.weather_check.date)
    return dates


def false_alarm_months(suite: Iterable[Scenario]) -> set[int]:
    """The months the suite's false alarms fall in (the rainy season they test)."""
    return {s.clock.month for s in suite if s.role == "false-alarm"}


def near_suite(day: dt.date, dates: Iterable[dt.date], margin: int = MARGIN_DAYS) -> bool:
    return any(abs((day - other).days) <= margin for other in dates)


def world_fits(day: dt.date, setup: WorldSetup | None = None) -> bool:
    """Whether a demo world with its clock on ``day`` lies on real weather (history + future)."""
    setup = setup or WorldSetup()
    spec = WorldSpec(
        seed=setup.seed,
        stores=STORES,
        styles=STYLES,
        now=dt.datetime.combine(day, dt.time(CLOCK_HOUR)),
        history_days=setup.history_days,
    )
    try:
        spec.check_weather_window()
    except ValueError:
        return False
    return True


def candidates(
    city: str, daily: pd.DataFrame, excluded: set[dt.date], dry_months: set[int]
) -> dict[str, list[HeldOutDay]]:
    """Per stratum (``city/heavy``, ``city/rainstorm``, ``city/false-alarm``): every usable day.

    ``daily`` has the columns of ``inventory.demo_world.weather.daily_aggregates`` (date,
    precipitation_mm, hours_observed)."""
    rows = daily.sort_values("date")
    mm_of = {
        (d if isinstance(d, dt.date) else pd.Timestamp(d).date()): float(mm)
        for d, mm in zip(rows["date"], rows["precipitation_mm"], strict=True)
    }
    out: dict[str, list[HeldOutDay]] = defaultdict(list)
    for raw, mm, hours in zip(
        rows["date"], rows["precipitation_mm"], rows["hours_observed"], strict=True
    ):
        day = raw if isinstance(raw, dt.date) else pd.Timestamp(raw).date()
        if int(hours) < FULL_DAY_HOURS or near_suite(day, excluded) or not world_fits(day):
            continue
        band = rain_band(float(mm))
        if band in ACT_BANDS:
            event = HeldOutDay(city, day, float(mm), band, "act")
            out[event.stratum].append(event)
        elif (
            float(mm) == 0.0
            and day.month in dry_months
            and mm_of.get(day + dt.timedelta(days=1)) == 0.0
        ):
            event = HeldOutDay(city, day, 0.0, RainBand.NONE, "false-alarm")
            out[event.stratum].append(event)
    return dict(out)


def spread_pick(days: Sequence[HeldOutDay], n: int, rng: random.Random) -> list[HeldOutDay]:
    """``n`` days (or all there are), one year at a time in a shuffled year order, a random day
    within each year: the pick spreads over the years before it takes a second day of one."""
    by_year: dict[int, list[HeldOutDay]] = defaultdict(list)
    for day in sorted(days, key=lambda d: d.date):
        by_year[day.date.year].append(day)
    years = sorted(by_year)
    rng.shuffle(years)
    pools = {year: list(by_year[year]) for year in years}
    for pool in pools.values():
        rng.shuffle(pool)
    picked: list[HeldOutDay] = []
    while len(picked) < n and any(pools.values()):
        for year in years:
            if pools[year] and len(picked) < n:
                picked.append(pools[year].pop())
    return sorted(picked, key=lambda d: d.date)


def _packaged_daily(city: str) -> pd.DataFrame:
    return load_city_weather(city).daily


def select_days(
    n: int,
    seed: int,
    suite: Sequence[Scenario],
    *,
    cities: Sequence[str] = CITIES,
    weather: WeatherLoader = _packaged_daily,
) -> list[HeldOutDay]:
    """``n`` days per city × act band and ``n`` false-alarm days per city, chosen by ``seed``
    (a stratum with fewer candidates gives what it has)."""
    excluded = suite_dates(suite)
    dry_months = false_alarm_months(suite)
    picked: list[HeldOutDay] = []
    for city in cities:
        pools = candidates(city, weather(city), excluded, dry_months)
        strata = [f"{city}/{band.value}" for band in ACT_BANDS] + [f"{city}/false-alarm"]
        for stratum in strata:
            rng = random.Random(f"{seed}:{stratum}")
            picked += spread_pick(pools.get(stratum, []), n, rng)
    return picked


def _stock(city: str) -> list[dict[str, Any]]:
    return [
        {
            "match": {"city": city, "location_kind": "store", "category": category},
            "scale": GEAR_SCALE,
        }
        for category in sorted(DEMO_VOCABULARY.rain_categories)
    ]


def scenario_for(day: HeldOutDay) -> Scenario:
    """The suite's template on ``day``: the city's store rain gear at a quarter, the alert with
    the day's real amount (act) or a 暴雨 warning on a dry day (false alarm), approve."""
    tag = day.band.value if day.role == "act" else "false-alarm"
    scenario_id = f"heldout-{tag}-{day.city.lower()}-{day.date:%Y%m%d}"
    mm = round(day.mm, 1) if day.role == "act" else FALSE_ALARM_MM
    orders: dict[str, Any] = {
        "dest_cities": [day.city],
        "categories": sorted(DEMO_VOCABULARY.rain_categories),
    }
    if day.role == "act":
        purpose = (
            f"Held-out {day.band.value} rain in {day.city} on the real wet day {day.date} "
            f"({day.mm:.1f} mm), the stores' rain gear at a quarter."
        )
        expect: dict[str, Any] = {
            "orders": {"min_count": 1, **orders},
            "tools": {"over": "nodes", "calls": ["triage", "scope", "forecast", "plan"]},
            "kpis": {
                "min": {"capture_share": 0.35, "net_value": 1},
                "max": {"policy_violations": 0},
            },
        }
    else:
        purpose = (
            f"Held-out false alarm: a 暴雨 alert ({FALSE_ALARM_MM:g} mm) for {day.city} on "
            f"{day.date}, a day that stayed dry (0.0 mm), the stores' rain gear at a quarter."
        )
        expect = {
            "orders": orders,
            "kpis": {
                "min": {"net_value": -FALSE_ALARM_CAP},
                "max": {"policy_violations": 0, "transfer_cost": FALSE_ALARM_CAP},
            },
        }
    return Scenario.model_validate(
        {
            "id": scenario_id,
            "purpose": purpose,
            "tags": ["rain", "held-out", day.city.lower(), tag],
            "role": day.role,
            "world": {
                "cities": [day.city],
                "stores": STORES,
                "styles": STYLES,
                "stock": _stock(day.city),
            },
            "clock": dt.datetime.combine(day.date, dt.time(CLOCK_HOUR)),
            "weather_check": {"city": day.city, "date": day.date, "band": day.band.value},
            "trigger": {
                "alert": {
                    "payload": {
                        "type": "rain",
                        "city": day.city,
                        "mm": mm,
                        "hours": 24,
                        "external_id": f"eval-{scenario_id}",
                        "sender": "eval",
                    }
                }
            },
            "approver": {"default": "approve"},
            "expect": expect,
        }
    )


def held_out_scenarios(
    n: int, seed: int, suite: Sequence[Scenario], **kwargs: Any
) -> list[Scenario]:
    """The held-out events as scenarios: act days first (city order, heavy then rainstorm),
    then the false alarms."""
    days = select_days(n, seed, suite, **kwargs)
    ordered = [d for d in days if d.role == "act"] + [d for d in days if d.role != "act"]
    return [scenario_for(day) for day in ordered]
