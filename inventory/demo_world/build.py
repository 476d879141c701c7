"""build_world: generate a seeded world and write it into a migrated, empty pool."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Engine

from inventory.demo_world.generate import GeneratedWorld, generate_world
from inventory.demo_world.params import DEFAULT_PARAMETERS, DemandParameters
from inventory.demo_world.positions import position_rows
from inventory.demo_world.spec import WorldSpec, WorldSummary
from inventory.demo_world.writer import bulk_insert, write_history, write_reference
from inventory.models import DailySales, FutureDemand, Location, StockPosition, WorldMeta

SQLITE_BUILD_CACHE_KIB = 256 * 1024

#: Told how far a build has come: the fraction done (0..1) and what it is doing now.
BuildProgress = Callable[[float, str], None]


def _silent(_fraction: float, _message: str) -> None:
    return None


class WorldNotEmptyError(ValueError):
    """build_world writes a new world; it never merges into an existing one."""


def _ensure_empty(engine: Engine) -> None:
    with engine.connect() as conn:
        existing = conn.execute(select(func.count()).select_from(Location.__table__)).scalar_one()
    if existing:
        raise WorldNotEmptyError(
            f"build_world expects an empty pool; {engine.url.render_as_string()} already has "
            f"{existing} locations"
        )


def _meta_rows(world: GeneratedWorld) -> list[dict]:
    cleaning = {city: w.counts.model_dump() for city, w in world.weather.items()}
    return [
        {"key": "clock", "value": {"now": world.spec.now.isoformat()}},
        {
            "key": "world",
            "value": {
                "seed": world.spec.seed,
                "spec": world.spec.model_dump(mode="json"),
                "parameters": world.params.model_dump(mode="json"),
                "weather_cleaning": cleaning,
                "hourly_weather_window": [world.dates[0].isoformat(), world.dates[-1].isoformat()],
                "sparse_sales": "daily_sales holds units > 0 or stock-out days; a carried SKU "
                "(one with a stock_position) without a row sold 0 and was in stock",
            },
        },
    ]


def database_size(engine: Engine) -> int | None:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
            size = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
            return int(pages) * int(size)
        if engine.dialect.name == "postgresql":
            return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar())
    return None


def build_world(
    engine: Engine,
    spec: WorldSpec | None = None,
    *,
    params: DemandParameters = DEFAULT_PARAMETERS,
    weather_dir: Path | None = None,
    progress: BuildProgress | None = None,
) -> WorldSummary:
    """Generate the world of ``spec`` and write it in one transaction.

    Raises:
        WorldNotEmptyError: the pool already holds locations.
        ValueError: the spec's dates fall outside the real weather record.
    """
    spec = spec or WorldSpec()
    report = progress or _silent
    _ensure_empty(engine)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    report(0.02, f"generating {spec.stores} stores × {spec.styles} styles from the real rain")
    world = generate_world(spec, params, weather_dir)
    seconds["generate"] = round(time.perf_counter() - started, 2)
    report(0.2, f"writing the network, catalogue and {spec.history_days} days of history")

    mark = time.perf_counter()
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            # The date index takes random inserts; a page cache that holds it halves the write.
            conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_BUILD_CACHE_KIB}")
        counts = write_reference(conn, world)
        counts["stock_position"] = bulk_insert(conn, StockPosition.__table__, position_rows(world))
        report(0.3, "writing weather history")
        # The history's date indexes take random inserts: built once after the rows are in (a
        # sort) instead of row by row, the SQLite write of the default world costs ~1/3 less.
        deferred = [*DailySales.__table__.indexes, *FutureDemand.__table__.indexes]
        for index in deferred:
            index.drop(conn)
        counts.update(
            write_history(
                conn,
                world,
                lambda done, total: report(
                    0.3 + 0.6 * done / max(total, 1),
                    f"writing sales history: {done:,} of {total:,} rows",
                ),
            )
        )
        report(0.9, "indexing the history")
        for index in deferred:
            index.create(conn)
        report(0.95, "committing")
        conn.execute(insert(WorldMeta.__table__), _meta_rows(world))
        counts["world_meta"] = 2
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA cache_size=-2000")  # back to SQLite's default
    seconds["write"] = round(time.perf_counter() - mark, 2)
    seconds["total"] = round(time.perf_counter() - started, 2)

    histories = world.histories.values()
    series_days = sum(h.series_days for h in histories)
    return WorldSummary(
        database=engine.url.render_as_string(hide_password=True),
        seed=spec.seed,
        now=spec.now,
        counts=counts,
        seconds=seconds,
        size_bytes=database_size(engine),
        demand_units=sum(h.demand_units for h in histories),
        sold_units=sum(h.sold_units for h in histories),
        stockout_rate=round(sum(h.stockout_days for h in histories) / max(series_days, 1), 4),
        in_transit_units=int(sum(int(h.in_transit_in.sum()) for h in histories)),
        weather_cleaning={
            city: {k: v for k, v in w.counts.model_dump().items() if isinstance(v, int)}
            for city, w in world.weather.items()
        },
    )
