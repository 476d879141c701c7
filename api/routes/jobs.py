"""``/v1/jobs``: the service's background jobs (demo world build, forecaster fits) and their
progress. Readable while the service is still starting, so a client can watch it get ready."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.deps import AdminDep, AppStateDep, ReaderDep
from api.errors import ERROR_RESPONSES, ApiError, not_found
from api.jobs import JobView
from api.state import AppState
from inventory.clock import wall_clock

#: A refit of a level whose fit finished less than this long ago is refused (409): the pool's
#: forecaster was just fitted, and a full fit costs minutes of CPU on a large pool.
REFIT_COOLDOWN = dt.timedelta(minutes=10)

router = APIRouter(prefix="/jobs", tags=["jobs"], responses=ERROR_RESPONSES)


class FitRequest(BaseModel):
    """Fit (or refit) the pool's forecaster for one level, in the background."""

    level: Literal["sku", "style"] = Field(
        default="sku", description="sku: per size (alerts, plans); style: per style (chat)."
    )
    refit: bool = Field(
        default=False, description="Fit again even when a usable forecaster is stored."
    )


@router.get("", summary="Background jobs, newest first", response_model=list[JobView])
async def list_jobs(state: AppStateDep, _: ReaderDep) -> list[JobView]:
    return state.jobs.list()


@router.get("/{job_id}", summary="One job: status, progress, result", response_model=JobView)
async def get_job(job_id: str, state: AppStateDep, _: ReaderDep) -> JobView:
    job = state.jobs.get(job_id)
    if job is None:
        raise not_found("job", job_id)
    return job


@router.post(
    "/forecast-fit",
    summary="Start fitting the pool's forecaster (admin); poll the job for progress",
    description="202 with the new job, or the queued/running one for that level. A refit "
    "within 10 minutes of that level's last finished fit is refused (409, Retry-After); so is "
    "a pool without sales history, or with one too short to fit (422: how many days it has, how "
    "many the fit needs).",
    response_model=JobView,
    status_code=status.HTTP_202_ACCEPTED,
)
async def start_fit(body: FitRequest, state: AppStateDep, _: AdminDep) -> JobView:
    from api.startup import submit_forecast_fit

    if body.refit:
        _refuse_refit_too_soon(state, body.level)
    await run_in_threadpool(_refuse_too_short_history, state, body.level)
    return submit_forecast_fit(state, body.level, refit=body.refit)


def _refuse_too_short_history(state: AppState, level: str) -> None:
    """A fit that is bound to fail, or has nothing to fit (no sales history), is refused now
    (422, ToolError), not accepted and failed or skipped in its job. (The service's own fit at
    start-up skips an empty pool quietly: nobody asked for it.)"""
    from tools.context import ToolContext
    from tools.forecast_demand.fitting import check_fit_history

    today = ToolContext.at_clock(state.engine, state.clock, state.settings).today
    check_fit_history(state.engine, today, level=level)


def _refuse_refit_too_soon(state: AppState, level: str) -> None:
    """Idempotent for users: a queued or running fit is returned as it is (202), and a refit
    asked again right after one finished (a double click, a retrying client) is a 409 naming
    that fit and when a refit is allowed, never a second full fit of the same data."""
    from api.startup import fit_title

    title = fit_title(level)
    now = wall_clock()
    for job in state.jobs.list():
        if job.title != title or job.status != "succeeded" or job.finished_at is None:
            continue
        wait = job.finished_at + REFIT_COOLDOWN - now
        if wait > dt.timedelta(0):
            seconds = int(wait.total_seconds()) + 1
            ago = int((now - job.finished_at).total_seconds())
            raise ApiError(
                409,
                f"the {level}-level forecaster was fitted {ago} s ago (job {job.id}); "
                f"a refit is allowed again in {seconds} s",
                field="refit",
                value=job.id,
                headers={"Retry-After": str(seconds)},
            )
        return  # the newest finished fit is old enough
