"""forecast_demand: daily mean and calibrated quantiles per SKU (or style) × location.

Uses the pool's stored forecaster, fitted ahead as a job (`stockpilot forecast fit`, or the
service's background fit at start-up, with progress at ``/v1/jobs``). Fitting is never a side
effect of a call: until a usable forecaster is stored for this pool and level, the vectorised
weekday-profile baseline answers in milliseconds, calibrated on the request's own history, and
the model name says so (it does not see the weather).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import exists, select
from sqlmodel import Session

from forecasting.baselines import WeekdayProfile
from forecasting.features import HISTORY_DAYS
from forecasting.model import ProbabilisticForecast, fit_calibrated
from forecasting.panel import Panel
from forecasting.quantiles import quantile_key, validate_levels
from forecasting.rain import weather_recorded_through
from inventory.models import DailySales
from tools.context import ToolContext, ToolError
from tools.forecast_demand.artefacts import Artefact, ArtefactMeta, load_artefact, pool_fingerprint
from tools.forecast_demand.explain import horizon_weather, series_rain
from tools.forecast_demand.fitting import Progress, fit_pool_model
from tools.forecast_demand.models import ForecastInput, ForecastOutput, RainScenario
from tools.forecast_demand.pool_panel import (
    KnownPromo,
    known_promos,
    load_panel,
    sales_recorded_through,
    scenario_days,
    unknown_days,
    with_rain,
)
from tools.forecast_demand.selection import select_series

#: The model that answers until the pool's forecaster is fitted (microseconds per series).
BASELINE_MODEL = "weekday_profile"
BASELINE_NOTE = (
    "baseline: the pool's fitted forecaster is not ready yet (weather not modelled; fit it with "
    "`stockpilot forecast fit`, or see the service's fit job at /v1/jobs)"
)


def forecast_demand(ctx: ToolContext, request: ForecastInput) -> ForecastOutput:
    """Forecast the requested series from the world's clock ``ctx.today`` on."""
    return prepare_forecast(ctx, request).answer(request.rain)


@dataclass
class PreparedForecast:
    """What a forecast reads from the pool and does not depend on the rain it assumes: the
    series, their history and the horizon's climatology (``panel``, no scenario applied), and
    the model. ``answer`` forecasts under any rain from it.

    An alert's plan forecasts twice, with the warned rain and without (it values moves over
    both, ``tools.plan_transfers.hit_rate``): answering both from one ``PreparedForecast``
    reads the pool once. Each answer is the one ``forecast_demand`` gives for that rain."""

    ctx: ToolContext
    request: ForecastInput
    series: pd.DataFrame
    panel: Panel
    artefact: Artefact
    promos: list[KnownPromo] = field(default_factory=list)
    sales_through: dt.date | None = None

    @property
    def unknown_days(self) -> int:
        """History days the panel holds as not imported yet (``pool_panel.unknown_days``)."""
        start = self.panel.dates[0].date()
        return unknown_days(start, self.ctx.today, self.sales_through)

    @property
    def weather_through(self) -> dt.date | None:
        """The newest history day every city's weather is recorded on (``load_weather``)."""
        day = weather_recorded_through(self.panel, HISTORY_DAYS)
        return None if day is None else day.date()

    @property
    def unrecorded_weather_days(self) -> int:
        """History days after ``weather_through``: read at their climatology."""
        through = self.weather_through
        return 0 if through is None else max(0, (self.ctx.today - through).days - 1)

    def answer(self, rain: list[RainScenario], *, totals_only: bool = False) -> ForecastOutput:
        """The forecast under ``rain``. ``totals_only``: each series' horizon totals alone (no
        daily points, no rain explanation, no weather list) — all a plan reads of its dry
        forecast, and most of an answer's cost is building and validating the rest."""
        ctx, request = self.ctx, self.request
        levels = validate_levels(list(request.quantiles))
        with ctx.read() as session:
            panel = with_rain(session, self.panel, rain, ctx.today)
            end = ctx.today + dt.timedelta(days=request.horizon_days)
            start = panel.dates[0].date()
            assumed = scenario_days(session, rain, list(panel.cities), start, end, ctx.today)
        artefact = self.artefact
        forecast = artefact.fitted.forecast(
            panel, HISTORY_DAYS, request.horizon_days, levels, unknown_days=self.unknown_days
        )
        label = artefact.meta.label
        if artefact.meta.model == BASELINE_MODEL and artefact.meta.version == "baseline":
            label = f"{BASELINE_MODEL} ({BASELINE_NOTE})"
        series_rows = _series_forecasts(
            forecast, self.series, request.level, with_points=not totals_only
        )
        uplift = getattr(artefact.fitted.model, "uplift", None)
        if uplift is not None and forecast.baseline is not None and not totals_only:
            for row, extra in zip(
                series_rows,
                series_rain(forecast, panel, uplift, HISTORY_DAYS, assumed),
                strict=True,
            ):
                row.update(extra)
        return ForecastOutput.model_validate(
            {
                "as_of": ctx.now.isoformat(),
                "model": label,
                "backtest": {
                    k: round(v, 4) for k, v in artefact.meta.backtest.items() if np.isfinite(v)
                },
                "sales_through": self.sales_through,
                "weather_through": self.weather_through,
                "horizon_days": request.horizon_days,
                "series": series_rows,
                "weather": []
                if totals_only
                else horizon_weather(panel, HISTORY_DAYS, request.horizon_days, assumed),
                "promos": [dataclasses.asdict(p) for p in self.promos],
            }
        )


def prepare_forecast(ctx: ToolContext, request: ForecastInput) -> PreparedForecast:
    """Check the request and read what its forecast needs, whatever rain it then assumes."""
    _check_request(request)
    with ctx.read() as session:
        sales_through = sales_recorded_through(session, ctx.today)
        series = select_series(session, request)
        if series.empty:
            raise ToolError(
                "no carried SKU × location (stores and online) matches the request",
                field="skus" if request.skus else "locations",
                value=request.skus or request.locations or request.style or request.city,
            )
        _check_history(session, sorted(series["sku"].unique()), ctx.today)
        keys = ["location", "sku"] if request.level == "sku" else ["location", "style"]
        n_series = len(series.drop_duplicates(keys))
        if n_series > request.limit_series:
            raise ToolError(
                f"the request matches {n_series} series, more than limit_series="
                f"{request.limit_series}; narrow it (style, category, city, locations) or raise "
                "the limit",
                field="limit_series",
                value=request.limit_series,
            )
        panel = load_panel(
            session,
            series,
            level=request.level,
            today=ctx.today,
            history_days=HISTORY_DAYS,
            horizon=request.horizon_days,
            known_at=ctx.now,
            sales_through=sales_through,
        )
        last = ctx.today + dt.timedelta(days=request.horizon_days - 1)
        locations = set(series["location"])
        promos = [
            p
            for p in known_promos(session, list(series["style"]), ctx.today, last, ctx.now)
            if p.location is None or p.location in locations
        ]
    # The baseline stand-in learns from the history only: the same under any rain.
    artefact = stored_model(ctx, request.level) or _baseline(ctx, panel, request.level)
    return PreparedForecast(ctx, request, series, panel, artefact, promos, sales_through)


def _check_request(request: ForecastInput) -> None:
    if not 1 <= request.horizon_days <= 28:
        raise ToolError(
            f"horizon_days must be 1..28, got {request.horizon_days}",
            field="horizon_days",
            value=request.horizon_days,
        )
    try:
        validate_levels(list(request.quantiles))
    except ValueError as error:
        raise ToolError(str(error), field="quantiles", value=request.quantiles) from error


def _check_history(session: Session, skus: list[str], today: dt.date) -> None:
    found = session.execute(
        select(exists().where(DailySales.sku_code.in_(skus[:900]), DailySales.date < today))
    ).scalar()
    if not found:
        raise ToolError(
            f"no sales history before {today} for the requested SKUs: cannot forecast",
            field="skus",
            value=skus[:10],
        )


def stored_model(ctx: ToolContext, level: str) -> Artefact | None:
    """The pool's stored forecaster for ``level``, if one was fitted on days before the clock."""
    stored = load_artefact(ctx.settings.data_dir / "models", pool_fingerprint(ctx.engine), level)
    if stored is not None and stored.meta.data_end < ctx.today:
        return stored
    return None


def unseen_sales_days(ctx: ToolContext, artefact: Artefact) -> int:
    """Days of sales the pool holds before the clock that ``artefact`` was not fitted on."""
    with ctx.read() as session:
        last = sales_recorded_through(session, ctx.today)
    return 0 if last is None else max(0, (last - artefact.meta.data_end).days)


def refit_due(ctx: ToolContext, artefact: Artefact) -> str | None:
    """Why the stored forecaster should be fitted again (None: it is fresh enough).

    It keeps answering meanwhile: its baseline reads the newest days through its features at
    every forecast, but the rain uplift per band and the quantile spread are statistics of the
    history it was fitted on, so wet days imported since teach it nothing until a refit."""
    every = ctx.settings.forecast_refit_days
    unseen = unseen_sales_days(ctx, artefact)
    if every == 0 or unseen < every:
        return None
    return (
        f"the stored {artefact.meta.level}-level forecaster ({artefact.meta.label}) has not seen "
        f"the pool's last {unseen} days of sales (refit every {every})"
    )


def ensure_model(
    ctx: ToolContext, level: str = "sku", progress: Progress | None = None
) -> tuple[Artefact, bool]:
    """The stored forecaster for this pool and clock, fitted and stored first if there is none
    or if the pool holds ``settings.forecast_refit_days`` days of sales it has not seen.

    This is the fit *job* (the service's background fit, `stockpilot forecast fit`), never
    called from a forecast. Returns the artefact and whether it had to be fitted now.
    """
    stored = stored_model(ctx, level)
    if stored is not None:
        due = refit_due(ctx, stored)
        if due is None:
            if progress is not None:
                progress(1.0, f"{level}-level forecaster already stored ({stored.meta.label})")
            return stored, False
        if progress is not None:
            progress(0.01, f"{due}: refitting")
    models_dir = ctx.settings.data_dir / "models"
    return fit_pool_model(ctx.engine, ctx.today, models_dir, level=level, progress=progress), True


def _baseline(ctx: ToolContext, panel: Panel, level: str) -> Artefact:
    """The weekday-profile baseline fitted and calibrated on the request's own history."""
    fitted = fit_calibrated(WeekdayProfile(), panel, HISTORY_DAYS)
    meta = ArtefactMeta(
        model=BASELINE_MODEL,
        version="baseline",
        level=level,
        pool=pool_fingerprint(ctx.engine),
        created_at=ctx.now.isoformat(timespec="seconds"),
        data_start=fitted.data_start,
        data_end=fitted.data_end,
        series=panel.n_series,
        backtest={k: float(v) for k, v in fitted.calibration_metrics.items()},
        selected_by="fallback until the pool's forecaster is fitted",
    )
    return Artefact(meta=meta, fitted=fitted)


def _series_forecasts(
    forecast: ProbabilisticForecast,
    series: pd.DataFrame,
    level: str,
    *,
    with_points: bool = True,
) -> list[dict[str, object]]:
    """Plain dicts, validated once by ForecastOutput (one model per point costs ~1 s at 1,500
    series × 14 days); without ``with_points``, no daily points: the horizon totals only."""
    style_of = dict(zip(series["sku"], series["style"], strict=True))
    daily_keys = [(quantile_key(q), v) for q, v in forecast.quantiles.items()]
    total_keys = [(quantile_key(q), v) for q, v in forecast.total_quantiles.items()]
    days = [day.date() for day in forecast.dates] if with_points else []
    means = np.round(forecast.mean.astype(np.float64), 3).tolist()
    explained = forecast.baseline is not None and forecast.rain_uplift is not None
    if explained:
        baselines = np.round(forecast.baseline.astype(np.float64), 3).tolist()
        uplifts = np.round(forecast.rain_uplift.astype(np.float64), 3).tolist()
    out = []
    for i, sid in enumerate(forecast.series_ids):
        location, code = sid.split("|", 1)
        daily = {key: values[i].tolist() for key, values in daily_keys}
        points = [
            {"date": day, "mean": means[i][h], "quantiles": {k: v[h] for k, v in daily.items()}}
            for h, day in enumerate(days)
        ]
        if explained:
            for h, point in enumerate(points):
                point["baseline"], point["rain_uplift"] = baselines[i][h], uplifts[i][h]
        out.append(
            {
                "location": location,
                "sku": code if level == "sku" else None,
                "style": style_of[code] if level == "sku" else code,
                "points": points,
                "total_mean": round(float(forecast.total_mean[i]), 3),
                "total_quantiles": {key: float(values[i]) for key, values in total_keys},
            }
        )
    return out
