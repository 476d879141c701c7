"""Import observed daily weather per city; a re-imported (city, date) replaces the stored day.

The forecaster learns each category's rain uplift from these days next to the sales history,
so they should cover the same dates. Hourly weather is not imported (nothing reads it yet).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlmodel import Session, col, select

from inventory.importers.csv_rows import read_rows
from inventory.importers.errors import ImportRejected, ImportReport
from inventory.importers.references import duplicate_keys, shift_dates
from inventory.importers.rows import WeatherRow
from inventory.models import WeatherDaily
from inventory.upsert import dialect_insert
from inventory.vocabulary import load_vocabulary, rain_band

BATCH_ROWS = 2_000
_VALUES = (
    "precipitation_mm",
    "max_hourly_mm",
    "temp_mean_c",
    "temp_min_c",
    "temp_max_c",
    "rain_band",
    "hours_observed",
)


def import_weather(
    session: Session, path: Path, *, shift_to: dt.date | None = None
) -> ImportReport:
    """Validate ``path`` whole, then upsert its days in batches in the caller's transaction;
    ``shift_to`` moves the file's dates so the last one falls on it (``shift_dates``)."""
    parsed_file = read_rows(path, WeatherRow, {"vocabulary": load_vocabulary(session)})
    rows = shift_dates(parsed_file.rows, shift_to)
    file = path.name
    errors = parsed_file.errors
    errors += duplicate_keys(file, rows, lambda r: (r.city, r.date.isoformat()), "day")
    if errors:
        raise ImportRejected(file, errors)

    keys = {(p.row.city, p.row.date) for p in rows}
    stored = session.exec(
        select(WeatherDaily.city, WeatherDaily.date).where(
            col(WeatherDaily.city).in_({k[0] for k in keys}),
            col(WeatherDaily.date) >= min(k[1] for k in keys),
            col(WeatherDaily.date) <= max(k[1] for k in keys),
        )
    )
    replaced = sum(1 for key in stored if tuple(key) in keys)
    table = WeatherDaily.__table__  # type: ignore[attr-defined]
    insert = dialect_insert(session, table)
    stmt = insert.on_conflict_do_update(
        index_elements=["city", "date"], set_={name: insert.excluded[name] for name in _VALUES}
    )
    for start in range(0, len(rows), BATCH_ROWS):
        session.execute(
            stmt,
            [
                {
                    "city": p.row.city,
                    "date": p.row.date,
                    "precipitation_mm": p.row.precipitation_mm,
                    "max_hourly_mm": (
                        p.row.max_hourly_mm if p.row.max_hourly_mm is not None else 0.0
                    ),
                    "temp_mean_c": p.row.temp_mean_c,
                    "temp_min_c": p.row.temp_min_c,
                    "temp_max_c": p.row.temp_max_c,
                    "rain_band": str(rain_band(p.row.precipitation_mm)),
                    "hours_observed": 24,
                }
                for p in rows[start : start + BATCH_ROWS]
            ],
        )
    return ImportReport(
        kind="weather", file=file, rows=len(rows), inserted=len(rows) - replaced, updated=replaced
    )
