"""Getting the service ready without making anyone wait on a blank screen.

The listener opens at once. Slow preparation (building the demo world on a first start) runs as
a background job; until it is done every request but ``/healthz``, ``/info`` and the docs gets a
503 with ``Retry-After`` and the job's progress, and ``/healthz`` says ``starting``. Forecasters
are then fitted as background jobs too; until they are stored, forecasts come from the fast
baseline and say so (``tools/forecast_demand``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_response
from api.jobs import JobView, Progress

if TYPE_CHECKING:
    from api.state import AppState

log = logging.getLogger(__name__)

#: Paths that answer while the service is starting (liveness, the SDK's probe, the docs).
#: The console's static files answer too: its page shows the progress itself.
OPEN_WHILE_STARTING = ("/healthz", "/info", "/docs", "/redoc", "/openapi.json", "/console")
#: Seconds a client is asked to wait before retrying while the service starts.
RETRY_AFTER_S = 5


def startup_message(state: AppState) -> tuple[Literal["starting", "ok", "failed"], str]:
    """Where start-up stands, in one line for ``/healthz`` and 503 bodies."""
    if state.ready.is_set():
        return "ok", "ready"
    job = state.jobs.get(state.startup_job) if state.startup_job else None
    if job is not None and job.status == "failed":
        return "failed", f"start-up failed: {job.error}; see the server log"
    if state.startup_error:
        return "failed", f"start-up failed: {state.startup_error}; see the server log"
    if job is None:
        return "starting", "starting the agents"
    elapsed = f", {job.elapsed_s:.0f} s" if job.elapsed_s is not None else ""
    return "starting", f"{job.title}: {job.progress:.0%}{elapsed} — {job.message}"


class StartingGate:
    """503 + Retry-After for everything but liveness and docs until start-up has finished.

    Plain ASGI (not ``BaseHTTPMiddleware``), so streamed responses (SSE runs) pass untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: AppState = scope["app"].state.stockpilot
        if state.ready.is_set() or str(scope["path"]).startswith(OPEN_WHILE_STARTING):
            await self.app(scope, receive, send)
            return
        status, message = startup_message(state)
        if status == "failed":
            response = error_response(503, message)
        else:
            response = error_response(
                503,
                f"the service is starting ({message}); retry in {RETRY_AFTER_S} s "
                "(progress at /healthz)",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        await response(scope, receive, send)


def submit_forecast_fit(state: AppState, level: str, *, refit: bool = False) -> JobView:
    """Queue the fit of the pool's ``level`` forecaster (nothing to do when one is stored,
    unless ``refit``); a second request while one is queued or running returns that job."""
    pending = pending_fit(state, level)
    if pending is not None:
        return pending

    def work(progress: Progress) -> dict[str, Any]:
        return fit_forecaster(state, level, progress, refit=refit)

    return state.jobs.submit("forecast_fit", fit_title(level), work)


def pending_fit(state: AppState, level: str) -> JobView | None:
    """The queued or running fit of ``level`` (this process's, or another's in the pool)."""
    title = fit_title(level)
    return next((j for j in state.jobs.list() if j.title == title and not j.done), None)


def fit_title(level: str) -> str:
    return f"fit the {level}-level demand forecaster"


def fit_forecaster(
    state: AppState, level: str, progress: Progress, *, refit: bool = False
) -> dict[str, Any]:
    """The fit job: the pool's forecaster at the service's clock, stored for every process."""
    from inventory.models import DailySales
    from tools.context import ToolContext
    from tools.forecast_demand.fitting import fit_pool_model
    from tools.forecast_demand.tool import ensure_model, stored_model

    with state.engine.connect() as conn:
        has_sales = conn.execute(select(DailySales.date).limit(1)).first() is not None
    if not has_sales:
        progress(1.0, "no sales history in the pool yet: nothing to fit")
        return {"level": level, "skipped": "no sales history in the pool yet"}
    ctx = ToolContext.at_clock(state.engine, state.clock, state.settings)
    previous = stored_model(ctx, level)
    if refit:
        models = state.settings.data_dir / "models"
        artefact = fit_pool_model(state.engine, ctx.today, models, level=level, progress=progress)
        fitted = True
    else:
        artefact, fitted = ensure_model(ctx, level, progress)
    log.info("%s-level forecaster %s: %s", level, "fitted" if fitted else "loaded", artefact.meta)
    result: dict[str, Any] = {"level": level, "model": artefact.meta.label, "fitted": fitted}
    if fitted and previous is not None:
        result["replaced"] = previous.meta.label
    return result
