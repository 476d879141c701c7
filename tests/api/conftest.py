"""Fixtures of the API tests: a seeded key table, an app on a tiny graph, a live server."""

from __future__ import annotations

import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from sqlalchemy.engine import Engine

from agents.persistence import open_checkpointer
from api.app import create_app
from api.auth import DEMO_KEYS, seed_demo_keys
from api.langgraph_compat.catalog import AssistantSpec, StaticCatalog
from connectors.base import ConnectorSet
from inventory import schema
from inventory.config import Settings
from inventory.db import make_engine
from tests.api.tiny_alert_graph import build_tiny_alert_graph
from tests.api.tiny_graph import build_tiny_graph

KEYS = {name: key for name, (key, _) in DEMO_KEYS.items()}


def tiny_catalog(engine: Engine, checkpointer: BaseCheckpointSaver | None = None) -> StaticCatalog:
    """A chat graph (``tiny``) and a miniature ``alert_response`` on one checkpointer."""
    saver = checkpointer or InMemorySaver()
    return StaticCatalog(
        {
            "tiny": (AssistantSpec("tiny", "tiny", "test chat graph"), build_tiny_graph(saver)),
            "alert_response": (
                AssistantSpec("alert_response", "alert_response", "test alert graph"),
                build_tiny_alert_graph(engine, saver),
            ),
        }
    )


@pytest.fixture
def checkpointer(tmp_path) -> Iterator[SqliteSaver]:
    """A file checkpointer, so a second app instance sees the first one's runs (a restart)."""
    conn = sqlite3.connect(tmp_path / "checkpoints.sqlite", check_same_thread=False)
    saver = SqliteSaver(conn)
    saver.setup()
    yield saver
    conn.close()


@pytest.fixture
def api_settings(tmp_path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'pool.sqlite'}",
        data_dir=tmp_path,
        alert_secrets={"demo-weather": "demo-weather-secret"},
    )


def knows_shanghai(engine: Engine) -> None:
    """Cities are the pool's rows and the webhook accepts only those: the test alerts' city."""
    from sqlmodel import Session

    from tests.utils.factories import ensure_terms

    with Session(engine) as session:
        ensure_terms(session, city="Shanghai")
        session.commit()


def _tiny_app(engine: Engine, settings: Settings, checkpointer: BaseCheckpointSaver) -> FastAPI:
    seed_demo_keys(engine)
    knows_shanghai(engine)
    return create_app(settings, engine=engine, catalog=tiny_catalog(engine, checkpointer))


@pytest.fixture
def tiny_app(sqlite_engine: Engine, api_settings: Settings, checkpointer: SqliteSaver) -> FastAPI:
    return _tiny_app(sqlite_engine, api_settings, checkpointer)


@pytest.fixture
def client(tiny_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(tiny_app) as test_client:
        yield test_client


@pytest.fixture
def any_checkpointer(engine: Engine, api_settings: Settings) -> Iterator[BaseCheckpointSaver]:
    """The checkpointer ``serve`` opens for ``engine``'s pool (SQLite and PostgreSQL): a SQLite
    file beside it, or the pool's PostgreSQL through a connection pool."""
    url = engine.url.render_as_string(hide_password=False)
    with open_checkpointer(api_settings.model_copy(update={"database_url": url})) as saver:
        yield saver


@pytest.fixture
def any_client(
    engine: Engine, api_settings: Settings, any_checkpointer: BaseCheckpointSaver
) -> Iterator[TestClient]:
    """``client`` on ``engine``'s pool, once on SQLite and once on PostgreSQL, its runs kept by
    ``any_checkpointer``."""
    with TestClient(_tiny_app(engine, api_settings, any_checkpointer)) as test_client:
        yield test_client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """``app`` behind a real uvicorn on loopback, so clients talk real HTTP and SSE."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def live_url(tiny_app: FastAPI) -> Iterator[str]:
    """The app behind a real uvicorn on loopback, so the SDK talks real HTTP and SSE."""
    with served(tiny_app) as url:
        yield url


# --- The tiny graphs on both databases: the pool and the checkpointer as ``serve`` opens them ---


@contextmanager
def tiny_app_on(engine: Engine, data_dir: Path) -> Iterator[FastAPI]:
    """The app on the tiny graphs over ``engine`` (a migrated pool), its checkpoints where
    ``stockpilot serve`` keeps them for that database (a SQLite file beside the pool, or the
    pool's PostgreSQL through a connection pool)."""
    seed_demo_keys(engine)
    knows_shanghai(engine)
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        data_dir=data_dir,
        alert_secrets={"demo-weather": "demo-weather-secret"},
    )
    with open_checkpointer(settings) as saver:
        yield create_app(settings, engine=engine, catalog=tiny_catalog(engine, saver))


class Served(NamedTuple):
    url: str
    engine: Engine


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def any_module_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A migrated pool holding the demo keys (seeded only into an empty key table, so first),
    shared by a module's tests, once on SQLite and once on PostgreSQL: a database per backend
    and module, not per test; tests sharing it work on rows of their own and must not count
    what others left behind. A copy of the session's migrated template (as ``engine``), so its
    migration below finds nothing to do instead of running every migration again."""
    from tests.conftest import create_test_database, drop_postgres_database_later

    admin_url = None
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("module-pool") / "pool.sqlite"
        shutil.copyfile(request.getfixturevalue("sqlite_migrated_template"), path)
        url = f"sqlite:///{path}"
    else:
        admin_url = request.getfixturevalue("postgres_admin_url")
        template = request.getfixturevalue("pg_migrated_template")
        url = create_test_database(admin_url, template)
    engine = make_engine(url)
    try:
        schema.upgrade(engine)
        seed_demo_keys(engine)
        yield engine
    finally:
        engine.dispose()
        if admin_url is not None:
            drop_postgres_database_later(admin_url, url)  # no test waits for the drop


@pytest.fixture(scope="module")
def any_module_client(
    any_module_engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """``client`` on ``any_module_engine``: one app per backend for the module."""
    folder = tmp_path_factory.mktemp("module-app")
    with tiny_app_on(any_module_engine, folder) as app, TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def any_served(
    any_module_engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """The tiny graphs served over real HTTP on ``any_module_engine``: one server per backend
    for the module; its tests each work on threads of their own."""
    folder = tmp_path_factory.mktemp("served")
    with tiny_app_on(any_module_engine, folder) as app, served(app) as live:
        yield Served(live, any_module_engine)


@pytest.fixture
def world_app(world_engine: Engine, api_settings: Settings, checkpointer: SqliteSaver) -> FastAPI:
    """The app on the small demo world (real tools), with the test graphs."""
    seed_demo_keys(world_engine)
    settings = api_settings.model_copy(update={"clock": "world"})  # the world lives in 2015
    return create_app(
        settings, engine=world_engine, catalog=tiny_catalog(world_engine, checkpointer)
    )


@pytest.fixture
def world_client(world_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(world_app) as test_client:
        yield test_client


# --- The real service (agents' registry, worker, outbox dispatcher) on the small demo world ---

#: Limits low enough that the small demo world's orders ask a human, and its larger ones need
#: four eyes: above ¥2,000 retail value asks, above ¥5,000 needs two approvers.
LOW_LIMITS = {
    "max_value_per_order: 20000": "max_value_per_order: 2000",
    "above_value: 60000": "above_value: 5000",
}


def write_low_limits_policy(folder: Path) -> Path:
    """The default policy with ``LOW_LIMITS``, written to ``folder``/policy.yaml."""
    from agents.policy.model import DEFAULT_POLICY_FILE

    text = DEFAULT_POLICY_FILE.read_text()
    for default, low in LOW_LIMITS.items():
        assert default in text, f"the default policy no longer says {default!r}"
        text = text.replace(default, low)
    path = folder / "policy.yaml"
    path.write_text(text)
    return path


@pytest.fixture
def low_limits_policy(tmp_path: Path) -> Path:
    return write_low_limits_policy(tmp_path)


@pytest.fixture
def service_settings(
    world_engine: Engine, fitted_data_dir: Path, low_limits_policy: Path
) -> Settings:
    """Settings of a private service: its own simulated systems and checkpoints, the shared
    forecaster, the low-limits policy and the demo alert secret."""
    return Settings(
        database_url=str(world_engine.url),
        data_dir=fitted_data_dir,
        policy_file=low_limits_policy,
        alert_secrets={"demo-weather": "demo-weather-secret"},
        clock="world",  # the small demo world lives in 2015
    )


@pytest.fixture
def service(world_engine: Engine, service_settings: Settings) -> Iterator[TestClient]:
    """The app as ``stockpilot serve`` wires it, with its worker and outbox dispatcher."""
    seed_demo_keys(world_engine)
    app = create_app(service_settings, engine=world_engine, run_worker=True)
    with TestClient(app) as test_client:
        yield test_client


# --- The real service on both databases (authority and attack tests) ------------------------


@pytest.fixture
def any_service_settings(
    any_world_engine: Engine, fitted_data_dir: Path, low_limits_policy: Path
) -> Settings:
    """``service_settings`` for the small world on SQLite or PostgreSQL."""
    return Settings(
        database_url=any_world_engine.url.render_as_string(hide_password=False),
        data_dir=fitted_data_dir,
        policy_file=low_limits_policy,
        alert_secrets={"demo-weather": "demo-weather-secret"},
        clock="world",  # the small demo world lives in 2015
    )


@pytest.fixture
def any_service(any_world_engine: Engine, any_service_settings: Settings) -> Iterator[TestClient]:
    """The app as ``stockpilot serve`` wires it (real graphs, worker, outbox dispatcher,
    simulated WMS), on the small world on SQLite and on PostgreSQL."""
    seed_demo_keys(any_world_engine)
    app = create_app(any_service_settings, engine=any_world_engine, run_worker=True)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def systems(service: TestClient, service_settings: Settings) -> Iterator[ConnectorSet]:
    """Clients of ``service``'s own simulated systems (one server per state file per process)."""
    with ConnectorSet.from_settings(service_settings) as connectors:
        yield connectors


@pytest.fixture
def any_systems(any_service: TestClient, any_service_settings: Settings) -> Iterator[ConnectorSet]:
    """Clients of ``any_service``'s own simulated systems."""
    with ConnectorSet.from_settings(any_service_settings) as connectors:
        yield connectors


# --- The small world shared read-only by a module, on both databases ------------------------


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def any_module_world(
    request: pytest.FixtureRequest,
    small_world_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Engine]:
    """The small world with the demo keys, once on SQLite and once on PostgreSQL (a copy of
    ``pg_world_template``), shared by a module's tests that only read it or work on rows of
    their own (threads, runs) and count nothing others left behind."""
    from inventory.demo_world import copy_world
    from tests.conftest import create_test_database, drop_postgres_database_later

    admin_url = None
    if request.param == "sqlite":
        folder = tmp_path_factory.mktemp("module-world")
        url = f"sqlite:///{copy_world(small_world_template, folder / 'world.sqlite')}"
    else:
        admin_url = request.getfixturevalue("postgres_admin_url")
        template = request.getfixturevalue("pg_world_template")
        url = create_test_database(admin_url, template)
    engine = make_engine(url)
    try:
        seed_demo_keys(engine)
        yield engine
    finally:
        engine.dispose()
        if admin_url is not None:
            drop_postgres_database_later(admin_url, url)  # no test waits for the drop


@pytest.fixture(scope="module")
def any_module_world_settings(
    any_module_world: Engine,
    forecast_models_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    """Settings of a service on ``any_module_world``: the session's fitted forecasters, the
    demo alert secret, the world's clock (it lives in 2015)."""
    data_dir = tmp_path_factory.mktemp("module-world-data")
    (data_dir / "models").symlink_to(forecast_models_dir, target_is_directory=True)
    return Settings(
        database_url=any_module_world.url.render_as_string(hide_password=False),
        data_dir=data_dir,
        alert_secrets={"demo-weather": "demo-weather-secret"},
        clock="world",
    )


@pytest.fixture(scope="module")
def any_module_service(
    any_module_world: Engine,
    any_module_world_settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TestClient]:
    """``any_service`` (real graphs, worker, outbox dispatcher, simulated WMS, the low-limits
    policy) on ``any_module_world``: one service per backend for a module whose tests each work
    on threads of their own, instead of a world copy and a service start per test."""
    policy = write_low_limits_policy(tmp_path_factory.mktemp("module-policy"))
    settings = any_module_world_settings.model_copy(update={"policy_file": policy})
    app = create_app(settings, engine=any_module_world, run_worker=True)
    with TestClient(app) as test_client:
        yield test_client
