"""Fit, backtest and choose the pool's forecaster; shared by the tool and `stockpilot forecast`."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from forecasting.backtest import BacktestConfig, BacktestReport, ModelFactory, run_backtest
from forecasting.baselines import SeasonalNaive, WeekdayProfile
from forecasting.global_model import GlobalBoostingForecaster, GlobalModelConfig
from forecasting.model import fit_calibrated
from forecasting.panel import Panel
from forecasting.statistical import StatsforecastAutoETS, sktime_seasonal_naive, sktime_theta
from tools.context import ToolError
from tools.forecast_demand.artefacts import (
    Artefact,
    ArtefactMeta,
    make_version,
    pool_fingerprint,
    save_artefact,
)
from tools.forecast_demand.pool_panel import load_panel
from tools.forecast_demand.selection import select_series

#: History read to fit: the longest feature window, calibration and training origins, plus slack.
FIT_HISTORY_DAYS = 200
#: History read to backtest: folds before that.
BACKTEST_HISTORY_DAYS = 365
PRODUCTION_MODEL = "global_gbm"

#: Told how far a fit has come: the fraction done (0..1) and what it is doing now. A fit job
#: reports through it (the CLI's progress bar, the service's /v1/jobs).
Progress = Callable[[float, str], None]


def _no_progress(_fraction: float, _message: str) -> None:
    return None


def candidate_models(*, per_series: bool = False) -> dict[str, ModelFactory]:
    """The models a backtest compares; per-series sktime/statsforecast ones only on request."""
    models: dict[str, ModelFactory] = {
        "global_gbm": lambda: GlobalBoostingForecaster(GlobalModelConfig()),
        "global_gbm_no_weather": lambda: GlobalBoostingForecaster(
            GlobalModelConfig(use_weather=False)
        ),
        "weekday_profile": WeekdayProfile,
        "seasonal_naive": SeasonalNaive,
    }
    if per_series:
        models["autoets"] = StatsforecastAutoETS
        models["sktime_theta"] = sktime_theta
        models["sktime_seasonal_naive"] = sktime_seasonal_naive
    return models


def pool_panel(engine: Engine, today: dt.date, level: str, history_days: int) -> Panel:
    """Every carried series of the pool, history only (the horizon is not needed to fit)."""
    with Session(engine) as session:
        series = select_series(session, None)
        if series.empty:
            raise ToolError("the pool carries no SKU at any store or online: nothing to forecast")
        return load_panel(
            session, series, level=level, today=today, history_days=history_days, horizon=0
        )


def backtest_pool(
    engine: Engine,
    today: dt.date,
    *,
    level: str = "sku",
    config: BacktestConfig | None = None,
    models: dict[str, ModelFactory] | None = None,
) -> BacktestReport:
    panel = pool_panel(engine, today, level, BACKTEST_HISTORY_DAYS)
    return run_backtest(panel, models or candidate_models(), config)


def fit_pool_model(
    engine: Engine,
    today: dt.date,
    models_dir: Path,
    *,
    level: str = "sku",
    model: str = PRODUCTION_MODEL,
    backtest: BacktestReport | None = None,
    config: GlobalModelConfig | None = None,
    progress: Progress | None = None,
) -> Artefact:
    """Fit ``model`` (or the backtest's winner) on the pool up to ``today`` and persist it."""
    report = progress or _no_progress
    factories = candidate_models(per_series=True)
    chosen = backtest.best_model if backtest is not None else model
    if chosen not in factories:
        raise ToolError(
            f"unknown model {chosen!r}; known: {', '.join(factories)}", field="model", value=chosen
        )
    report(0.02, f"reading {FIT_HISTORY_DAYS} days of {level}-level sales history")
    panel = pool_panel(engine, today, level, FIT_HISTORY_DAYS)
    forecaster = factories[chosen]()
    if config is not None and isinstance(forecaster, GlobalBoostingForecaster):
        forecaster = GlobalBoostingForecaster(
            config.model_copy(update={"use_weather": forecaster.config.use_weather})
        )
    report(0.15, f"fitting {chosen} on {panel.n_series:,} series and calibrating its quantiles")
    started = time.perf_counter()
    fitted = fit_calibrated(forecaster, panel, panel.n_days)
    report(0.95, f"fitted in {time.perf_counter() - started:.0f} s; storing the model")
    created = dt.datetime.now(dt.UTC)
    errors = _overall(backtest, chosen) if backtest is not None else fitted.calibration_metrics
    meta = ArtefactMeta(
        model=chosen,
        version=make_version(fitted.data_end, created),
        level=level,
        pool=pool_fingerprint(engine),
        created_at=created.isoformat(timespec="seconds"),
        data_start=fitted.data_start,
        data_end=fitted.data_end,
        series=panel.n_series,
        backtest={k: float(v) for k, v in errors.items()},
        selected_by=(
            f"backtest over {', '.join(sorted({r.model for r in backtest.results}))}"
            if backtest is not None
            else "default production model (no backtest run)"
        ),
    )
    artefact = Artefact(meta=meta, fitted=fitted)
    save_artefact(models_dir, artefact)
    report(1.0, f"stored {meta.label} ({panel.n_series:,} series)")
    return artefact


def _overall(report: BacktestReport, model: str) -> dict[str, float]:
    for row in report.results:
        if row.model == model and row.segment == "all":
            return row.metrics
    return {}
