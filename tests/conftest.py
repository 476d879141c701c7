"""Shared fixtures: databases parametrised over SQLite and real PostgreSQL (DESIGN, STYLE)."""

from __future__ import annotations

import os
import queue
import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from inventory import schema
from inventory.db import make_engine
from inventory.pool_copy import (
    copy_pool,
    create_postgres_database,
    database_name,
    drop_postgres_database,
    run_on_server,
)

if TYPE_CHECKING:  # the demo world pulls in numpy/pandas; import it only when a test needs it
    from inventory.demo_world import WorldSpec
    from tools.context import ToolContext

PG_ADMIN_URL = os.environ.get(
    "STOCKPILOT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
#: The tests' PostgreSQL databases are named ``sp_test_*``, each private to the test that made it
#: (``inventory.pool_copy.create_postgres_database``, as the eval harness makes its own).
TEST_DB_PREFIX = "sp_test"


def create_test_database(admin_url: str, template: str | None = None) -> str:
    """A private ``sp_test_*`` database (the product's ``create_postgres_database``, optionally a
    copy of ``template``) whose commits do not wait for the server's WAL flush.

    ``synchronous_commit = off`` is set on that database only (a database's settings are not
    copied from its template, so on each one): a commit still takes effect at once and is seen
    by every later transaction, it only is not forced to disk before the answer, which matters
    only if the PostgreSQL server itself crashes; no test crashes it (the kill -9 tests kill
    the service). Measured on the shared machine: 4–5 ms a commit with the flush, 0.2 ms
    without, and the PostgreSQL tests commit thousands of times."""
    url = create_postgres_database(admin_url, prefix=TEST_DB_PREFIX, template=template)
    run_on_server(admin_url, f'ALTER DATABASE "{database_name(url)}" SET synchronous_commit TO off')
    return url


#: Scheduling weight of a test marked ``slow`` against 1 for any other test (a slow test takes
#: tens of seconds, most others one or two).
SLOW_WEIGHT = 30


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``make test`` runs ``--dist loadgroup``), the tests of a module that
    share a module-scoped fixture go to one worker, so that fixture is built once, not once per
    worker. Runs before xdist's own hook, which reads the ``xdist_group`` marks.

    Then the heaviest scheduling units go first (a group weighs the sum of its tests, a slow
    test ``SLOW_WEIGHT``): xdist hands out units in collection order (``make test`` passes
    ``--no-loadscope-reorder``), and a long unit handed out last keeps one worker busy while
    the others idle. Within a unit the collection order is kept."""
    units: dict[str, list[pytest.Item]] = {}
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        module = getattr(item, "module", None)
        unit = item.nodeid
        fixtures = info.name2fixturedefs.values() if info is not None else ()
        if module is not None and any(d.scope == "module" for defs in fixtures for d in defs):
            item.add_marker(pytest.mark.xdist_group(module.__name__))
            unit = f"group:{module.__name__}"
        units.setdefault(unit, []).append(item)

    def weight(unit: list[pytest.Item]) -> int:
        return sum(SLOW_WEIGHT if item.get_closest_marker("slow") else 1 for item in unit)

    items[:] = [item for unit in sorted(units.values(), key=weight, reverse=True) for item in unit]


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


class _BackgroundDrops:
    """Drops the tests' databases on a thread of its own, several at a time.

    A ``DROP DATABASE`` waits for a checkpoint (2–3 s on the shared machine) that a test would
    otherwise sit through; drops issued together share one, so the thread gathers drops for
    ``GATHER_S`` and issues them at once. The databases are private to the test that made them
    (``sp_test_*``), so nobody waits for them to go; the session's end
    (``pytest_sessionfinish``) waits for the last ones, so a run leaves none behind."""

    BATCH_THREADS = 8
    GATHER_S = 3.0

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[str, str] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.failures: list[str] = []

    def put(self, admin_url: str, url: str) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="pg-drops", daemon=True)
                self._thread.start()
        self._queue.put((admin_url, url))

    def _run(self) -> None:
        stop = False
        while not stop:
            batch = [self._queue.get()]
            gathered_until = time.monotonic() + self.GATHER_S
            while batch[-1] is not None and (left := gathered_until - time.monotonic()) > 0:
                try:
                    batch.append(self._queue.get(timeout=left))
                except queue.Empty:
                    break
            while not self._queue.empty():
                batch.append(self._queue.get())
            stop = None in batch
            todo = [job for job in batch if job is not None]
            with ThreadPoolExecutor(max_workers=self.BATCH_THREADS) as pool:
                list(pool.map(self._drop, todo))

    def _drop(self, job: tuple[str, str]) -> None:
        try:
            drop_postgres_database(*job)
        except Exception as exc:  # reported at the session's end; a test has passed already
            self.failures.append(f"{database_name(job[1])}: {type(exc).__name__}: {exc}")

    def close(self) -> list[str]:
        """Wait for every queued drop; the databases that could not be dropped."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()
        return self.failures


_DROPS = _BackgroundDrops()


def drop_postgres_database_later(admin_url: str, url: str) -> None:
    """Drop a test's database in the background (see ``_BackgroundDrops``)."""
    _DROPS.put(admin_url, url)


class _ClonesAhead:
    """Makes the next test's database while this test runs: one copy of each template (or one
    empty database) made ahead on a background thread, so a test takes a database that exists
    instead of waiting for ``CREATE DATABASE``. A copy is never handed out twice."""

    def __init__(self) -> None:
        self._ready: dict[tuple[str, str | None], Future[str]] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def take(self, admin_url: str, template: str | None = None) -> str:
        key = (admin_url, template)
        with self._lock:
            ahead = self._ready.pop(key, None)
        url = None
        if ahead is not None:
            try:
                url = ahead.result()
            except Exception:  # made again below, where a failure is the test's error
                url = None
        if url is None:
            url = create_test_database(admin_url, template)
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-clones")
            self._ready[key] = self._pool.submit(create_test_database, admin_url, template)
        return url

    def discard(self, template: str | None = None, *, every: bool = False) -> None:
        """Drop the copies made ahead of ``template`` (before it goes), or of every template."""
        with self._lock:
            keys = [key for key in self._ready if every or key[1] == template]
            pending = [(key[0], self._ready.pop(key)) for key in keys]
        for admin_url, ahead in pending:
            try:
                url = ahead.result()
            except Exception:
                continue
            drop_postgres_database_later(admin_url, url)


_CLONES = _ClonesAhead()


def new_postgres_database(admin_url: str, template: str | None = None) -> str:
    """A private database for one test (an empty one, or a copy of ``template``), made ahead
    (``_ClonesAhead``); give it back with ``drop_postgres_database_later``."""
    return _CLONES.take(admin_url, template)


def pytest_sessionfinish(session: pytest.Session) -> None:
    _CLONES.discard(every=True)
    failures = _DROPS.close()
    if failures:
        import warnings

        warnings.warn(f"test databases left behind: {failures}", stacklevel=1)


@pytest.fixture(scope="session")
def pg_migrated_template(postgres_admin_url: str) -> Iterator[str]:
    """A migrated, empty Postgres pool built once per session (per xdist worker): the
    ``engine`` fixture copies it (``CREATE DATABASE ... TEMPLATE``, well under a second)
    instead of running every migration again (~3 s). Never connected to after it is built."""
    url = create_test_database(postgres_admin_url)
    eng = make_engine(url)
    try:
        schema.upgrade(eng)
    finally:
        eng.dispose()
    name = database_name(url)
    yield name
    _CLONES.discard(name)
    drop_postgres_database_later(postgres_admin_url, url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database URL, once on a SQLite file and once on a fresh Postgres database.

    On Postgres, a test that takes ``engine`` (which migrates this database) gets a copy of the
    migrated template instead, so its migration finds nothing to do; any other test gets an
    empty database, as it asked."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'pool.sqlite'}"
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    template = None
    if "engine" in request.fixturenames:
        template = request.getfixturevalue("pg_migrated_template")
    url = new_postgres_database(admin_url, template)
    try:
        yield url
    finally:
        drop_postgres_database_later(admin_url, url)


@pytest.fixture(scope="session")
def sqlite_migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite pool built once per session (per xdist worker): ``engine`` and
    ``sqlite_engine`` copy the file (a millisecond) instead of running every migration again
    (~0.2 s of CPU, in some 330 tests), as the PostgreSQL tests copy ``pg_migrated_template``.
    Never connected to after it is built."""
    path = tmp_path_factory.mktemp("migrated") / "pool.sqlite"
    eng = make_engine(f"sqlite:///{path}")
    try:
        schema.upgrade(eng)
    finally:
        eng.dispose()  # the last connection closes: the WAL is folded into the file
    assert not Path(f"{path}-wal").exists(), "the template's WAL was not checkpointed"
    return path


def _migrated_sqlite(request: pytest.FixtureRequest, url: str) -> None:
    """Put a copy of the migrated template at ``url``'s SQLite file, unless a file is there."""
    path = Path(url.removeprefix("sqlite:///"))
    if not path.exists():
        shutil.copyfile(request.getfixturevalue("sqlite_migrated_template"), path)


@pytest.fixture
def engine(db_url: str, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A migrated, empty pool on each backend: a copy of the session's migrated template (on
    either backend), so the migration below finds nothing to do."""
    if db_url.startswith("sqlite:///"):
        _migrated_sqlite(request, db_url)
    eng = make_engine(db_url)
    schema.upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A migrated, empty pool on a SQLite file, for tests that need only one backend (a copy
    of the session's migrated template, see ``engine``)."""
    url = f"sqlite:///{tmp_path / 'pool.sqlite'}"
    _migrated_sqlite(request, url)
    eng = make_engine(url)
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
    from threadpoolctl import threadpool_limits

    import forecasting.global_model  # noqa: F401  (loads the OpenMP runtime the limit must see)
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
        # One native thread per fit: the two workers fit the two levels side by side, and
        # OpenMP threads spin against each other (and the other workers) on a loaded machine.
        with threadpool_limits(limits=1):
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
    """The name of a Postgres database holding the small world, built once per session (as
    ``pg_migrated_template``); copy it with ``CREATE DATABASE ... TEMPLATE``
    (``pg_world_engine``), never use it directly.

    It holds LangGraph's (empty) checkpoint tables too, set up as ``stockpilot serve`` sets
    them up in the pool: each service a test starts on a copy then finds them in place
    instead of creating them again (~0.2 s of the server's time per service)."""
    from agents.persistence import open_checkpointer
    from inventory.config import Settings

    url = create_test_database(postgres_admin_url)
    target = make_engine(url)
    source = make_engine(f"sqlite:///{small_world_template}")
    try:
        schema.upgrade(target)
        copy_pool(source, target)
        with open_checkpointer(Settings(database_url=url)):
            pass
    finally:
        source.dispose()
        target.dispose()
    name = database_name(url)
    yield name
    _CLONES.discard(name)
    drop_postgres_database_later(postgres_admin_url, url)


@pytest.fixture
def pg_world_engine(postgres_admin_url: str, pg_world_template: str) -> Iterator[Engine]:
    """A private Postgres copy of the small world; change it freely."""
    url = new_postgres_database(postgres_admin_url, pg_world_template)
    eng = make_engine(url)
    yield eng
    eng.dispose()
    drop_postgres_database_later(postgres_admin_url, url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_world_engine(request: pytest.FixtureRequest) -> Engine:
    """The small world, once on a SQLite file and once on PostgreSQL."""
    name = "world_engine" if request.param == "sqlite" else "pg_world_engine"
    return request.getfixturevalue(name)


def _fitted_context(engine: Engine, data_dir: Path) -> ToolContext:
    from inventory.config import Settings
    from tools.context import ToolContext

    url = engine.url.render_as_string(hide_password=False)
    settings = Settings(database_url=url, data_dir=data_dir, clock="world")
    return ToolContext.for_world(engine, settings)


@pytest.fixture
def fitted_ctx(world_engine: Engine, fitted_data_dir: Path) -> ToolContext:
    """The tools on a private small world (SQLite) at its clock, with the fitted forecasters."""
    return _fitted_context(world_engine, fitted_data_dir)


@pytest.fixture
def any_fitted_ctx(any_world_engine: Engine, fitted_data_dir: Path) -> ToolContext:
    """``fitted_ctx`` once on SQLite and once on PostgreSQL."""
    return _fitted_context(any_world_engine, fitted_data_dir)
