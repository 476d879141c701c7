"""Import the retailer's vocabulary: cities (with their regions) and categories.

They are what locations, the catalogue and weather rows refer to, so they come first. Known
codes are updated in place; every import bumps the pool's vocabulary stamp so running services
reload it (``inventory.vocabulary.touch_vocabulary``).
"""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select

from inventory.importers.csv_rows import Parsed, read_rows
from inventory.importers.errors import ImportRejected, ImportReport, RowError
from inventory.importers.references import duplicate_keys
from inventory.importers.rows import CategoryRow, CityRow
from inventory.models import Category, City, Region
from inventory.vocabulary import touch_vocabulary


def _upsert(session: Session, model: type, key: str, values: dict, report: ImportReport) -> None:
    existing = session.get(model, key)
    if existing is None:
        session.add(model(**values))
        report.inserted += 1
        return
    before = existing.model_dump()
    existing.sqlmodel_update(values)
    changed = existing.model_dump() != before
    report.updated += changed
    report.unchanged += not changed


def _unknown_regions(
    file: str, rows: list[Parsed[CityRow]], known: set[str]
) -> tuple[list[RowError], dict[str, str]]:
    """Regions to create (code → Chinese name) and errors for regions nobody defines."""
    new: dict[str, str] = {}
    for parsed in rows:
        if parsed.row.region not in known and parsed.row.region_name_zh:
            new.setdefault(parsed.row.region, parsed.row.region_name_zh)
    errors = [
        RowError(
            file=file,
            line=parsed.line,
            column="region",
            value=parsed.row.region,
            reason="unknown region; give region_name_zh to create it"
            + (f" (known: {', '.join(sorted(known))})" if known else ""),
        )
        for parsed in rows
        if parsed.row.region not in known and parsed.row.region not in new
    ]
    return errors, new


def import_cities(session: Session, path: Path) -> ImportReport:
    """Validate ``path`` whole, then upsert its cities (and any new regions they name)."""
    parsed_file = read_rows(path, CityRow)
    rows = parsed_file.rows
    known_regions = set(session.exec(select(Region.code)).all())
    errors = parsed_file.errors + duplicate_keys(path.name, rows, lambda r: r.code, "city")
    region_errors, new_regions = _unknown_regions(path.name, rows, known_regions)
    errors += region_errors
    if errors:
        raise ImportRejected(path.name, errors)

    report = ImportReport(kind="cities", file=path.name, rows=len(rows))
    for code, name_zh in new_regions.items():
        session.add(Region(code=code, name_en=code, name_zh=name_zh))
    session.flush()
    for parsed in rows:
        row = parsed.row
        values = row.model_dump(exclude={"region_name_zh"})
        values["weather_key"] = row.weather_key or row.code
        _upsert(session, City, row.code, values, report)
    touch_vocabulary(session)
    session.flush()
    return report


def import_categories(session: Session, path: Path) -> ImportReport:
    """Validate ``path`` whole, then upsert its categories."""
    parsed_file = read_rows(path, CategoryRow)
    rows = parsed_file.rows
    errors = parsed_file.errors + duplicate_keys(path.name, rows, lambda r: r.code, "category")
    if errors:
        raise ImportRejected(path.name, errors)
    report = ImportReport(kind="categories", file=path.name, rows=len(rows))
    for parsed in rows:
        _upsert(session, Category, parsed.row.code, parsed.row.model_dump(), report)
    touch_vocabulary(session)
    session.flush()
    return report
