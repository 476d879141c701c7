"""Write a generated world with SQLAlchemy Core bulk inserts (executemany), the fast path on
SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from itertools import islice

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Table, insert
from sqlmodel import SQLModel

from inventory.demo_world.generate import GeneratedWorld
from inventory.demo_world.vocabulary import demo_terms
from inventory.models import (
    Category,
    ChannelEntitlement,
    City,
    DailySales,
    FutureDemand,
    Lane,
    Location,
    PromoPlan,
    Region,
    Sku,
    Style,
    WeatherDaily,
    WeatherHourly,
)

CHUNK_ROWS = 20_000
#: The weather records local China time; China has kept UTC+8 without daylight saving since 1992.
CHINA_TZ = dt.timezone(dt.timedelta(hours=8), "CST")


def _chunks(rows: Iterable[dict], size: int) -> Iterator[list[dict]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def bulk_insert(connection: Connection, table: Table, rows: Iterable[dict]) -> int:
    written = 0
    for chunk in _chunks(rows, CHUNK_ROWS):
        connection.execute(insert(table), chunk)
        written += len(chunk)
    return written


def model_rows(objects: Iterable[SQLModel]) -> list[dict]:
    """Every column on every row (executemany compiles from the first row's keys), except an
    unset surrogate ``id`` that the database assigns."""
    rows = []
    for obj in objects:
        row = obj.model_dump()
        if row.get("id", 0) is None:
            del row["id"]
        rows.append(row)
    return rows


def _none_if_nan(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in values]


def weather_daily_rows(world: GeneratedWorld) -> Iterator[dict]:
    """The whole real record of each city (2010–2015), so forecasters may learn from all of it."""
    for weather in world.weather.values():
        daily = weather.daily
        temps = {
            c: _none_if_nan(daily[c].to_numpy(dtype=float))
            for c in ("temp_mean_c", "temp_min_c", "temp_max_c")
        }
        for i, row in enumerate(daily.itertuples(index=False)):
            yield {
                "city": row.city,
                "date": row.date,
                "precipitation_mm": float(row.precipitation_mm),
                "max_hourly_mm": float(row.max_hourly_mm),
                "temp_mean_c": temps["temp_mean_c"][i],
                "temp_min_c": temps["temp_min_c"][i],
                "temp_max_c": temps["temp_max_c"][i],
                "rain_band": row.rain_band,
                "hours_observed": int(row.hours_observed),
            }


def weather_hourly_rows(world: GeneratedWorld) -> Iterator[dict]:
    """Hourly rows only over the world's history and future, to keep the default DB small."""
    start = pd.Timestamp(world.dates[0])
    end = pd.Timestamp(world.dates[-1]) + pd.Timedelta(hours=23)
    for city, weather in world.weather.items():
        hourly = weather.hourly
        window = hourly[(hourly["ts"] >= start) & (hourly["ts"] <= end)]
        precip = _none_if_nan(window["precipitation_mm"].to_numpy(dtype=float))
        temp = _none_if_nan(window["temp_c"].to_numpy(dtype=float))
        humidity = _none_if_nan(window["humidity"].to_numpy(dtype=float))
        for i, (ts, quality) in enumerate(zip(window["ts"], window["quality"], strict=True)):
            yield {
                "city": city,
                "ts": ts.to_pydatetime().replace(tzinfo=CHINA_TZ),
                "precipitation_mm": precip[i],
                "temp_c": temp[i],
                "humidity": humidity[i],
                "quality": quality,
            }


def promo_plan_rows(world: GeneratedWorld) -> Iterator[dict]:
    """Every promo of the world's calendar (history and future) as the retailer's plan: one row
    per style and run of days at one depth, every location, planned ``promo_plan_lead_days``
    before its first day (local midnight). The forecast reads the plans made before its clock."""
    lead = dt.timedelta(days=world.params.promo_plan_lead_days)
    for style, discount in zip(world.catalog.styles, world.discount, strict=True):
        day = 0
        while day < len(discount):
            depth = float(discount[day])
            if depth <= 0:
                day += 1
                continue
            last = day
            while last + 1 < len(discount) and discount[last + 1] == depth:
                last += 1
            start = world.dates[day]
            yield {
                "style_code": style.code,
                "location_code": None,
                "start": start,
                "end": world.dates[last],
                "depth": depth,
                "planned_at": dt.datetime.combine(start - lead, dt.time(), tzinfo=CHINA_TZ),
            }
            day = last + 1


SALES_COLUMNS = ("location_code", "sku_code", "date", "units", "price", "promo", "stockout")
FUTURE_COLUMNS = ("location_code", "sku_code", "date", "units")


def bulk_insert_tuples(
    connection: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: Iterable[tuple],
    on_rows: Callable[[int], None] | None = None,
) -> int:
    """Load the millions of history rows the fastest way each backend offers, in the same
    connection and transaction as the rest of the world.

    Core's per-row parameter processing doubled the SQLite write of the default world, and
    executemany reached only ~13k rows/s on PostgreSQL (133 s for the default world), so SQLite
    gets a driver executemany of plain tuples (values already in the form SQLAlchemy stores:
    ISO dates) and PostgreSQL gets COPY.
    """
    if connection.dialect.name == "postgresql":
        return _copy_rows(connection, table, columns, rows, on_rows)
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join(['?'] * len(columns))})"
    )
    written = 0
    iterator = iter(rows)
    while chunk := list(islice(iterator, CHUNK_ROWS)):
        connection.exec_driver_sql(sql, chunk)
        written += len(chunk)
        if on_rows is not None:
            on_rows(written)
    return written


def _copy_rows(
    connection: Connection,
    table: Table,
    columns: tuple[str, ...],
    rows: Iterable[tuple],
    on_rows: Callable[[int], None] | None = None,
) -> int:
    written = 0
    driver = connection.connection.driver_connection
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
            written += 1
            if on_rows is not None and written % CHUNK_ROWS == 0:
                on_rows(written)
    return written


def _date_values(connection: Connection, dates: list[dt.date]) -> np.ndarray:
    if connection.dialect.name == "sqlite":
        return np.array([d.isoformat() for d in dates], dtype=object)
    return np.array(dates, dtype=object)


def sales_rows(world: GeneratedWorld, dates: np.ndarray) -> Iterator[tuple]:
    """Observed history in SALES_COLUMNS order: price after outlet and promo discounts."""
    sku_codes = np.array([s.code for s in world.catalog.skus], dtype=object)
    style_price = np.array([s.price for s in world.catalog.styles])
    for code, history in world.histories.items():
        sku = history.sku_index[history.sales_sku]
        style = world.catalog.sku_style[sku]
        discount = world.discount[style, history.sales_day]
        price = np.round(style_price[style] * world.price_factor[code] * (1.0 - discount), 2)
        yield from zip(
            [code] * len(sku),
            sku_codes[sku].tolist(),
            dates[history.sales_day].tolist(),
            history.sales_units.tolist(),
            price.tolist(),
            (discount > 0).tolist(),
            history.sales_stockout.tolist(),
            strict=True,
        )


def future_rows(world: GeneratedWorld, dates: np.ndarray) -> Iterator[tuple]:
    """True demand from now on, in FUTURE_COLUMNS order."""
    sku_codes = np.array([s.code for s in world.catalog.skus], dtype=object)
    future_dates = dates[world.spec.history_days :]
    for code, history in world.histories.items():
        sku = history.sku_index[history.future_sku]
        yield from zip(
            [code] * len(sku),
            sku_codes[sku].tolist(),
            future_dates[history.future_day].tolist(),
            history.future_units.tolist(),
            strict=True,
        )


def write_reference(connection: Connection, world: GeneratedWorld) -> dict[str, int]:
    """The vocabulary (regions, cities, categories), locations (DCs first, for serving_dc),
    lanes, entitlements, styles, SKUs."""
    counts = {}
    regions, cities, categories = demo_terms()
    counts["region"] = bulk_insert(connection, Region.__table__, model_rows(regions))
    counts["city"] = bulk_insert(connection, City.__table__, model_rows(cities))
    counts["category"] = bulk_insert(connection, Category.__table__, model_rows(categories))
    locations = sorted(world.network.locations, key=lambda loc: loc.serving_dc is not None)
    counts["location"] = bulk_insert(connection, Location.__table__, model_rows(locations))
    counts["lane"] = bulk_insert(connection, Lane.__table__, model_rows(world.network.lanes))
    counts["channel_entitlement"] = bulk_insert(
        connection, ChannelEntitlement.__table__, model_rows(world.network.entitlements)
    )
    counts["style"] = bulk_insert(connection, Style.__table__, model_rows(world.catalog.styles))
    counts["sku"] = bulk_insert(connection, Sku.__table__, model_rows(world.catalog.skus))
    return counts


def write_history(
    connection: Connection,
    world: GeneratedWorld,
    on_sales_rows: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """The history tables; ``on_sales_rows(written, total)`` follows the long sales write."""
    dates = _date_values(connection, world.dates)
    total = sum(len(h.sales_units) for h in world.histories.values())

    def sales_progress(written: int) -> None:
        if on_sales_rows is not None:
            on_sales_rows(written, total)

    return {
        "weather_daily": bulk_insert(connection, WeatherDaily.__table__, weather_daily_rows(world)),
        "weather_hourly": bulk_insert(
            connection, WeatherHourly.__table__, weather_hourly_rows(world)
        ),
        "daily_sales": bulk_insert_tuples(
            connection,
            DailySales.__table__,
            SALES_COLUMNS,
            sales_rows(world, dates),
            sales_progress,
        ),
        "promo_plan": bulk_insert(connection, PromoPlan.__table__, promo_plan_rows(world)),
        "future_demand": bulk_insert_tuples(
            connection, FutureDemand.__table__, FUTURE_COLUMNS, future_rows(world, dates)
        ),
    }
