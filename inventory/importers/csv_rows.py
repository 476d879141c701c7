"""Read a CSV file into validated pydantic rows, collecting every error instead of stopping.

Blank cells become ``None`` so optional columns may be left empty; cells are trimmed. Files may
carry a UTF-8 byte-order mark (Excel writes one). Unknown columns are refused, because a typo in
a header would otherwise silently drop a column of data.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from inventory.importers.errors import ImportRejected, RowError

RowT = TypeVar("RowT", bound=BaseModel)


@dataclass(frozen=True)
class Parsed(Generic[RowT]):
    """A validated row and the line it came from (for errors found later, e.g. references)."""

    line: int
    row: RowT


def _columns(model: type[BaseModel]) -> tuple[set[str], set[str]]:
    required = {name for name, info in model.model_fields.items() if info.is_required()}
    return required, set(model.model_fields)


def _header_errors(file: str, header: list[str] | None, model: type[BaseModel]) -> list[RowError]:
    required, known = _columns(model)
    if not header:
        return [RowError(file=file, line=1, reason="the file is empty: expected a header row")]
    errors = [
        RowError(
            file=file, line=1, column=name, reason=f"column appears {header.count(name)} times"
        )
        for name in sorted(set(header))
        if header.count(name) > 1
    ]
    errors += [
        RowError(file=file, line=1, column=name, reason="required column is missing")
        for name in sorted(required - set(header))
    ]
    errors += [
        RowError(
            file=file,
            line=1,
            column=name,
            reason=f"unknown column; expected some of: {', '.join(sorted(known))}",
        )
        for name in header
        if name not in known
    ]
    return errors


def _row_errors(
    file: str, line: int, cells: dict[str, str | None], error: ValidationError
) -> list[RowError]:
    found = []
    for problem in error.errors():
        column = str(problem["loc"][0]) if problem["loc"] else None
        value = cells.get(column) if column else None
        reason = problem["msg"].removeprefix("Value error, ")
        found.append(RowError(file=file, line=line, column=column, value=value, reason=reason))
    return found


@dataclass(frozen=True)
class ParsedFile(Generic[RowT]):
    """The rows that validated, and the errors of those that did not."""

    rows: list[Parsed[RowT]]
    errors: list[RowError]


def read_rows(
    path: Path, model: type[RowT], context: dict[str, Any] | None = None
) -> ParsedFile[RowT]:
    """Every row of ``path`` validated by ``model``; row errors are collected, not raised, so
    the importer can add its cross-row and reference errors and report them all at once.
    ``context`` reaches the row validators (the pool's vocabulary, for city and category names).

    Raises:
        ImportRejected: the file cannot be read as a table at all (missing, empty, bad header,
            not UTF-8, malformed CSV).
    """
    file = path.name
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as error:
        raise ImportRejected(
            file, [RowError(file=file, line=0, reason=f"cannot open: {error}")]
        ) from error
    parsed: list[Parsed[RowT]] = []
    errors: list[RowError] = []
    with handle:
        reader = csv.reader(handle)
        try:
            header = [name.strip() for name in next(reader, [])]
            errors += _header_errors(file, header, model)
            if errors:
                raise ImportRejected(file, errors)
            for cells in reader:
                line = reader.line_num
                if not any(cell.strip() for cell in cells):
                    continue
                if len(cells) != len(header):
                    errors.append(
                        RowError(
                            file=file,
                            line=line,
                            reason=f"{len(cells)} cells, the header has {len(header)} columns",
                        )
                    )
                    continue
                values = {
                    name: (cell.strip() or None) for name, cell in zip(header, cells, strict=True)
                }
                try:
                    row = model.model_validate(
                        {k: v for k, v in values.items() if v is not None}, context=context
                    )
                except ValidationError as error:
                    errors += _row_errors(file, line, values, error)
                    continue
                parsed.append(Parsed(line=line, row=row))
        except UnicodeDecodeError as error:
            errors.append(
                RowError(
                    file=file, line=reader.line_num + 1, reason=f"not UTF-8 text: {error.reason}"
                )
            )
        except csv.Error as error:
            errors.append(
                RowError(file=file, line=reader.line_num, reason=f"malformed CSV: {error}")
            )
    if not parsed and not errors:
        errors.append(RowError(file=file, line=2, reason="no data rows"))
    return ParsedFile(rows=parsed, errors=errors)
