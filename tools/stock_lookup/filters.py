"""Turn the lookup's free-text filters into known codes, or a ToolError that helps fix them.

An LLM or an ops user types these by hand, so an unknown value is answered with what we do know
(close matches, or the closed vocabulary), never with an empty result that looks like no stock.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement
from sqlmodel import Session, col

from inventory.models import Location, LocationKind, Sku, Style
from inventory.vocabulary import UnknownTerm, load_vocabulary
from tools.context import ToolError, resolve_city
from tools.stock_lookup.models import StockLookupInput
from tools.stock_lookup.vocabulary import known_codes


@dataclass(frozen=True)
class ResolvedFilters:
    """Filters with every value checked against the pool; ``None`` means 'any'."""

    sku: str | None = None
    style: str | None = None
    size: str | None = None
    location: str | None = None
    city: str | None = None
    region: str | None = None
    category: str | None = None
    location_kind: str | None = None


def _unknown(field: str, value: str, known: list[str], *, list_all: bool = False) -> ToolError:
    if list_all:
        hint = f"known values: {', '.join(known)}"
    else:
        close = difflib.get_close_matches(value, known, n=5, cutoff=0.6)
        hint = f"did you mean {', '.join(close)}?" if close else "no close match"
    return ToolError(f"unknown {field} {value!r}; {hint}", field=field, value=value)


def _known_code(session: Session, column: ColumnElement[str], field: str, value: str) -> str:
    """The code as the pool spells it (as typed, else upper-cased), from the cached vocabulary;
    a value not in it re-reads the vocabulary once before it is called unknown."""
    cleaned = value.strip()
    candidates = (cleaned, cleaned.upper())
    for fresh in (False, True):
        codes = known_codes(session, column, fresh=fresh)
        for candidate in candidates:
            if candidate in codes:
                return candidate
    raise _unknown(field, value, sorted(codes))


# City, region and category names are the pool's rows (read only when such a filter is given,
# so a lookup by code stays one round trip); an unknown one is answered with the known ones.


def _city(session: Session, value: str) -> str:
    return resolve_city(session, value)


def _region(session: Session, value: str) -> str:
    terms = load_vocabulary(session)
    try:
        return terms.resolve_region(value)
    except UnknownTerm:
        used = set(terms.city_region.values())
        known = [f"{r.code} ({r.name_zh})" for r in terms.regions.values() if r.code in used]
        raise _unknown("region", value, known, list_all=True) from None


def _category(session: Session, value: str) -> str:
    terms = load_vocabulary(session)
    try:
        return terms.resolve_category(value)
    except UnknownTerm:
        raise _unknown("category", value, list(terms.categories)) from None


def _location_kind(value: str) -> str:
    cleaned = value.strip().lower()
    kinds = [kind.value for kind in LocationKind]
    if cleaned not in kinds:
        raise _unknown("location_kind", value, kinds, list_all=True)
    return cleaned


def _given(value: str | None) -> str | None:
    """Blank strings (an LLM filling every field) mean 'any', not 'the empty code'."""
    return value if value is not None and value.strip() else None


def resolve_filters(session: Session, request: StockLookupInput) -> ResolvedFilters:
    """Check each given filter; raise ToolError naming the first unknown value."""

    def code(value: str | None, column: ColumnElement[str], field: str) -> str | None:
        given = _given(value)
        return None if given is None else _known_code(session, column, field, given)

    def vocab(value: str | None, resolve: Callable[[str], str]) -> str | None:
        given = _given(value)
        return None if given is None else resolve(given)

    return ResolvedFilters(
        sku=code(request.sku, col(Sku.code), "sku"),
        style=code(request.style, col(Style.code), "style"),
        size=code(request.size, col(Sku.size), "size"),
        location=code(request.location, col(Location.code), "location"),
        city=vocab(request.city, lambda value: _city(session, value)),
        region=vocab(request.region, lambda value: _region(session, value)),
        category=vocab(request.category, lambda value: _category(session, value)),
        location_kind=vocab(request.location_kind, _location_kind),
    )
