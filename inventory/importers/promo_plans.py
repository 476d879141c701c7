"""Import the retailer's promotion plans; a re-imported (style, location, start) replaces the plan.

The forecast reads the plans made before its clock for the horizon's days
(``tools.forecast_demand.pool_panel.planned_promo_depth``).
"""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, col, delete, select

from inventory.importers.csv_rows import read_rows
from inventory.importers.errors import ImportRejected, ImportReport
from inventory.importers.references import duplicate_keys, unknown_references
from inventory.importers.rows import PromoPlanRow
from inventory.models import PromoPlan


def import_promo_plans(session: Session, path: Path) -> ImportReport:
    """Validate ``path`` whole, then replace the plans it names in the caller's transaction."""
    parsed_file = read_rows(path, PromoPlanRow)
    rows = parsed_file.rows
    file = path.name
    errors = parsed_file.errors + unknown_references(file, session, rows, ("style", "location"))
    errors += duplicate_keys(file, rows, lambda r: (r.style, r.location, r.start), "plan")
    if errors:
        raise ImportRejected(file, errors)
    replaced = 0
    for parsed in rows:
        row = parsed.row
        same = (
            (col(PromoPlan.style_code) == row.style)
            & (col(PromoPlan.start) == row.start)
            & (
                col(PromoPlan.location_code).is_(None)
                if row.location is None
                else col(PromoPlan.location_code) == row.location
            )
        )
        replaced += len(session.exec(select(PromoPlan.id).where(same)).all())
        session.exec(delete(PromoPlan).where(same))  # type: ignore[call-overload]
        session.add(
            PromoPlan(
                style_code=row.style,
                location_code=row.location,
                start=row.start,
                end=row.end,
                depth=row.depth,
                planned_at=row.planned_at,
            )
        )
    return ImportReport(
        kind="promo_plans",
        file=file,
        rows=len(rows),
        inserted=len(rows) - replaced,
        updated=replaced,
    )
