"""No tool may read the weather observed after the clock (issue 10: no future leakage).

The demo world stores the whole real weather record, future included. We poison every stored
weather row dated on or after the clock with absurd values and check that every registered tool
answers exactly as before — with a model fitted before and one fitted after the poisoning.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from forecasting.global_model import GlobalModelConfig
from inventory.config import Settings
from inventory.db import make_engine
from tools.context import ToolContext
from tools.forecast_demand.fitting import fit_pool_model
from tools.registry import TOOLS, get_tool

FAST = GlobalModelConfig(max_iter=30, max_train_rows=40_000, fit_threads=1)


def _calls(today: dt.date) -> list[tuple[str, dict]]:
    storm_today = [
        {"city": "Shanghai", "start": today.isoformat(), "days": 1, "precipitation_mm_per_day": 80}
    ]
    return [
        ("stock_lookup", {"city": "Shanghai"}),
        ("forecast_demand", {"city": "Shanghai", "category": "umbrellas", "horizon_days": 7}),
        ("forecast_demand", {"city": "Guangzhou", "horizon_days": 3, "rain": []}),
        (
            "forecast_demand",
            {"city": "Shanghai", "category": "rain_boots", "horizon_days": 5, "rain": storm_today},
        ),
        ("plan_transfers", {"city": "Shanghai", "window_days": 3}),
        ("plan_transfers", {"city": "Shanghai", "window_days": 3, "rain": storm_today}),
        # The alert's hedge: the forecaster's backtest before the clock (forecast_error).
        (
            "plan_transfers",
            {"city": "Shanghai", "window_days": 3, "rain": storm_today, "level_backtest": True},
        ),
        ("recommend_promos", {"city": "Beijing"}),
    ]


def _answers(ctx: ToolContext) -> list[dict]:
    out = []
    for name, args in _calls(ctx.today):
        dumped = get_tool(name).run(ctx, args).model_dump_json()
        # Wall-clock facts (solver time, the artefact's creation stamp) may differ; nothing else.
        dumped = re.sub(r"solved in [0-9.]+ s", "solved in <t> s", dumped)
        dumped = re.sub(r"@[0-9-]+\.[0-9T]+", "@<version>", dumped)
        result = json.loads(dumped)
        out.append({"tool": name, "args": args, "result": result})
    return out


def _poison_future_weather(engine: Engine, today: dt.date) -> int:
    with engine.begin() as connection:
        changed = connection.execute(
            text(
                "UPDATE weather_daily SET precipitation_mm = 987.0, max_hourly_mm = 99.0, "
                "temp_mean_c = 45.0, temp_min_c = 44.0, temp_max_c = 46.0, "
                "rain_band = 'rainstorm' WHERE date >= :today"
            ),
            {"today": today.isoformat()},
        ).rowcount
        connection.execute(
            text("UPDATE weather_hourly SET precipitation_mm = 99.0, temp_c = 45.0 WHERE ts >= :t"),
            {"t": (dt.datetime.combine(today, dt.time()) - dt.timedelta(hours=8)).isoformat()},
        )
    return changed


@pytest.fixture
def world(small_world_template: Path, tmp_path: Path) -> Engine:
    path = tmp_path / "world.sqlite"
    shutil.copy(small_world_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


# Two forecaster fits and three rounds of every tool: ~27 s of CPU. Marked slow so the
# scheduler hands it out first (tests/conftest.py) instead of last.
@pytest.mark.slow
def test_tools_answer_the_same_when_the_future_weather_is_poisoned(
    world: Engine, tmp_path: Path
) -> None:
    assert set(TOOLS) >= {"stock_lookup", "forecast_demand", "plan_transfers", "recommend_promos"}
    before_settings = Settings(data_dir=tmp_path / "before")
    ctx = ToolContext.for_world(world, before_settings)
    fit_pool_model(world, ctx.today, before_settings.data_dir / "models", config=FAST)
    before = _answers(ctx)

    assert _poison_future_weather(world, ctx.today) > 0
    after_same_model = _answers(ctx)
    after_settings = Settings(data_dir=tmp_path / "after")
    ctx_after = ToolContext.for_world(world, after_settings)
    fit_pool_model(world, ctx.today, after_settings.data_dir / "models", config=FAST)
    after_refit = _answers(ctx_after)

    for a, b, c in zip(before, after_same_model, after_refit, strict=True):
        assert a == b, f"{a['tool']} {a['args']} changed with the poisoned future weather"
        assert a == c, f"{a['tool']} {a['args']} changed when refitted on the poisoned pool"


def test_the_horizon_weather_is_climatology_unless_an_alert_says_otherwise(
    world: Engine, tmp_path
) -> None:
    settings = Settings(data_dir=tmp_path / "d")
    ctx = ToolContext.for_world(world, settings)
    fit_pool_model(world, ctx.today, settings.data_dir / "models", config=FAST)
    storm = {
        "city": "Shanghai",
        "start": (ctx.today + dt.timedelta(days=1)).isoformat(),
        "days": 2,
        "precipitation_mm_per_day": 60,
    }
    args = {"city": "Shanghai", "category": "umbrellas", "horizon_days": 5, "rain": [storm]}
    out = get_tool("forecast_demand").run(ctx, args)
    sources = [(w.date, w.source, w.band) for w in out.weather if w.city == "Shanghai"]
    assert [s for _, s, _ in sources] == [
        "climatology",
        "scenario",
        "scenario",
        "climatology",
        "climatology",
    ]
    assert all(band == "rainstorm" for _, s, band in sources if s == "scenario")
    # Every day of the alert's window carries its band's uplift; the others the climate's.
    # (A store: the online pool's uplift mixes every city's weather, Shanghai's alert in it.)
    series = next(s for s in out.series if s.rain is not None and s.rain.channel == "store")
    uplifts = [p.rain_uplift for p in series.points]
    assert uplifts[1] == uplifts[2] > max(uplifts[0], uplifts[3], uplifts[4]) >= 1.0
    online = next(s for s in out.series if s.rain is not None and s.rain.channel == "online")
    mixed = [p.rain_uplift for p in online.points]
    assert min(mixed[1], mixed[2]) > max(mixed[0], mixed[3], mixed[4])
    for point in series.points:
        # Each of the three is rounded to 3 decimals: their product is off by at most this much.
        rounding = 5e-4 * (1.0 + point.rain_uplift + point.baseline) + 1e-9
        assert point.mean == pytest.approx(point.baseline * point.rain_uplift, abs=rounding)
    rain = series.rain
    assert rain is not None and rain.channel in {"store", "online"}
    storm_band = next(b for b in rain.bands if b.band == "rainstorm")
    assert storm_band.uplift > 1.0
    assert "暴雨" in rain.explanation and "baseline" in rain.explanation
    assert f"{storm_band.days} past 暴雨 days" in rain.explanation
