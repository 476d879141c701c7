"""CSV importers for the pool: a file is validated whole and written in one transaction, or
rejected whole with row-level errors (file, line, column, reason) and nothing written.

Import order: locations, skus, then stock and sales (they refer to both). The columns of each
file are documented on the row models in ``inventory.importers.rows`` and in docs/importers.md.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from inventory.db import session_scope
from inventory.importers.errors import ImportRejected, ImportReport, RowError
from inventory.importers.locations import import_locations
from inventory.importers.sales import import_sales
from inventory.importers.skus import import_skus
from inventory.importers.stock import import_stock

__all__ = [
    "ImportKind",
    "ImportRejected",
    "ImportReport",
    "RowError",
    "import_file",
    "import_locations",
    "import_sales",
    "import_skus",
    "import_stock",
]


class ImportKind(StrEnum):
    LOCATIONS = "locations"
    SKUS = "skus"
    STOCK = "stock"
    SALES = "sales"


def _importer(kind: ImportKind, actor: str) -> Callable[[Session, Path], ImportReport]:
    if kind is ImportKind.STOCK:
        return lambda session, path: import_stock(session, path, actor=actor)
    return {
        ImportKind.LOCATIONS: import_locations,
        ImportKind.SKUS: import_skus,
        ImportKind.SALES: import_sales,
    }[kind]


def import_file(
    engine: Engine, kind: ImportKind | str, path: Path, *, actor: str = "import"
) -> ImportReport:
    """Import ``path`` as ``kind`` in one transaction.

    Raises:
        ImportRejected: the file had errors; nothing was written.
    """
    importer = _importer(ImportKind(kind), actor)
    with session_scope(engine) as session:
        return importer(session, Path(path))
