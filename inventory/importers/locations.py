"""Import locations: create new ones, update known ones by code."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select

from inventory.importers.csv_rows import Parsed, read_rows
from inventory.importers.errors import ImportRejected, ImportReport, RowError
from inventory.importers.rows import LocationRow
from inventory.models import Location, LocationKind
from inventory.vocabulary import load_vocabulary


def _check(file: str, rows: list[Parsed[LocationRow]], known_dcs: set[str]) -> list[RowError]:
    errors: list[RowError] = []
    first_line: dict[str, int] = {}
    for parsed in rows:
        code = parsed.row.code
        if code in first_line:
            errors.append(
                RowError(
                    file=file,
                    line=parsed.line,
                    column="code",
                    value=code,
                    reason=f"duplicate location, first on line {first_line[code]}",
                )
            )
        first_line.setdefault(code, parsed.line)
    dcs = known_dcs | {p.row.code for p in rows if p.row.kind == LocationKind.DC}
    for parsed in rows:
        serving = parsed.row.serving_dc
        if serving is not None and serving not in dcs:
            errors.append(
                RowError(
                    file=file,
                    line=parsed.line,
                    column="serving_dc",
                    value=serving,
                    reason="not a DC in this file or in the pool",
                )
            )
    return errors


def import_locations(session: Session, path: Path) -> ImportReport:
    """Validate ``path`` whole, then upsert its locations in the caller's transaction."""
    parsed_file = read_rows(path, LocationRow, {"vocabulary": load_vocabulary(session)})
    rows = parsed_file.rows
    existing = {loc.code: loc for loc in session.exec(select(Location)).all()}
    known_dcs = {code for code, loc in existing.items() if loc.kind == LocationKind.DC}
    errors = parsed_file.errors + _check(path.name, rows, known_dcs)
    if errors:
        raise ImportRejected(path.name, errors)

    report = ImportReport(kind="locations", file=path.name, rows=len(rows))
    # Serving DCs are linked in a second pass: a store may come before its DC in the file.
    for parsed in rows:
        values = parsed.row.model_dump(mode="json", exclude={"serving_dc"})
        location = existing.get(parsed.row.code)
        if location is None:
            session.add(Location(**values))
            report.inserted += 1
            continue
        before = location.model_dump()
        location.sqlmodel_update(values)
        changed = location.model_dump() != before or location.serving_dc != parsed.row.serving_dc
        report.updated += changed
        report.unchanged += not changed
    session.flush()
    for parsed in rows:
        location = session.get(Location, parsed.row.code)
        if location is not None and location.serving_dc != parsed.row.serving_dc:
            location.serving_dc = parsed.row.serving_dc
    session.flush()
    return report
