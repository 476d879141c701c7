"""Shared fixtures: databases parametrised over SQLite and real PostgreSQL (DESIGN, STYLE)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from inventory import schema
from inventory.db import make_engine
from inventory.pool_copy import copy_pool

if TYPE_CHECKING:  # the demo world pulls in numpy/pandas; import it only when a test needs it
    from inventory.demo_world import WorldSpec

PG_ADMIN_URL = os.environ.get(
    "STOCKPILOT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``make test`` runs ``--dist loadgroup``), the tests of a module that
    share a module-scoped fixture go to one worker, so that fixture is built once, not once per
    worker. Runs before xdist's own hook, which reads the ``xdist_group`` marks."""
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        module = getattr(item, "module", None)
        if info is None or module is None:
            continue
        if any(d.scope == "module" for defs in info.name2fixturedefs.values() for d in defs):
            item.add_marker(pytest.mark.xdist_group(module.__name__))


def _postgres_available() -> bool:
    try:
        engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    if not _postgres_available():
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI and is not reachable at {PG_ADMIN_URL}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL} (outside CI: skipping)")
    return PG_ADMIN_URL


def create_postgres_database(admin_url: str) -> str:
    """A fresh database per test, so parallel runs never see each other's rows."""
    name = f"sp_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_postgres_database(admin_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database URL, once on a SQLite file and once on a fresh Postgres database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'pool.sqlite'}"
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    url = create_postgres_database(admin_url)
    try:
        yield url
    finally:
        drop_postgres_database(admin_url, url)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated, empty pool on each backend."""
    eng = make_engine(db_url)
    schema.upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty pool on a SQLite file, for tests that need only one backend."""
    eng = make_engine(f"sqlite:///{tmp_path / 'pool.sqlite'}")
    schema.upgrade(eng)
    yield eng
    eng.dispose()


# --- Demo world fixtures (owner: demo world, inventory/demo_world) --------------------------
# A small seeded world, built once per spec and code version (cached under var/worlds/), copied
# per test. Keep this API stable: other packages' tests depend on ``world_engine``.


@pytest.fixture(scope="session")
def small_world_spec() -> WorldSpec:
    """8 stores in Shanghai, Guangzhou and Beijing (each city has an A-store; two have an
    outlet), 14 styles covering every category, 150 days of history before 2015-07-01 09:00."""
    from inventory.demo_world import WorldSpec

    return WorldSpec(
        seed=7,
        stores=8,
        styles=14,
        history_days=150,
        future_days=28,
        cities=("Shanghai", "Guangzhou", "Beijing"),
    )


@pytest.fixture(scope="session")
def small_world_template(small_world_spec: WorldSpec) -> Path:
    """The small world's SQLite file (read-only: copy it, or use ``world_engine``)."""
    from inventory.demo_world import world_template

    return world_template(small_world_spec)


@pytest.fixture
def world_engine(small_world_template: Path, tmp_path: Path) -> Iterator[Engine]:
    """A private, migrated SQLite copy of the small world; change it freely."""
    from inventory.demo_world import copy_world

    path = copy_world(small_world_template, tmp_path / "world.sqlite")
    eng = make_engine(f"sqlite:///{path}")
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def forecast_models_dir(
    small_world_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Both forecasters (sku and style level) fitted once on the small world, kept beside its
    template (under var/, ignored) for later sessions too. Fitting is a job, never a side effect
    of a forecast, so tests that need the real model take this folder as ``data_dir/models``.
    Artefacts are keyed on the world's spec, so every copy of the template loads them; the
    folder name changes with the forecasting code, so a cached fit is never a stale model."""
    import hashlib

    from inventory.clock import read_world_clock
    from tools.forecast_demand.artefacts import load_artefact, pool_fingerprint
    from tools.forecast_demand.fitting import fit_pool_model

    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for package in ("forecasting", "tools/forecast_demand"):
        for source in sorted((root / package).glob("*.py")):
            digest.update(source.name.encode() + source.read_bytes())
    path = small_world_template.with_name(
        f"{small_world_template.stem}.api-models-{digest.hexdigest()[:10]}"
    )
    path.mkdir(exist_ok=True)
    from filelock import FileLock

    from inventory.demo_world import copy_world

    copy = copy_world(small_world_template, tmp_path_factory.mktemp("fit") / "world.sqlite")
    engine = make_engine(f"sqlite:///{copy}")  # never open the shared template itself
    try:
        pool = pool_fingerprint(engine)
        now = read_world_clock(engine)
        assert now is not None, "the small world has a clock"
        # One fitter per level across parallel workers (and concurrent sessions); the others
        # wait, then load what it stored (save_artefact writes atomically). Workers start from
        # different levels, so two workers fit the two levels at the same time.
        levels = ["sku", "style"]
        worker = os.environ.get("PYTEST_XDIST_WORKER", "").removeprefix("gw")
        if worker.isdigit() and int(worker) % 2:
            levels.reverse()
        for level in levels:
            with FileLock(path.with_name(f".{path.name}.{level}.lock")):
                if load_artefact(path, pool, level) is None:
                    fit_pool_model(engine, now.date(), path, level=level)
    finally:
        engine.dispose()
    return path


@pytest.fixture
def fitted_data_dir(forecast_models_dir: Path, tmp_path: Path) -> Path:
    """A private data_dir whose models/ are the session's fitted forecasters (read-mostly)."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    (data_dir / "models").symlink_to(forecast_models_dir, target_is_directory=True)
    return data_dir


# --- The small demo world on PostgreSQL (for service and attack tests on both databases) ----


@pytest.fixture(scope="session")
def pg_world_template(postgres_admin_url: str, small_world_template: Path) -> Iterator[str]:
    """A Postgres database holding the small world, built once per session; copy it with
    ``CREATE DATABASE ... TEMPLATE`` (``pg_world_engine``), never use it directly."""
    url = create_postgres_database(postgres_admin_url)
    target = make_engine(url)
    source = make_engine(f"sqlite:///{small_world_template}")
    try:
        schema.upgrade(target)
        copy_pool(source, target)
    finally:
        source.dispose()
        target.dispose()
    yield url
    drop_postgres_database(postgres_admin_url, url)


@pytest.fixture
def pg_world_engine(postgres_admin_url: str, pg_world_template: str) -> Iterator[Engine]:
    """A private Postgres copy of the small world; change it freely."""
    name = f"sp_test_{uuid.uuid4().hex[:12]}"
    template = pg_world_template.rsplit("/", 1)[1]
    admin = sa.create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    admin.dispose()
    url = postgres_admin_url.rsplit("/", 1)[0] + f"/{name}"
    eng = make_engine(url)
    yield eng
    eng.dispose()
    drop_postgres_database(postgres_admin_url, url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_world_engine(request: pytest.FixtureRequest) -> Engine:
    """The small world, once on a SQLite file and once on PostgreSQL."""
    name = "world_engine" if request.param == "sqlite" else "pg_world_engine"
    return request.getfixturevalue(name)
