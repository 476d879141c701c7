"""CSV importers for the pool: a file is validated whole and written in one transaction, or
rejected whole with row-level errors (file, line, column, reason) and nothing written.

Import order: cities and categories (the vocabulary), locations, lanes and entitlements, skus,
then stock, sales and weather (they refer to the rest). The columns of each
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
from inventory.importers.lanes import import_entitlements, import_lanes
from inventory.importers.locations import import_locations
from inventory.importers.network import import_categories, import_cities
from inventory.importers.sales import import_sales
from inventory.importers.skus import import_skus
from inventory.importers.stock import import_stock
from inventory.importers.weather import import_weather

__all__ = [
    "ImportKind",
    "ImportRejected",
    "ImportReport",
    "RowError",
    "import_categories",
    "import_cities",
    "import_entitlements",
    "import_file",
    "import_lanes",
    "import_locations",
    "import_sales",
    "import_skus",
    "import_stock",
    "import_weather",
]


class ImportKind(StrEnum):
    """What a file holds, in the order to import them."""

    CITIES = "cities"
    CATEGORIES = "categories"
    LOCATIONS = "locations"
    LANES = "lanes"
    ENTITLEMENTS = "entitlements"
    SKUS = "skus"
    STOCK = "stock"
    SALES = "sales"
    WEATHER = "weather"


def _importer(kind: ImportKind, actor: str) -> Callable[[Session, Path], ImportReport]:
    if kind is ImportKind.STOCK:
        return lambda session, path: import_stock(session, path, actor=actor)
    return {
        ImportKind.CITIES: import_cities,
        ImportKind.CATEGORIES: import_categories,
        ImportKind.LOCATIONS: import_locations,
        ImportKind.LANES: import_lanes,
        ImportKind.ENTITLEMENTS: import_entitlements,
        ImportKind.SKUS: import_skus,
        ImportKind.SALES: import_sales,
        ImportKind.WEATHER: import_weather,
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
