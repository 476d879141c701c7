"""Fit, backtest and choose the pool's forecaster; shared by the tool and `stockpilot forecast`."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from forecasting.backtest import (
    BacktestConfig,
    BacktestReport,
    ModelFactory,
    backtest_history_days,
    run_backtest,
)
from forecasting.baselines import SeasonalNaive, WeekdayProfile
from forecasting.global_model import GlobalBoostingForecaster, GlobalModelConfig
from forecasting.model import fit_calibrated, required_history_days
from forecasting.panel import Panel
from forecasting.rain_model import RainUpliftForecaster
from forecasting.statistical import StatsforecastAutoETS, sktime_seasonal_naive, sktime_theta
from inventory.models import DailySales
from tools.context import ToolError
from tools.forecast_demand.artefacts import (
    Artefact,
    ArtefactMeta,
    make_version,
    pool_fingerprint,
    save_artefact,
)
from tools.forecast_demand.pool_panel import load_panel, sales_recorded_through
from tools.forecast_demand.selection import select_series

#: History read to fit: two years, so the rain uplift sees two wet seasons (heavy-rain days are
#: rare); the baseline's features and training origins use only the latest ~200 days of it.
FIT_HISTORY_DAYS = 730
#: History read to backtest: folds before that.
BACKTEST_HISTORY_DAYS = 365
#: Weather-free global GBM × rain uplift per category × channel × band (docs/forecasting.md).
PRODUCTION_MODEL = "rain_uplift"

#: Told how far a fit has come: the fraction done (0..1) and what it is doing now. A fit job
#: reports through it (the CLI's progress bar, the service's /v1/jobs).
Progress = Callable[[float, str], None]


def _no_progress(_fraction: float, _message: str) -> None:
    return None


def candidate_models(*, per_series: bool = False) -> dict[str, ModelFactory]:
    """The models a backtest compares; per-series sktime/statsforecast ones only on request."""
    models: dict[str, ModelFactory] = {
        "rain_uplift": RainUpliftForecaster,
        "rain_uplift[weekday_profile]": lambda: RainUpliftForecaster(WeekdayProfile()),
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


def sales_history_days(engine: Engine, today: dt.date) -> int:
    """Days of sales history the pool has before ``today``: from its first recorded sale (the
    history a fit reads starts there, ``pool_panel``); 0 without any."""
    with Session(engine) as session:
        first = session.execute(
            select(func.min(DailySales.date)).where(DailySales.date < today)
        ).scalar()
    return 0 if first is None else (today - first).days


def fit_history_end(engine: Engine, today: dt.date) -> dt.date:
    """The day a fit at ``today`` reads history up to (excluded): the day after the newest
    recorded sale, never after ``today``. Days not imported yet are not days that sold nothing:
    read as such, they fall in the 28-day window the quantile spread is learnt on (a week of
    them shrank the P90 of 7-day totals by 7 %, docs/forecasting.md)."""
    with Session(engine) as session:
        last = sales_recorded_through(session, today)
    return today if last is None else min(today, last + dt.timedelta(days=1))


def check_fit_history(
    engine: Engine,
    today: dt.date,
    *,
    level: str = "sku",
    model: str = PRODUCTION_MODEL,
    backtest: BacktestConfig | None = None,
) -> int:
    """Refuse a fit bound to fail on too short a history (a ToolError saying how much history
    there is and how much the fit needs), before it is started; returns the days there are.

    ``backtest``: the fit is chosen by that backtest first, which needs a longer history."""
    factories = candidate_models(per_series=True)
    if model not in factories:
        raise ToolError(
            f"unknown model {model!r}; known: {', '.join(factories)}", field="model", value=model
        )
    needed = required_history_days(factories[model]())
    doing = f"fitting the {level}-level forecaster ({model})"
    if backtest is not None:
        needed = max(needed, backtest_history_days(backtest, candidate_models()))
        doing = (
            f"backtesting {backtest.folds} folds of {backtest.horizon} days and fitting the "
            f"{level}-level forecaster"
        )
    have = sales_history_days(engine, today)
    if have == 0:
        raise ToolError(
            f"the pool has no sales history before {today}: there is nothing to fit the "
            f"{level}-level forecaster on; import sales first (`stockpilot import sales`)",
            field="history_days",
            value=0,
        )
    if have < needed:
        raise ToolError(
            f"the pool has {have} days of sales history before {today}; {doing} needs at "
            f"least {needed}",
            field="history_days",
            value=have,
        )
    return have


def pool_panel(engine: Engine, today: dt.date, level: str, history_days: int) -> Panel:
    """Every carried series of the pool, history only (the horizon is not needed to fit).

    The history starts no earlier than the pool's first recorded sale: before it, the sparse
    rule (no row = sold 0 in stock) would invent zeros."""
    have = sales_history_days(engine, today)
    if have:
        history_days = max(1, min(history_days, have))
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
    """Fit ``model`` (or the backtest's winner) on the pool's history before ``today`` (up to
    its newest recorded sale, ``fit_history_end``) and persist it."""
    report = progress or _no_progress
    today = fit_history_end(engine, today)
    factories = candidate_models(per_series=True)
    chosen = _best_rain_model(backtest) if backtest is not None else model
    check_fit_history(engine, today, level=level, model=chosen)  # an unknown model too
    report(0.02, f"reading {FIT_HISTORY_DAYS} days of {level}-level sales history")
    panel = pool_panel(engine, today, level, FIT_HISTORY_DAYS)
    forecaster = factories[chosen]()
    if config is not None and isinstance(forecaster, GlobalBoostingForecaster):
        forecaster = GlobalBoostingForecaster(
            config.model_copy(update={"use_weather": forecaster.config.use_weather})
        )
    if config is not None and chosen == PRODUCTION_MODEL:
        baseline_config = config.model_copy(update={"use_weather": False, "use_temperature": True})
        forecaster = RainUpliftForecaster(GlobalBoostingForecaster(baseline_config))
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
            f"lowest backtest RMSSE among the models with an explicit rain layer; compared: "
            f"{', '.join(sorted({r.model for r in backtest.results}))}"
            if backtest is not None
            else "default production model (no backtest run)"
        ),
    )
    artefact = Artefact(meta=meta, fitted=fitted)
    save_artefact(models_dir, artefact)
    report(1.0, f"stored {meta.label} ({panel.n_series:,} series)")
    return artefact


def _best_rain_model(report: BacktestReport) -> str:
    """The backtest's best model among those that show their rain part (forecast_demand must
    report baseline × uplift); the others are there as references. A backtest without any such
    model keeps its own winner."""
    scores = {
        r.model: r.metrics.get("rmsse", float("inf"))
        for r in report.results
        if r.segment == "all" and r.model.startswith(PRODUCTION_MODEL)
    }
    if not scores:
        return report.best_model
    return min(scores, key=lambda name: (scores[name], name))


def _overall(report: BacktestReport, model: str) -> dict[str, float]:
    for row in report.results:
        if row.model == model and row.segment == "all":
            return row.metrics
    return {}
