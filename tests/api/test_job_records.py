"""Background jobs are recorded in the pool (api/jobs.py ``JobStore``): a restarted or a second
process lists them, and a job whose process died is reported as interrupted, not as running."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from agents.lease import HOST
from api.app import create_app
from api.auth import DEMO_KEYS, seed_demo_keys
from api.jobs import JobRunner, JobStore, Progress, started_early
from inventory.clock import wall_clock
from inventory.config import Settings
from inventory.models import JobRecord

VIEWER = {"x-api-key": DEMO_KEYS["demo-viewer"][0]}


def _work(progress: Progress) -> dict[str, Any]:
    progress(0.5, "half way")
    return {"series": 12}


def _another_process(engine: Engine) -> JobRunner:
    runner = JobRunner()
    runner.attach(JobStore(engine))
    return runner


def test_a_finished_job_is_reported_by_another_process(engine: Engine) -> None:
    runner = JobRunner()
    runner.attach(JobStore(engine))
    job = runner.submit("forecast_fit", "fit the sku-level demand forecaster", _work)
    assert runner.wait(job.id, timeout=30).status == "succeeded"

    other = _another_process(engine)
    seen = other.get(job.id)
    assert seen is not None
    assert (seen.kind, seen.title, seen.status) == (
        "forecast_fit",
        "fit the sku-level demand forecaster",
        "succeeded",
    )
    assert seen.progress == 1.0 and seen.result == {"series": 12} and seen.error is None
    assert seen.elapsed_s is not None and seen.elapsed_s >= 0
    assert [j.id for j in other.list()] == [job.id]
    assert other.get("job-nope") is None and other.get("job-\x00") is None


def test_jobs_run_before_the_pool_was_ready_are_recorded_when_it_is(engine: Engine) -> None:
    """The demo world's first build runs before its pool exists; it is recorded at attach."""
    runner = JobRunner()
    job = runner.submit("demo_world", "build the demo world (first start)", _work)
    runner.wait(job.id, timeout=30)
    assert _another_process(engine).get(job.id) is None

    runner.attach(JobStore(engine))
    seen = _another_process(engine).get(job.id)
    assert seen is not None and (seen.kind, seen.status) == ("demo_world", "succeeded")


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _running_record(job_id: str, owner: str) -> JobRecord:
    now = wall_clock()
    return JobRecord(
        id=job_id,
        kind="forecast_fit",
        title="fit the style-level demand forecaster",
        status="running",
        progress=0.4,
        message="fitting",
        owner=owner,
        created_at=now,
        started_at=now,
        updated_at=now,
    )


def test_a_job_whose_process_died_is_reported_interrupted(engine: Engine) -> None:
    with Session(engine) as session:
        session.add(_running_record("job-00000000dead", f"{HOST}:{_dead_pid()}:jobs-1"))
        session.add(_running_record("job-0000e15e0e4e", "another-host:4242:jobs-1"))
        session.commit()

    runner = _another_process(engine)
    dead = runner.get("job-00000000dead")
    assert dead is not None and dead.status == "failed" and dead.finished_at is not None
    assert dead.error is not None and "interrupted" in dead.error
    # Another machine's process cannot be checked from here: its job stays as reported.
    elsewhere = runner.get("job-0000e15e0e4e")
    assert elsewhere is not None and elsewhere.status == "running"


def test_the_service_lists_the_jobs_of_an_earlier_process(engine: Engine, tmp_path) -> None:
    from tests.api.conftest import tiny_catalog

    earlier = JobRunner()
    earlier.attach(JobStore(engine))
    job = earlier.submit("forecast_fit", "fit the sku-level demand forecaster", _work)
    earlier.wait(job.id, timeout=30)

    seed_demo_keys(engine)
    settings = Settings(database_url=str(engine.url), data_dir=tmp_path)
    service = create_app(settings, engine=engine, catalog=tiny_catalog(engine))
    with TestClient(service) as client:
        listed = client.get("/v1/jobs", headers=VIEWER).json()
        assert [(j["id"], j["status"]) for j in listed] == [(job.id, "succeeded")]
        shown = client.get(f"/v1/jobs/{job.id}", headers=VIEWER).json()
        assert shown["result"] == {"series": 12}


def test_work_started_early_reports_its_progress_and_outcome_to_the_job() -> None:
    """serve starts the first world build before the service has imported; the job that joins
    it later still shows the progress so far, then the result (or the failure)."""
    begun, release = threading.Event(), threading.Event()

    def build(progress: Progress) -> dict[str, Any]:
        progress(0.3, "writing weather history")
        begun.set()
        assert release.wait(30)
        progress(0.9, "indexing the history")
        return {"world": "demo.sqlite"}

    early = started_early(build)
    assert begun.wait(30)  # running before any job runner exists
    runner = JobRunner()
    job = runner.submit("demo_world", "build the demo world (first start)", early)
    deadline = time.monotonic() + 30
    while (seen := runner.get(job.id)) is not None and seen.message != "writing weather history":
        assert time.monotonic() < deadline, seen
        time.sleep(0.01)
    assert seen is not None and seen.progress == 0.3 and seen.status == "running"
    release.set()
    final = runner.wait(job.id, timeout=30)
    assert (final.status, final.result) == ("succeeded", {"world": "demo.sqlite"})

    def broken(_: Progress) -> dict[str, Any]:
        raise RuntimeError("weather file missing")

    failed = runner.wait(runner.submit("demo_world", "build", started_early(broken)).id, 30)
    assert failed.status == "failed" and failed.error == "RuntimeError: weather file missing"
