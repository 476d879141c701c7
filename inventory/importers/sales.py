"""Import daily sales history; a re-imported (location, SKU, date) replaces the stored day."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlmodel import Session, col, select

from inventory.importers.csv_rows import Parsed, read_rows
from inventory.importers.errors import ImportRejected, ImportReport
from inventory.importers.references import duplicate_keys, shift_dates, unknown_codes
from inventory.importers.rows import SalesRow
from inventory.models import DailySales
from inventory.upsert import dialect_insert

BATCH_ROWS = 2_000


def import_sales(session: Session, path: Path, *, shift_to: dt.date | None = None) -> ImportReport:
    """Validate ``path`` whole, then upsert its days in batches in the caller's transaction;
    ``shift_to`` moves the file's dates so the last one falls on it (``shift_dates``)."""
    parsed_file = read_rows(path, SalesRow)
    rows = shift_dates(parsed_file.rows, shift_to)
    file = path.name
    errors = parsed_file.errors + unknown_codes(file, session, rows)
    errors += duplicate_keys(file, rows, lambda r: (r.location, r.sku, r.date.isoformat()), "day")
    if errors:
        raise ImportRejected(file, errors)

    table = DailySales.__table__  # type: ignore[attr-defined]
    insert = dialect_insert(session, table)
    stmt = insert.on_conflict_do_update(
        index_elements=["location_code", "sku_code", "date"],
        set_={name: insert.excluded[name] for name in ("units", "price", "promo", "stockout")},
    )
    replaced = _already_stored(session, rows)
    for start in range(0, len(rows), BATCH_ROWS):
        batch = rows[start : start + BATCH_ROWS]
        session.execute(
            stmt,
            [
                {
                    "location_code": p.row.location,
                    "sku_code": p.row.sku,
                    "date": p.row.date,
                    "units": p.row.units,
                    "price": p.row.price,
                    "promo": p.row.promo,
                    "stockout": p.row.stockout,
                }
                for p in batch
            ],
        )
    return ImportReport(
        kind="sales", file=file, rows=len(rows), inserted=len(rows) - replaced, updated=replaced
    )


def _already_stored(session: Session, rows: list[Parsed[SalesRow]]) -> int:
    """How many of the file's days the pool already holds (they will be replaced)."""
    keys = {(p.row.location, p.row.sku, p.row.date) for p in rows}
    first, last = min(k[2] for k in keys), max(k[2] for k in keys)
    stmt = select(DailySales.location_code, DailySales.sku_code, DailySales.date).where(
        col(DailySales.location_code).in_({k[0] for k in keys}),
        col(DailySales.date) >= first,
        col(DailySales.date) <= last,
    )
    return sum(1 for key in session.exec(stmt) if tuple(key) in keys)
