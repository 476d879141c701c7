"""CSV importers for the pool: a file is validated whole and written in one transaction, or
rejected whole with row-level errors (file, line, column, reason) and nothing written.

Import order: cities and categories (the vocabulary), locations, lanes and entitlements, skus,
then stock, sales, weather and promo plans (they refer to the rest). The columns of each
file are documented on the row models in ``inventory.importers.rows`` and in docs/importers.md.
"""

from __future__ import annotations

import datetime as dt
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
from inventory.importers.promo_plans import import_promo_plans
from inventory.importers.sales import import_sales
from inventory.importers.skus import import_skus
from inventory.importers.stock import import_stock
from inventory.importers.weather import import_weather

__all__ = [
    "DATED_KINDS",
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
    "import_promo_plans",
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
    PROMO_PLANS = "promo_plans"


#: Kinds whose dates may be moved as a block at import (``shift_to``).
DATED_KINDS = frozenset({ImportKind.SALES, ImportKind.WEATHER})


def _importer(
    kind: ImportKind, actor: str, shift_to: dt.date | None
) -> Callable[[Session, Path], ImportReport]:
    if shift_to is not None and kind not in DATED_KINDS:
        raise ValueError(f"only {', '.join(sorted(DATED_KINDS))} files can have dates shifted")
    if kind is ImportKind.STOCK:
        return lambda session, path: import_stock(session, path, actor=actor)
    if kind is ImportKind.SALES:
        return lambda session, path: import_sales(session, path, shift_to=shift_to)
    if kind is ImportKind.WEATHER:
        return lambda session, path: import_weather(session, path, shift_to=shift_to)
    return {
        ImportKind.CITIES: import_cities,
        ImportKind.CATEGORIES: import_categories,
        ImportKind.LOCATIONS: import_locations,
        ImportKind.LANES: import_lanes,
        ImportKind.ENTITLEMENTS: import_entitlements,
        ImportKind.SKUS: import_skus,
        ImportKind.PROMO_PLANS: import_promo_plans,
    }[kind]


def import_file(
    engine: Engine,
    kind: ImportKind | str,
    path: Path,
    *,
    actor: str = "import",
    shift_to: dt.date | None = None,
) -> ImportReport:
    """Import ``path`` as ``kind`` in one transaction.

    ``shift_to`` (sales and weather only) moves every date of the file by the same number of
    days so that its last date becomes ``shift_to``: old history (an example, a replay) can then
    end yesterday on the wall clock. Import sales and weather with the same ``shift_to`` from
    files that end on the same day, so each day's sales stay next to that day's rain.

    Raises:
        ImportRejected: the file had errors; nothing was written.
        ValueError: ``shift_to`` was given for a kind without dates.
    """
    importer = _importer(ImportKind(kind), actor, shift_to)
    with session_scope(engine) as session:
        return importer(session, Path(path))
