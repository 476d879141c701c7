"""forecast_demand on the small demo world: contract, errors, rain scenarios, artefacts."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from forecasting.global_model import GlobalModelConfig
from inventory.config import Settings
from inventory.db import make_engine
from tools.context import ToolContext, ToolError
from tools.forecast_demand.artefacts import load_artefact, pool_fingerprint
from tools.forecast_demand.fitting import fit_pool_model
from tools.forecast_demand.models import ForecastInput, ForecastOutput, RainScenario
from tools.forecast_demand.tool import ensure_model, forecast_demand

FAST = GlobalModelConfig(max_iter=40, max_train_rows=60_000, fit_threads=1)


@pytest.fixture(scope="module")
def world(small_world_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    path = tmp_path_factory.mktemp("forecast_world") / "world.sqlite"
    shutil.copy(small_world_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def ctx(world: Engine, tmp_path_factory: pytest.TempPathFactory) -> ToolContext:
    """The world at its clock, with the production model fitted ahead (as `forecast fit` does)."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("forecast_data"))
    context = ToolContext.for_world(world, settings)
    fit_pool_model(world, context.today, settings.data_dir / "models", config=FAST)
    return context


@pytest.fixture(scope="module")
def sku_and_location(ctx: ToolContext) -> tuple[str, str]:
    out = forecast_demand(ctx, ForecastInput(city="Shanghai", category="umbrellas", horizon_days=3))
    return out.series[0].sku, out.series[0].location


def test_forecast_names_model_and_backtest_and_starts_today(ctx: ToolContext) -> None:
    out = forecast_demand(ctx, ForecastInput(city="Shanghai", horizon_days=14))
    assert out.model.startswith("rain_uplift@") and "on demand" not in out.model
    assert {"rmsse", "mase", "bias", "coverage"} <= set(out.backtest)
    assert out.series and all(len(s.points) == 14 for s in out.series)
    assert out.series[0].points[0].date == ctx.today
    assert all(s.location.startswith(("SHA-", "ONLINE")) for s in out.series)


def test_quantiles_are_monotone_and_totals_are_not_sums(ctx: ToolContext) -> None:
    out = forecast_demand(ctx, ForecastInput(city="Beijing", horizon_days=14))
    for series in out.series:
        for point in series.points:
            q = point.quantiles
            assert 0 <= q["p10"] <= q["p50"] <= q["p90"] and point.mean >= 0
        t = series.total_quantiles
        assert t["p10"] <= t["p50"] <= t["p90"]
    # Quantiles of the total, not sums of daily ones (for sparse sizes the daily P90 is often 0
    # while the fortnight's P90 is not).
    summed = [sum(p.quantiles["p90"] for p in s.points) for s in out.series]
    assert any(
        s.total_quantiles["p90"] != total for s, total in zip(out.series, summed, strict=True)
    )
    assert abs(out.series[0].total_mean - sum(p.mean for p in out.series[0].points)) < 0.05


def test_a_rain_scenario_raises_rain_category_forecasts(ctx: ToolContext) -> None:
    ask = ForecastInput(city="Guangzhou", category="umbrellas", horizon_days=7)
    dry = forecast_demand(
        ctx,
        ask.model_copy(
            update={
                "rain": [
                    RainScenario(
                        city="Guangzhou", start=ctx.today, days=7, precipitation_mm_per_day=0
                    )
                ]
            }
        ),
    )
    storm = forecast_demand(
        ctx,
        ask.model_copy(
            update={
                "rain": [
                    RainScenario(city="广州", start=ctx.today, days=7, precipitation_mm_per_day=60)
                ]
            }
        ),
    )
    assert sum(s.total_mean for s in storm.series) > 1.2 * sum(s.total_mean for s in dry.series)


def test_online_follows_the_rain_where_its_customers_are(ctx: ToolContext) -> None:
    """The online pool's warehouse is in Shanghai, but a storm in Beijing lifts its umbrella
    forecast (Beijing's share of the exposure), and the explanation names the weights."""
    ask = ForecastInput(locations=["ONLINE"], category="umbrellas", horizon_days=3)

    def forecast(storm_city: str | None) -> ForecastOutput:
        rain = [
            RainScenario(city=city, start=ctx.today, days=3, precipitation_mm_per_day=0)
            for city in ("Shanghai", "Beijing", "Guangzhou")
        ]
        if storm_city is not None:  # later scenarios win
            rain.append(
                RainScenario(city=storm_city, start=ctx.today, days=3, precipitation_mm_per_day=80)
            )
        return forecast_demand(ctx, ask.model_copy(update={"rain": rain}))

    def total(out: ForecastOutput) -> float:
        return sum(s.total_mean for s in out.series)

    dry = forecast(None)
    assert total(forecast("Beijing")) > 1.02 * total(dry)
    explained = dry.series[0].rain
    assert explained is not None and explained.channel == "online"
    assert explained.exposure is not None and set(explained.exposure) >= {"Beijing", "Shanghai"}
    assert sum(explained.exposure.values()) == pytest.approx(1.0, abs=0.01)
    assert "where its customers are" in explained.explanation
    assert {w.city for w in dry.weather} >= {"Beijing", "Guangzhou", "Shanghai"}


def test_style_level_aggregates_sizes(ctx: ToolContext) -> None:
    sku_level = forecast_demand(ctx, ForecastInput(city="Shanghai", horizon_days=7))
    style_level = forecast_demand(
        ctx, ForecastInput(city="Shanghai", horizon_days=7, level="style")
    )
    assert all(s.sku is None for s in style_level.series)
    assert len(style_level.series) < len(sku_level.series)
    pairs = {(s.location, s.style) for s in sku_level.series}
    assert {(s.location, s.style) for s in style_level.series} == pairs


@pytest.mark.parametrize(
    ("request_args", "field"),
    [
        ({"skus": ["NOPE-XXX-99"]}, "skus"),
        ({"locations": ["MARS-S01"]}, "locations"),
        ({"style": "NOPE"}, "style"),
        ({"category": "spacesuits"}, "category"),
        ({"city": "Atlantis"}, "city"),
        ({"limit_series": 1}, "limit_series"),
    ],
)
def test_bad_input_names_the_field(ctx: ToolContext, request_args: dict, field: str) -> None:
    with pytest.raises(ToolError) as caught:
        forecast_demand(ctx, ForecastInput(**request_args))
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("request_args", "field"),
    [({"level": "colour"}, "level"), ({"quantiles": [0.5, 1.2]}, "quantiles.1")],
)
def test_typed_inputs_are_refused_by_the_schema(request_args: dict, field: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as caught:
        ForecastInput(**request_args)
    assert ".".join(str(p) for p in caught.value.errors()[0]["loc"]) == field
    assert ForecastInput.model_json_schema()["properties"]["level"]["enum"] == ["sku", "style"]


@pytest.mark.parametrize("horizon", [0, 29])
def test_horizon_outside_1_to_28_is_refused(horizon: int) -> None:
    with pytest.raises(ValueError, match="horizon_days"):
        ForecastInput(horizon_days=horizon)


def test_rain_scenario_outside_the_horizon_is_refused(ctx: ToolContext) -> None:
    late = RainScenario(
        city="Shanghai",
        start=ctx.today + dt.timedelta(days=20),
        days=2,
        precipitation_mm_per_day=30,
    )
    with pytest.raises(ToolError) as caught:
        forecast_demand(ctx, ForecastInput(city="Shanghai", horizon_days=7, rain=[late]))
    assert caught.value.field == "rain.start"


def test_empty_history_is_refused(ctx: ToolContext, sku_and_location) -> None:
    early = ToolContext(engine=ctx.engine, now=dt.datetime(2014, 1, 1, 9), settings=ctx.settings)
    with pytest.raises(ToolError, match="no sales history"):
        forecast_demand(early, ForecastInput(skus=[sku_and_location[0]]))


def test_stored_artefact_has_version_and_window_and_serves_the_whole_pool(
    ctx: ToolContext,
) -> None:
    """Speed is measured in benchmarks/; here only that the stored model answers every series."""
    artefact = load_artefact(ctx.settings.data_dir / "models", pool_fingerprint(ctx.engine), "sku")
    assert artefact is not None
    assert artefact.meta.data_end == ctx.today - dt.timedelta(days=1)
    assert artefact.meta.version.startswith(str(artefact.meta.data_end))
    out = forecast_demand(ctx, ForecastInput(horizon_days=14))
    assert len(out.series) > 1_000
    assert all(s.rain is not None and s.baseline_mean is not None for s in out.series)


def test_without_a_fitted_model_the_baseline_answers_and_says_so(
    world: Engine, tmp_path: Path
) -> None:
    """Fitting is a job, never a side effect of a forecast: until one has stored a model, the
    weekday-profile baseline answers (calibrated quantiles included) and names itself."""
    context = ToolContext.for_world(world, Settings(data_dir=tmp_path))
    ask = ForecastInput(city="Shanghai", category="umbrellas", horizon_days=3, level="style")
    out = forecast_demand(context, ask)
    assert out.model.startswith("weekday_profile (baseline:") and "not ready" in out.model
    assert out.series and all(len(s.points) == 3 for s in out.series)
    assert {"rmsse", "coverage"} <= set(out.backtest)
    assert not (tmp_path / "models").exists()  # nothing was fitted or stored
    artefact, fitted = ensure_model(context, "style")  # the fit job
    again, refitted = ensure_model(context, "style")
    assert fitted and not refitted and again.meta == artefact.meta
    assert forecast_demand(context, ask).model == artefact.meta.label
