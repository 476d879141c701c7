"""``stockpilot serve``: demo mode is explicit, real pools get safe defaults, and the first start
answers at once (503 with progress while the demo world is built, jobs for the fits)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from api.app import create_app
from api.auth import DEMO_KEYS, seed_demo_keys
from api.jobs import Progress
from inventory.config import DEMO_ALERT_SECRET, Settings
from inventory.db import dispose_engines
from inventory.models import ApiKey, Location
from stockpilot_cli.main import full_app
from stockpilot_cli.serve import ServeRefused, prepare_pool

app = full_app()
runner = CliRunner()
VIEWER = {"x-api-key": DEMO_KEYS["demo-viewer"][0]}
ADMIN = {"x-api-key": DEMO_KEYS["demo-admin"][0]}


@pytest.fixture(autouse=True)
def _fresh_engines() -> Any:
    yield
    dispose_engines()  # prepare_pool caches engines per URL; each test has its own pool


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _rows(engine: Engine, model: type) -> list:
    with Session(engine) as session:
        return list(session.exec(select(model)).all())


def test_demo_mode_is_explicit_and_brings_its_own_file_secret_and_clock(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("STOCKPILOT_DEMO", "STOCKPILOT_CLOCK", "STOCKPILOT_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    real = Settings(data_dir=tmp_path)
    assert (real.demo, real.clock_mode, real.alert_secrets) == (False, "wall", {})
    demo = Settings(data_dir=tmp_path, demo=True)
    assert demo.database_url == f"sqlite:///{tmp_path / 'demo.sqlite'}"
    assert demo.alert_secrets == {"demo-weather": DEMO_ALERT_SECRET}
    assert demo.clock_mode == "world"


def test_serve_on_a_real_pool_seeds_nothing(db_url: str, tmp_path: Path) -> None:
    """SQLite and PostgreSQL alike: migrated, no demo world, no demo keys, no start-up job."""
    engine, prepare = prepare_pool(Settings(database_url=db_url, data_dir=tmp_path))
    assert prepare is None
    assert _rows(engine, ApiKey) == [] and _rows(engine, Location) == []


def test_the_published_alert_secret_is_refused_outside_demo_mode(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'pool.sqlite'}",
        alert_secrets={"cma": "fine-secret-of-our-own", "demo-weather": DEMO_ALERT_SECRET},
    )
    with pytest.raises(ServeRefused, match="demo-weather use the published demo secret"):
        prepare_pool(settings)
    assert not (tmp_path / "pool.sqlite").exists()  # refused before touching the pool
    demo = settings.model_copy(update={"demo": True})
    assert prepare_pool(demo)[1] is not None  # demo mode accepts it (and builds its world)


def test_a_pool_holding_the_public_demo_keys_is_refused_outside_demo_mode(
    any_module_engine: Engine, tmp_path: Path
) -> None:
    """SQLite and PostgreSQL alike (the module's pool holds the demo keys)."""
    settings = Settings(database_url=_url(any_module_engine), data_dir=tmp_path)
    with pytest.raises(ServeRefused, match="stockpilot api-key revoke demo-admin"):
        prepare_pool(settings)


def test_cli_refuses_with_exit_2_and_prints_the_first_admin_key_recipe(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a new SQLite file and a new PostgreSQL database alike."""
    import uvicorn

    served: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.append(app))
    monkeypatch.delenv("STOCKPILOT_DEMO", raising=False)
    db = db_url
    env = {"STOCKPILOT_ALERT_SECRETS": '{"demo-weather": "demo-weather-secret"}', "COLUMNS": "200"}
    refused = runner.invoke(app, ["serve", "--db", db], env=env)
    assert refused.exit_code == 2 and "published demo secret" in refused.output
    assert served == []
    started = runner.invoke(app, ["serve", "--db", db], env={"COLUMNS": "200"})
    assert started.exit_code == 0, started.output
    assert len(served) == 1
    assert "stockpilot api-key create <your-name> --role admin" in started.output
    assert "PUBLIC" not in started.output and "sp-demo" not in started.output
    assert "the webhook refuses every alert" in started.output


def test_demo_mode_keys_into_an_existing_world_without_fitting(
    any_world_engine: Engine, tmp_path: Path
) -> None:
    """A demo pool that exists already (a SQLite file, a PostgreSQL database): keys at once,
    nothing rebuilt, and no forecaster fit (fits are background jobs of the running service)."""
    settings = Settings(database_url=_url(any_world_engine), data_dir=tmp_path, demo=True)
    engine, prepare = prepare_pool(settings)
    assert prepare is None
    assert {"demo-viewer", "demo-approver", "demo-admin"} <= {k.name for k in _rows(engine, ApiKey)}
    assert not (tmp_path / "models").exists()


def test_demo_first_start_builds_the_world_as_a_job(small_world_spec, tmp_path: Path) -> None:
    """No pool file yet: the world is copied in by the start-up job (from the cached template
    here), with progress, and the demo keys come with it."""
    path = tmp_path / "demo.sqlite"
    settings = Settings(database_url=f"sqlite:///{path}", data_dir=tmp_path, demo=True)
    engine, prepare = prepare_pool(settings, small_world_spec)
    assert prepare is not None and not path.exists()
    seen: list[tuple[float, str]] = []
    result = prepare(lambda fraction, message: seen.append((fraction, message)))
    assert result is not None and result["world"] == str(path)
    assert seen and seen[-1][1] == "seeding the public demo API keys"
    assert len(_rows(engine, Location)) > 8
    assert {k.name for k in _rows(engine, ApiKey)} == set(DEMO_KEYS)


def test_until_the_pool_is_prepared_requests_get_503_with_progress(
    any_module_engine: Engine, tmp_path: Path
) -> None:
    """The start-up job is recorded in the pool, SQLite or PostgreSQL (the module's pool, whose
    other tests' jobs are not this test's to count)."""
    from tests.api.conftest import tiny_catalog

    settings = Settings(database_url=_url(any_module_engine), data_dir=tmp_path)
    release = threading.Event()

    def slow_preparation(progress: Progress) -> dict[str, Any]:
        progress(0.4, "writing sales history: 4 of 10 rows")
        assert release.wait(30)
        return {"done": True}

    service = create_app(
        settings,
        engine=any_module_engine,
        catalog=tiny_catalog(any_module_engine),
        prepare=slow_preparation,
        prepare_title="build the demo world (first start)",
    )
    with TestClient(service) as client:
        state = service.state.stockpilot
        for _ in range(200):  # the job reports its first progress within moments
            if "40%" in client.get("/healthz").json()["message"]:
                break
            threading.Event().wait(0.05)
        health = client.get("/healthz").json()
        assert health["status"] == "starting" and "writing sales history" in health["message"]
        busy = client.get("/v1/stock", headers=VIEWER)
        assert busy.status_code == 503 and busy.headers["Retry-After"] == "5"
        assert "the service is starting (build the demo world" in busy.json()["error"]["message"]
        assert client.get("/info").status_code == 200
        release.set()
        assert state.ready.wait(30)
        assert client.get("/healthz").json() == {"status": "ok", "message": "ready"}
        assert client.get("/v1/stock", headers=VIEWER).status_code == 200
        jobs = client.get("/v1/jobs", headers=VIEWER).json()
        mine = [(j["status"], j["title"]) for j in jobs if j["id"] == state.startup_job]
        assert mine == [("succeeded", "build the demo world (first start)")]
        assert [j["kind"] for j in jobs].count("demo_world") == 1


def test_a_fit_is_for_admins_and_refused_on_a_pool_without_sales(
    any_module_client: TestClient,
) -> None:
    """On a pool without sales (SQLite or PostgreSQL) there is nothing to fit: the request is
    a 422 saying so, and no job is queued (never a 202 that only then finds nothing to do)."""
    client = any_module_client
    assert client.post("/v1/jobs/forecast-fit", json={}, headers=VIEWER).status_code == 403
    bad = client.post("/v1/jobs/forecast-fit", json={"level": "store"}, headers=ADMIN)
    assert bad.status_code == 422
    refused = client.post("/v1/jobs/forecast-fit", json={"level": "style"}, headers=ADMIN)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["field"] == "history_days" and error["value"] == 0
    assert "no sales history" in error["message"] and "nothing to fit" in error["message"]
    jobs = client.get("/v1/jobs", headers=VIEWER).json()
    assert "fit the style-level demand forecaster" not in [j["title"] for j in jobs]
    assert client.get("/v1/jobs/job-nope", headers=VIEWER).status_code == 404


def _keep_sales_history(engine: Engine, days: int) -> str:
    """Delete the world's sales older than ``days`` before its clock; the clock's date."""
    import datetime as dt

    from sqlmodel import delete

    from inventory.clock import read_world_clock
    from inventory.models import DailySales

    now = read_world_clock(engine)
    assert now is not None
    with Session(engine) as session:
        cut = now.date() - dt.timedelta(days=days)
        session.exec(delete(DailySales).where(DailySales.date < cut))  # type: ignore[call-overload]
        session.commit()
    return now.date().isoformat()


def test_a_fit_on_too_short_a_sales_history_is_refused_up_front(
    any_world_engine: Engine, tmp_path: Path
) -> None:
    """SQLite and PostgreSQL: 40 days of sales are too few for the production forecaster (its
    fit needs 63: 28 days of calibration after a 28-day training window and a week before it),
    so the request says so (422) instead of a 202 whose job fails minutes later."""
    from tests.api.conftest import tiny_catalog

    today = _keep_sales_history(any_world_engine, 40)
    seed_demo_keys(any_world_engine)
    settings = Settings(database_url=_url(any_world_engine), data_dir=tmp_path, clock="world")
    service = create_app(settings, engine=any_world_engine, catalog=tiny_catalog(any_world_engine))
    with TestClient(service) as client:
        for level in ("sku", "style"):
            for refit in (False, True):
                body = {"level": level, "refit": refit}
                refused = client.post("/v1/jobs/forecast-fit", json=body, headers=ADMIN)
                assert refused.status_code == 422, refused.text
                error = refused.json()["error"]
                assert error["message"] == (
                    f"the pool has 40 days of sales history before {today}; fitting the "
                    f"{level}-level forecaster (rain_uplift) needs at least 63"
                )
                assert (error["field"], error["value"]) == ("history_days", 40)
        assert client.get("/v1/jobs", headers=VIEWER).json() == []  # no job was started


def test_the_service_fits_in_the_background_and_forecasts_say_baseline_until_then(
    any_world_engine: Engine, tmp_path: Path
) -> None:
    """create_app(fit_forecasters=True) queues both fits; meanwhile a forecast answers from the
    labelled baseline at once instead of waiting minutes for a model."""
    from tests.api.conftest import tiny_catalog

    world_engine = any_world_engine  # SQLite or PostgreSQL: the fit jobs are pool records
    seed_demo_keys(world_engine)
    settings = Settings(database_url=_url(world_engine), data_dir=tmp_path, clock="world")
    service = create_app(
        settings, engine=world_engine, catalog=tiny_catalog(world_engine), fit_forecasters=True
    )
    # Hold the fits back (they would take minutes here), so the baseline is what answers.
    service.state.stockpilot.jobs._run = lambda job_id: None
    with TestClient(service) as client:
        titles = {j["title"] for j in client.get("/v1/jobs", headers=VIEWER).json()}
        assert titles == {
            "fit the sku-level demand forecaster",
            "fit the style-level demand forecaster",
        }
        ask = {"city": "Shanghai", "category": "umbrellas", "horizon_days": 3, "level": "style"}
        out = client.post("/v1/forecasts", json=ask, headers=VIEWER)
        assert out.status_code == 200
        assert out.json()["model"].startswith("weekday_profile (baseline:")
