"""Cached world files: build a spec once, then copy the SQLite file for each private world.

The cache key covers the spec, the generator's source and the migrations, so a change to any of
them builds a fresh template instead of serving a stale one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from filelock import FileLock
from sqlalchemy import event
from sqlalchemy.engine import Engine

from inventory import schema
from inventory.config import get_settings
from inventory.demo_world.build import BuildProgress, build_world
from inventory.demo_world.spec import WorldSpec

_PACKAGE_DIR = Path(__file__).resolve().parent


def _source_fingerprint() -> str:
    digest = hashlib.sha256()
    sources = sorted(_PACKAGE_DIR.glob("*.py")) + sorted(
        (schema.MIGRATIONS_DIR / "versions").glob("*.py")
    )
    for path in sources:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


#: Templates of older code are removed once this old, so a session still copying one is safe.
STALE_AFTER_S = 3600.0


def _spec_key(spec: WorldSpec) -> str:
    return hashlib.sha256(spec.model_dump_json().encode()).hexdigest()[:10]


def template_path(spec: WorldSpec, cache_dir: Path | None = None) -> Path:
    directory = cache_dir or get_settings().data_dir / "worlds"
    code = _source_fingerprint()[:10]
    return (
        directory / f"world-{spec.seed}-{spec.stores}x{spec.styles}-{_spec_key(spec)}-{code}.sqlite"
    )


def _prune_stale(path: Path) -> None:
    """Drop this spec's templates built by older code, once nobody can still be copying them."""
    prefix = path.name.rsplit("-", 1)[0]
    now = time.time()
    for old in path.parent.glob(f"{prefix}-*.sqlite"):
        if old != path and now - old.stat().st_mtime > STALE_AFTER_S:
            old.unlink(missing_ok=True)


def world_template(
    spec: WorldSpec | None = None,
    cache_dir: Path | None = None,
    progress: BuildProgress | None = None,
) -> Path:
    """The SQLite file of ``spec``'s world, built on first use and reused afterwards.

    Built under a temporary name and renamed into place, so a reader never sees a half-written
    template; a file lock makes concurrent builders of the same template (parallel test workers,
    two first starts) wait for the one that builds it instead of building it again.
    """
    spec = spec or WorldSpec()
    path = template_path(spec, cache_dir)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(path.with_name(f".{path.name}.lock")):
        if path.exists():  # built by whoever held the lock before us
            return path
        return _build_template(spec, path, progress)


def _build_template(spec: WorldSpec, path: Path, progress: BuildProgress | None) -> Path:
    partial = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.partial")
    engine = _scratch_engine(partial)
    try:
        schema.upgrade(engine)
        build_world(engine, spec, progress=progress)
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=DELETE")  # what copies of it start from
        engine.dispose()
        os.replace(partial, path)
        _prune_stale(path)
    finally:
        engine.dispose()
        for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
            leftover.unlink(missing_ok=True)
    return path


def _scratch_engine(path: Path) -> Engine:
    """An engine for a file nobody else reads until it is renamed into place: no journal and
    no fsync (a crash leaves only a partial file, which is discarded), so the ~200 MB world is
    written once instead of through a WAL and a checkpoint."""
    engine = sa.create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=OFF")
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def copy_world(template: Path, destination: Path) -> Path:
    """A private copy of a template; open it with ``make_engine(f"sqlite:///{destination}")``."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, destination)
    return destination
