"""``/v1/jobs``: the service's background jobs (demo world build, forecaster fits) and their
progress. Readable while the service is still starting, so a client can watch it get ready."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from api.deps import AdminDep, AppStateDep, ReaderDep
from api.errors import ERROR_RESPONSES, not_found
from api.jobs import JobView

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
    response_model=JobView,
    status_code=status.HTTP_202_ACCEPTED,
)
async def start_fit(body: FitRequest, state: AppStateDep, _: AdminDep) -> JobView:
    from api.startup import submit_forecast_fit

    return submit_forecast_fit(state, body.level, refit=body.refit)
