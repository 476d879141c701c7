"""Checks shared by the position-level imports (stock, sales): known codes, no duplicate keys."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Protocol, TypeVar

from sqlmodel import Session, col, select

from inventory.importers.csv_rows import Parsed
from inventory.importers.errors import RowError
from inventory.models import Location, Sku, Style


class PositionRow(Protocol):
    location: str
    sku: str


RowT = TypeVar("RowT", bound=PositionRow)
AnyRowT = TypeVar("AnyRowT")

#: What each referenced table is called in an error, and which import fills it.
REFERENCES: dict[str, tuple[Any, str]] = {
    "location": (Location, "unknown location; import locations first"),
    "sku": (Sku, "unknown SKU; import skus first"),
    "style": (Style, "unknown style; import skus first"),
}


def unknown_references(
    file: str,
    session: Session,
    rows: list[Parsed[AnyRowT]],
    columns: Sequence[str],
) -> list[RowError]:
    """One error per row and column (a key of ``REFERENCES``, also the row's field) naming a code
    the pool does not have; an empty (None) optional reference is not checked."""
    known = {c: set(session.exec(select(col(REFERENCES[c][0].code))).all()) for c in columns}
    errors = []
    for parsed in rows:
        for column in columns:
            value = getattr(parsed.row, column)
            if value is not None and value not in known[column]:
                errors.append(
                    RowError(
                        file=file,
                        line=parsed.line,
                        column=column,
                        value=value,
                        reason=REFERENCES[column][1],
                    )
                )
    return errors


def unknown_codes(file: str, session: Session, rows: list[Parsed[RowT]]) -> list[RowError]:
    """One error per row that names a location or SKU the pool does not have."""
    return unknown_references(file, session, rows, ("location", "sku"))


def duplicate_keys(
    file: str, rows: list[Parsed[RowT]], key: Callable[[RowT], Hashable], what: str
) -> list[RowError]:
    """One error per row whose key already appeared on an earlier line."""
    first_line: dict[Hashable, int] = {}
    errors = []
    for parsed in rows:
        row_key = key(parsed.row)
        if row_key in first_line:
            errors.append(
                RowError(
                    file=file,
                    line=parsed.line,
                    reason=f"duplicate {what} {row_key}, first on line {first_line[row_key]}",
                )
            )
        first_line.setdefault(row_key, parsed.line)
    return errors


class DatedRow(Protocol):
    date: dt.date


DatedT = TypeVar("DatedT", bound=DatedRow)


def shift_dates(rows: list[Parsed[DatedT]], shift_to: dt.date | None) -> list[Parsed[DatedT]]:
    """The rows with every date moved by one offset so the latest becomes ``shift_to``.

    A block shift keeps each day's sales beside that day's weather (when both files end on the
    same day and get the same ``shift_to``) and the history's length and gaps; weekdays move
    unless the offset is a multiple of seven.
    """
    if shift_to is None or not rows:
        return rows
    offset = shift_to - max(parsed.row.date for parsed in rows)
    return [
        Parsed(line=p.line, row=p.row.model_copy(update={"date": p.row.date + offset}))  # type: ignore[attr-defined]
        for p in rows
    ]
