"""An alert that arrives while the pool's first forecaster is being fitted waits for it: planned on
the stand-in baseline, which does not see the rain, a rainstorm would read as "no shortage, no
action". The alert is recorded and admitted at once (202) and runs as soon as the model is
stored; past the wait's bound it runs on the baseline, which its report names. On SQLite and
PostgreSQL, through the signed webhook, with the real alert graph and worker."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from api import forecast_watch
from api.app import create_app
from api.auth import DEMO_KEYS, seed_demo_keys
from inventory.config import Settings
from tests.api.test_alerts import post_alert, weather

VIEWER = {"x-api-key": DEMO_KEYS["demo-viewer"][0]}
FINISHED = ("succeeded", "interrupted")


def _service(engine: Engine, data_dir: Path) -> TestClient:
    """The service as `stockpilot serve` wires it, with its first fits queued but held back."""
    seed_demo_keys(engine)
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        data_dir=data_dir,
        alert_secrets={"demo-weather": "demo-weather-secret"},
        clock="world",
    )
    app = create_app(settings, engine=engine, run_worker=True, fit_forecasters=True)
    app.state.stockpilot.jobs._run = lambda job_id: None  # the fit "takes long": never runs
    return TestClient(app)


def _run(client: TestClient, run_id: str) -> dict:
    return client.get(f"/v1/runs/{run_id}", headers=VIEWER).json()


def _wait_for(predicate: Callable[[], bool], timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "the run did not get there in time"
        time.sleep(0.2)


def _forecast_model(client: TestClient, thread_id: str) -> str:
    state = client.get(f"/threads/{thread_id}/state", headers=VIEWER).json()
    return state["values"]["forecast"]["model"]


def test_an_alert_waits_for_the_first_fit_then_plans_with_the_rain(
    any_world_engine: Engine, forecast_models_dir: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    with _service(any_world_engine, data_dir) as client:
        fits = client.get("/v1/jobs", headers=VIEWER).json()
        assert {j["status"] for j in fits if j["kind"] == "forecast_fit"} == {"queued"}
        accepted = post_alert(client, weather("cma-first-fit", mm=80.0))
        assert accepted.status_code == 202 and accepted.json()["status"] == "admitted"
        run_id, thread_id = accepted.json()["run_id"], accepted.json()["thread_id"]
        time.sleep(5.0)  # the webhook woke the worker, and it polls every 2 s: still waiting
        assert _run(client, run_id)["status"] == "admitted"

        shutil.copytree(forecast_models_dir, data_dir / "models")  # the fit stores its models
        _wait_for(lambda: _run(client, run_id)["status"] in FINISHED)
        assert _forecast_model(client, thread_id).startswith("rain_uplift@")


def test_past_the_wait_an_alert_runs_on_the_baseline_and_says_so(
    any_world_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(forecast_watch, "FIRST_FIT_WAIT", forecast_watch.dt.timedelta(0))
    with _service(any_world_engine, tmp_path / "data") as client:
        accepted = post_alert(client, weather("cma-no-wait", mm=80.0))
        assert accepted.status_code == 202
        run_id, thread_id = accepted.json()["run_id"], accepted.json()["thread_id"]
        _wait_for(lambda: _run(client, run_id)["status"] in FINISHED)
        model = _forecast_model(client, thread_id)
        assert model.startswith("weekday_profile (baseline:") and "weather not modelled" in model
