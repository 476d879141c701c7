"""Import counted stock: each position's difference is booked through inventory.movements."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select

from inventory import movements
from inventory.importers.csv_rows import read_rows
from inventory.importers.errors import ImportRejected, ImportReport, RowError
from inventory.importers.references import duplicate_keys, unknown_codes
from inventory.importers.rows import StockRow
from inventory.models import StockPosition


def import_stock(session: Session, path: Path, *, actor: str = "import") -> ImportReport:
    """Validate ``path`` whole, then move each position to its counted level.

    A count below what is reserved at a position is refused by ``inventory.movements``; those
    refusals are reported as row errors and the whole file is rejected (the caller rolls back).
    """
    parsed_file = read_rows(path, StockRow)
    rows = parsed_file.rows
    file = path.name
    errors = parsed_file.errors + unknown_codes(file, session, rows)
    errors += duplicate_keys(file, rows, lambda r: (r.location, r.sku), "position")
    if errors:
        raise ImportRejected(file, errors)

    # Lock what the file changes, in (location, SKU) order, before reading the levels the
    # deltas are computed from: no deadlock with orders, no change slipping in between.
    movements.lock_positions(session, [(p.row.location, p.row.sku) for p in rows])
    positions = {
        (level.location_code, level.sku_code): level
        for level in session.exec(
            select(
                StockPosition.location_code,
                StockPosition.sku_code,
                StockPosition.on_hand,
                StockPosition.safety,
                StockPosition.min_display,
            )
        )
    }
    report = ImportReport(kind="stock", file=file, rows=len(rows))
    for parsed in rows:
        row = parsed.row
        position = positions.get((row.location, row.sku))
        reason = f"stock import {file}:{parsed.line}"
        booked = 0
        try:
            delta = row.on_hand - (position.on_hand if position else 0)
            if delta:
                movements.adjust(session, row.location, row.sku, delta, reason=reason, actor=actor)
                booked += 1
            levels_change = (row.safety is not None or row.min_display is not None) and (
                position is None
                or (row.safety is not None and row.safety != position.safety)
                or (row.min_display is not None and row.min_display != position.min_display)
            )
            if levels_change:
                movements.set_safety(
                    session,
                    row.location,
                    row.sku,
                    safety=row.safety
                    if row.safety is not None
                    else (position.safety if position else 0),
                    min_display=row.min_display,
                    reason=reason,
                    actor=actor,
                )
                booked += 1
        except movements.MovementRefused as refused:
            errors.append(
                RowError(
                    file=file,
                    line=parsed.line,
                    column="on_hand",
                    value=str(row.on_hand),
                    reason=str(refused),
                )
            )
            continue
        report.movements += booked
        if not booked:
            report.unchanged += 1
        elif position is None:
            report.inserted += 1
        else:
            report.updated += 1
    if errors:
        raise ImportRejected(file, errors)
    return report
