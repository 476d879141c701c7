"""Import lanes (lead time, cost) and channel entitlements between known locations."""

from __future__ import annotations

import math
from pathlib import Path

from sqlmodel import Session, col, select

from inventory.importers.csv_rows import Parsed, read_rows
from inventory.importers.errors import ImportRejected, ImportReport, RowError
from inventory.importers.references import duplicate_keys
from inventory.importers.rows import EntitlementRow, LaneRow
from inventory.models import ChannelEntitlement, Lane, Location


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Distance over the earth's surface, for lanes imported without one."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def _unknown_locations(
    file: str, rows: list[Parsed], columns: tuple[str, ...], known: set[str]
) -> list[RowError]:
    return [
        RowError(
            file=file,
            line=parsed.line,
            column=column,
            value=getattr(parsed.row, column),
            reason="unknown location; import locations first",
        )
        for parsed in rows
        for column in columns
        if getattr(parsed.row, column) not in known
    ]


def import_lanes(session: Session, path: Path) -> ImportReport:
    """Validate ``path`` whole, then upsert its lanes by (source, dest)."""
    parsed_file = read_rows(path, LaneRow)
    rows = parsed_file.rows
    locations = {loc.code: loc for loc in session.exec(select(Location)).all()}
    errors = parsed_file.errors
    errors += _unknown_locations(path.name, rows, ("source", "dest"), set(locations))
    errors += duplicate_keys(path.name, rows, lambda r: (r.source, r.dest), "lane")
    if errors:
        raise ImportRejected(path.name, errors)

    existing = {(lane.source_code, lane.dest_code): lane for lane in session.exec(select(Lane))}
    report = ImportReport(kind="lanes", file=path.name, rows=len(rows))
    for parsed in rows:
        row = parsed.row
        source, dest = locations[row.source], locations[row.dest]
        values = {
            "source_code": row.source,
            "dest_code": row.dest,
            "lead_time_hours": row.lead_time_hours,
            "cost_per_unit": row.cost_per_unit,
            "cost_per_shipment": row.cost_per_shipment,
            "distance_km": (
                row.distance_km
                if row.distance_km is not None
                else round(great_circle_km(source.lat, source.lon, dest.lat, dest.lon), 1)
            ),
        }
        lane = existing.get((row.source, row.dest))
        if lane is None:
            session.add(Lane(**values))
            report.inserted += 1
            continue
        before = lane.model_dump()
        lane.sqlmodel_update(values)
        changed = lane.model_dump() != before
        report.updated += changed
        report.unchanged += not changed
    session.flush()
    return report


def import_entitlements(session: Session, path: Path) -> ImportReport:
    """Validate ``path`` whole, then upsert its entitlements by (location, channel)."""
    parsed_file = read_rows(path, EntitlementRow)
    rows = parsed_file.rows
    known = set(session.exec(select(col(Location.code))).all())
    errors = parsed_file.errors + _unknown_locations(path.name, rows, ("location",), known)
    errors += duplicate_keys(path.name, rows, lambda r: (r.location, str(r.channel)), "channel")
    if errors:
        raise ImportRejected(path.name, errors)
    existing = {(e.location_code, e.channel): e for e in session.exec(select(ChannelEntitlement))}
    report = ImportReport(kind="entitlements", file=path.name, rows=len(rows))
    for parsed in rows:
        row = parsed.row
        entitlement = existing.get((row.location, str(row.channel)))
        if entitlement is None:
            session.add(
                ChannelEntitlement(
                    location_code=row.location, channel=str(row.channel), allowed=row.allowed
                )
            )
            report.inserted += 1
        elif entitlement.allowed != row.allowed:
            entitlement.allowed = row.allowed
            report.updated += 1
        else:
            report.unchanged += 1
    session.flush()
    return report
