"""A private world per scenario trial: a copy of a cached demo-world template, then the overrides.

Generating a world takes seconds; copying a cached SQLite template takes milliseconds, which is
what keeps the offline suite inside its time budget. On PostgreSQL (``PostgresWorlds``) the
template's rows are loaded once per run into a template database, and each trial gets a
``CREATE DATABASE ... TEMPLATE`` copy of it, dropped after the trial. Every change to stock goes
through ``inventory.movements`` so the copy keeps the invariants and audit trail of the service.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from filelock import FileLock
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from evals.scenario import InTransitOverride, Scenario, StockOverride, StockSelector, WorldSetup
from inventory import movements
from inventory.clock import set_world_clock
from inventory.config import PROJECT_ROOT, Settings, get_settings
from inventory.db import make_engine, session_scope
from inventory.demo_world.spec import WorldSpec
from inventory.demo_world.template import copy_world, template_path, world_template
from inventory.models import Location, Sku, StockPosition, Style
from inventory.pool_copy import (
    copy_pool,
    create_postgres_database,
    database_name,
    drop_postgres_database,
    is_postgres_url,
)

EVAL_ACTOR = "eval-setup"


class WorldSetupError(ValueError):
    """The scenario asks for a world the template cannot give (unknown code, nothing matched)."""


#: Key under which a template's fitted forecasters are cached (re-keyed to each trial's pool).
TEMPLATE_MODEL_KEY = "template"
FORECAST_LEVELS = ("style", "sku")


@dataclass
class World:
    """One scenario trial's pool, its settings (policy file, data dir) and its directory."""

    engine: Engine
    settings: Settings
    directory: Path
    now: dt.datetime
    template: Path
    #: Called after the engine is disposed: drops a trial's PostgreSQL database.
    release: Callable[[], None] | None = field(default=None, repr=False)

    @property
    def models_dir(self) -> Path:
        return self.settings.data_dir / "models"

    def dispose(self) -> None:
        self.engine.dispose()
        if self.release is not None:
            release, self.release = self.release, None
            release()


class PostgresWorlds:
    """Trial worlds on a PostgreSQL server instead of SQLite files.

    ``server_url`` names any database on the server the harness may connect to; it is only
    used to create and drop the harness's own databases (``sp_eval_*``), never written. Each
    template is loaded once per run (migrated, then ``copy_pool``), and every trial gets its own
    copy of it, as each SQLite trial gets its own file. Close it to drop the template copies.
    """

    PREFIX = "sp_eval"

    def __init__(self, server_url: str) -> None:
        if not is_postgres_url(server_url):
            raise WorldSetupError(f"not a PostgreSQL URL: {server_url!r}")
        self.server_url = server_url
        self._templates: dict[Path, str] = {}

    def _template_database(self, template: Path) -> str:
        if template not in self._templates:
            from inventory import schema

            url = create_postgres_database(self.server_url, prefix=f"{self.PREFIX}_template")
            # Read-only: the cached template is shared by every trial and process.
            source = sa.create_engine(f"sqlite:///file:{template}?mode=ro&uri=true")
            target = make_engine(url)
            try:
                schema.upgrade(target)
                copy_pool(source, target)
            except Exception:
                drop_postgres_database(self.server_url, url)
                raise
            finally:
                source.dispose()
                target.dispose()
            self._templates[template] = url
        return self._templates[template]

    def new_pool(self, template: Path) -> str:
        """The URL of a fresh, private database holding ``template``'s world."""
        name = database_name(self._template_database(template))
        return create_postgres_database(self.server_url, prefix=self.PREFIX, template=name)

    def drop(self, url: str) -> None:
        drop_postgres_database(self.server_url, url)

    def close(self) -> None:
        for url in self._templates.values():
            self.drop(url)
        self._templates.clear()


def cache_is_warm(setup: WorldSetup, now: dt.datetime) -> bool:
    """Whether the template and at least one fitted forecaster for it are cached already."""
    template = template_path(spec_for(setup, now))
    return template.exists() and any(model_cache_dir(template).glob("*.joblib"))


def _forecaster_fingerprint() -> str:
    """Changes whenever the forecasting code does, so a cached fit is never a stale model."""
    digest = hashlib.sha256()
    for package in ("forecasting", "tools/forecast_demand"):
        for path in sorted((PROJECT_ROOT / package).glob("*.py")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def model_cache_dir(template: Path) -> Path:
    """Forecasters fitted on a template's history, kept beside the template file."""
    return template.with_name(f"{template.stem}.models-{_forecaster_fingerprint()}")


def seed_forecast_models(world: World) -> list[str]:
    """Give the trial's pool the forecasters fitted on its template's history.

    The service fits its forecaster ahead of alerts (a job) and loads it; a trial copy has the
    same history as its template (overrides change stock, not sales), so the template's fit is
    the one the service would have loaded. The first trial on a template fits it (the job the
    service would have run) and keeps it beside the template. Returns the levels seeded.
    """
    from tools.forecast_demand.artefacts import (
        Artefact,
        load_artefact,
        pool_fingerprint,
        save_artefact,
    )
    from tools.forecast_demand.fitting import fit_pool_model

    cache = model_cache_dir(world.template)
    pool = pool_fingerprint(world.engine)
    seeded: list[str] = []
    for level in FORECAST_LEVELS:
        if load_artefact(world.models_dir, pool, level) is not None:
            continue
        cached = load_artefact(cache, TEMPLATE_MODEL_KEY, level)
        if cached is None:
            # Trials of one template in parallel processes (test workers) fit it once: the
            # others wait for the lock, then load what the first one stored.
            cache.mkdir(parents=True, exist_ok=True)
            with FileLock(cache.with_name(f".{cache.name}.{level}.lock")):
                cached = load_artefact(cache, TEMPLATE_MODEL_KEY, level)
                if cached is None:
                    fitted = fit_pool_model(
                        world.engine, world.now.date(), world.models_dir, level=level
                    )
                    cached = Artefact(
                        meta=fitted.meta.model_copy(update={"pool": TEMPLATE_MODEL_KEY}),
                        fitted=fitted.fitted,
                    )
                    save_artefact(cache, cached)
        meta = cached.meta.model_copy(update={"pool": pool})
        save_artefact(world.models_dir, Artefact(meta=meta, fitted=cached.fitted))
        seeded.append(level)
    return seeded


def harvest_forecast_models(world: World) -> list[str]:
    """Keep forecasters a trial had to fit, for the next trial on the same template."""
    from tools.forecast_demand.artefacts import (
        Artefact,
        load_artefact,
        pool_fingerprint,
        save_artefact,
    )

    cache = model_cache_dir(world.template)
    pool = pool_fingerprint(world.engine)
    kept: list[str] = []
    for level in FORECAST_LEVELS:
        if load_artefact(cache, TEMPLATE_MODEL_KEY, level) is not None:
            continue
        fitted = load_artefact(world.models_dir, pool, level)
        if fitted is None:
            continue
        meta = fitted.meta.model_copy(update={"pool": TEMPLATE_MODEL_KEY})
        save_artefact(cache, Artefact(meta=meta, fitted=fitted.fitted))
        kept.append(level)
    return kept


def spec_for(setup: WorldSetup, now: dt.datetime) -> WorldSpec:
    """The demo-world spec a scenario's world is copied from."""
    extra = {"cities": tuple(setup.cities)} if setup.cities else {}
    return WorldSpec(
        seed=setup.seed,
        stores=setup.stores,
        styles=setup.styles,
        now=now,
        history_days=setup.history_days,
        **extra,
    )


def template_for(setup: WorldSetup, now: dt.datetime) -> Path:
    """The cached template file for a world spec (built on first use by the demo world)."""
    return Path(world_template(spec_for(setup, now)))


def deep_merge(
    base: dict[str, Any], tweaks: dict[str, Any], *, path: str = "policy"
) -> dict[str, Any]:
    """``tweaks`` over ``base``; a key the base does not know is an error, not a silent no-op."""
    merged = dict(base)
    for key, value in tweaks.items():
        where = f"{path}.{key}"
        if key not in base:
            raise WorldSetupError(f"{where}: unknown policy key; known: {sorted(base)}")
        if isinstance(value, dict) and isinstance(base[key], dict):
            merged[key] = deep_merge(base[key], value, path=where)
        else:
            merged[key] = value
    return merged


def write_policy(tweaks: dict[str, Any], directory: Path, base_file: Path | None) -> Path | None:
    """The scenario's policy file (shipped policy + tweaks), or None to use the shipped one."""
    if not tweaks:
        return base_file
    from agents.policy.model import DEFAULT_POLICY_FILE, load_policy

    source = base_file or DEFAULT_POLICY_FILE
    merged = deep_merge(yaml.safe_load(source.read_text(encoding="utf-8")), tweaks)
    target = directory / "policy.yaml"
    target.write_text(yaml.safe_dump(merged, sort_keys=False), encoding="utf-8")
    load_policy(target)  # fail here, naming the field, rather than mid-run
    return target


def _selected_positions(session: Session, match: StockSelector) -> list[StockPosition]:
    query = (
        select(StockPosition)
        .join(Location, Location.code == StockPosition.location_code)
        .join(Sku, Sku.code == StockPosition.sku_code)
        .join(Style, Style.code == Sku.style_code)
    )
    if match.location:
        query = query.where(StockPosition.location_code == match.location)
    if match.sku:
        query = query.where(StockPosition.sku_code == match.sku)
    if match.style:
        query = query.where(Sku.style_code == match.style)
    if match.category:
        query = query.where(Style.category == match.category)
    if match.city:
        query = query.where(Location.city == match.city)
    if match.location_kind:
        query = query.where(Location.kind == match.location_kind)
    return list(session.exec(query.order_by(StockPosition.id)))


def _apply_stock(session: Session, index: int, override: StockOverride, at: dt.datetime) -> int:
    positions = _selected_positions(session, override.match)
    if not positions:
        wanted = override.match.model_dump(exclude_none=True)
        raise WorldSetupError(f"world.stock[{index}].match: no stock position matches {wanted}")
    changed = 0
    for pos in positions:
        if override.set_on_hand is not None:
            target = override.set_on_hand
        elif override.scale is not None:
            target = int(pos.on_hand * override.scale)
        else:
            target = pos.on_hand + (override.add or 0)
        # Never take stock below what is reserved: that would be an oversell, not a scenario.
        target = max(target, pos.reserved)
        delta = target - pos.on_hand
        if delta:
            movements.adjust(
                session,
                pos.location_code,
                pos.sku_code,
                delta,
                reason=f"eval scenario override #{index}",
                actor=EVAL_ACTOR,
                at=at,
            )
            changed += 1
    return changed


def _apply_in_transit(
    session: Session, index: int, move: InTransitOverride, at: dt.datetime
) -> None:
    ref = f"eval-in-transit-{index}"
    try:
        movements.reserve(
            session,
            move.source,
            move.sku,
            move.qty,
            ref=ref,
            idempotency_key=f"{ref}:reserve",
            actor=EVAL_ACTOR,
            at=at,
        )
        movements.dispatch_transfer(
            session,
            move.source,
            move.dest,
            move.sku,
            move.qty,
            ref=ref,
            idempotency_key=f"{ref}:dispatch",
            actor=EVAL_ACTOR,
            at=at,
        )
    except movements.MovementRefused as exc:
        raise WorldSetupError(f"world.in_transit[{index}]: {exc}") from exc


def set_clock(engine: Engine, now: dt.datetime) -> None:
    """Move the world's clock, which the agents' runtime reads (``inventory.clock``)."""
    set_world_clock(engine, now)


def _clear_directory(directory: Path, keep: set[str]) -> None:
    for entry in directory.iterdir():
        if entry.name in keep:
            continue
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def build_world(
    scenario: Scenario,
    workdir: Path,
    base: Settings | None = None,
    postgres: PostgresWorlds | None = None,
    *,
    keep: bool = False,
) -> World:
    """A fresh copy of the template for ``scenario`` with its overrides applied: a SQLite file
    in the trial's directory, or with ``postgres`` a private PostgreSQL database (dropped when
    the world is disposed, unless ``keep``).

    Trials on the same template reuse one directory (wiped first, fitted forecasters kept): the
    pool's URL is part of the forecaster's cache key, so a stable path lets the second trial load
    the model the first one fitted, as the service would. Trials run one at a time.
    """
    base = base or get_settings()
    template = template_for(scenario.world, scenario.clock)
    directory = workdir / template.stem
    directory.mkdir(parents=True, exist_ok=True)
    _clear_directory(directory, keep={"models"})
    release: Callable[[], None] | None = None
    if postgres is None:
        pool = directory / "pool.sqlite"
        copy_world(template, pool)
        url = f"sqlite:///{pool}"
    else:
        url = postgres.new_pool(template)
        shown = sa.engine.make_url(url).render_as_string(hide_password=True)
        (directory / "pool.url").write_text(shown + "\n", encoding="utf-8")  # for --keep-worlds
        if not keep:
            release = lambda: postgres.drop(url)  # noqa: E731
    engine = make_engine(url)
    try:
        set_clock(engine, scenario.clock)
        with session_scope(engine) as session:
            for index, override in enumerate(scenario.world.stock):
                _apply_stock(session, index, override, scenario.clock)
            for index, move in enumerate(scenario.world.in_transit):
                _apply_in_transit(session, index, move, scenario.clock)
        policy_file = write_policy(scenario.world.policy, directory, base.policy_file)
        settings = base.model_copy(
            # Evals run on the world's clock (moved by the runner), whatever the caller's setting.
            update={
                "database_url": url,
                "data_dir": directory,
                "policy_file": policy_file,
                "clock": "world",
            }
        )
        world = World(
            engine=engine,
            settings=settings,
            directory=directory,
            now=scenario.clock,
            template=template,
            release=release,
        )
        seed_forecast_models(world)
    except BaseException:
        engine.dispose()
        if release is not None:
            release()
        raise
    return world
