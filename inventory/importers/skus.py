"""Import the catalogue: styles (with their ordered size runs) and SKUs, from one row per SKU."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from sqlmodel import Session, select

from inventory.importers.csv_rows import Parsed, read_rows
from inventory.importers.errors import ImportRejected, ImportReport, RowError
from inventory.importers.rows import SkuRow
from inventory.models import Sku, Style
from inventory.vocabulary import Vocabulary, load_vocabulary

#: Columns that describe the style and so must agree on every SKU of that style.
STYLE_COLUMNS = (
    "category",
    "style_name_en",
    "style_name_zh",
    "season",
    "season_end",
    "price",
    "cost",
    "rain_sensitive",
)


def _error(file: str, parsed: Parsed[SkuRow], column: str, reason: str) -> RowError:
    value = getattr(parsed.row, column)
    return RowError(
        file=file,
        line=parsed.line,
        column=column,
        value=None if value is None else str(value),
        reason=reason,
    )


def _check(file: str, rows: list[Parsed[SkuRow]], skus: dict[str, Sku]) -> list[RowError]:
    errors: list[RowError] = []
    sku_line: dict[str, int] = {}
    variant_line: dict[tuple[str, str, str], int] = {}
    style_first: dict[str, Parsed[SkuRow]] = {}
    known_variants = {(s.style_code, s.colour, s.size): s.code for s in skus.values()}
    for parsed in rows:
        row = parsed.row
        variant = (row.style, row.colour, row.size)
        if row.sku in sku_line:
            errors.append(
                _error(file, parsed, "sku", f"duplicate SKU, first on line {sku_line[row.sku]}")
            )
        elif variant in variant_line:
            errors.append(
                _error(
                    file,
                    parsed,
                    "size",
                    f"{row.style} {row.colour} {row.size} is already on line "
                    f"{variant_line[variant]}",
                )
            )
        sku_line.setdefault(row.sku, parsed.line)
        variant_line.setdefault(variant, parsed.line)
        first = style_first.setdefault(row.style, parsed)
        for column in STYLE_COLUMNS:
            if getattr(row, column) != getattr(first.row, column):
                errors.append(
                    _error(
                        file,
                        parsed,
                        column,
                        f"style {row.style} has {getattr(first.row, column)!r} "
                        f"on line {first.line}",
                    )
                )
        known = skus.get(row.sku)
        if known is not None and (known.style_code, known.colour, known.size) != variant:
            errors.append(
                _error(
                    file,
                    parsed,
                    "sku",
                    f"already in the pool as {known.style_code} {known.colour} {known.size}; "
                    "a SKU's style, colour and size cannot change",
                )
            )
        elif known is None and known_variants.get(variant) not in (None, row.sku):
            errors.append(
                _error(
                    file,
                    parsed,
                    "sku",
                    f"{row.style} {row.colour} {row.size} is already SKU {known_variants[variant]}",
                )
            )
    return errors


def _size_run(existing: Style | None, rows: list[SkuRow]) -> tuple[list[str], list[str]]:
    """Known sizes keep their positions; new ones follow in file order."""
    run = list(existing.size_run) if existing else []
    core = set(existing.core_sizes) if existing else set()
    for row in rows:
        if row.size not in run:
            run.append(row.size)
        if row.core_size:
            core.add(row.size)
    return run, [size for size in run if size in core]


def _style(
    existing: Style | None, row: SkuRow, run: list[str], core: list[str], terms: Vocabulary
) -> Style:
    values = {
        "code": row.style,
        "name_en": row.style_name_en,
        "name_zh": row.style_name_zh,
        "category": row.category,
        "season": row.season,
        "season_end": row.season_end.isoformat() if row.season_end else None,
        "price": row.price,
        "cost": row.cost,
        "size_run": run,
        "core_sizes": core,
        "rain_sensitive": (
            row.rain_sensitive
            if row.rain_sensitive is not None
            else terms.categories[row.category].rain_sensitive
        ),
    }
    if existing is None:
        return Style(**values)
    existing.sqlmodel_update(values)
    return existing


def import_skus(session: Session, path: Path) -> ImportReport:
    """Validate ``path`` whole, then upsert its styles and SKUs in the caller's transaction."""
    terms = load_vocabulary(session)
    parsed_file = read_rows(path, SkuRow, {"vocabulary": terms})
    rows = parsed_file.rows
    styles = {style.code: style for style in session.exec(select(Style)).all()}
    skus = {sku.code: sku for sku in session.exec(select(Sku)).all()}
    errors = parsed_file.errors + _check(path.name, rows, skus)
    if errors:
        raise ImportRejected(path.name, errors)

    by_style: dict[str, list[SkuRow]] = defaultdict(list)
    for parsed in rows:
        by_style[parsed.row.style].append(parsed.row)
    report = ImportReport(kind="skus", file=path.name, rows=len(rows))
    for style_code, style_rows in by_style.items():
        run, core = _size_run(styles.get(style_code), style_rows)
        session.add(_style(styles.get(style_code), style_rows[0], run, core, terms))
    session.flush()
    for style_code, style_rows in by_style.items():
        run = session.get(Style, style_code).size_run  # type: ignore[union-attr]
        for row in style_rows:
            values = {
                "code": row.sku,
                "style_code": row.style,
                "colour": row.colour,
                "size": row.size,
                "size_index": run.index(row.size),
            }
            known = skus.get(row.sku)
            if known is None:
                session.add(Sku(**values))
                report.inserted += 1
            elif known.size_index != values["size_index"]:
                known.size_index = run.index(row.size)
                report.updated += 1
            else:
                report.unchanged += 1
    session.flush()
    return report
