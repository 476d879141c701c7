"""The pool's vocabulary — cities, regions, categories and which of them are rain-sensitive —
loaded from its rows, plus the fixed CMA rain bands (a national standard, not retailer data).

Cities, regions and categories are data (DESIGN §2): the demo world writes its own, a retailer
imports theirs (``stockpilot import cities|categories``; regions come with their cities). Every
module that checks a city or category name asks ``load_vocabulary(session)``; the result is
cached per engine and reloaded when a writer bumps the pool's vocabulary stamp
(``touch_vocabulary``) or the row counts change.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session
from sqlmodel import select as select_rows

from inventory.models import Category, City, Location, Region, WorldMeta


class RainBand(StrEnum):
    """China Meteorological Administration 24-hour precipitation bands."""

    NONE = "none"  # < 0.1 mm
    LIGHT = "light"  # 小雨 0.1–9.9
    MODERATE = "moderate"  # 中雨 10–24.9
    HEAVY = "heavy"  # 大雨 25–49.9
    RAINSTORM = "rainstorm"  # 暴雨 ≥ 50 (大暴雨 ≥ 100, 特大暴雨 ≥ 250 fold in here)


RAIN_BAND_ZH: dict[RainBand, str] = {
    RainBand.NONE: "无雨",
    RainBand.LIGHT: "小雨",
    RainBand.MODERATE: "中雨",
    RainBand.HEAVY: "大雨",
    RainBand.RAINSTORM: "暴雨",
}

#: Lower bound (mm / 24 h) of each band, highest first.
_BAND_FLOORS: tuple[tuple[float, RainBand], ...] = (
    (50.0, RainBand.RAINSTORM),
    (25.0, RainBand.HEAVY),
    (10.0, RainBand.MODERATE),
    (0.1, RainBand.LIGHT),
)

WET_DAY_MM = 10.0


def rain_band(mm_per_day: float) -> RainBand:
    """The CMA band of a day's precipitation."""
    for floor, band in _BAND_FLOORS:
        if mm_per_day >= floor:
            return band
    return RainBand.NONE


class UnknownTerm(ValueError):
    """A city, region or category the pool does not know; the message lists the known ones."""


@dataclass(frozen=True)
class CityTerm:
    code: str
    name_en: str
    name_zh: str
    region: str
    lat: float
    lon: float
    weather_key: str


@dataclass(frozen=True)
class RegionTerm:
    code: str
    name_en: str
    name_zh: str


@dataclass(frozen=True)
class CategoryTerm:
    code: str
    name_en: str
    name_zh: str
    synonyms: tuple[str, ...]
    rain_sensitive: bool

    @property
    def words(self) -> tuple[str, ...]:
        """Every way of writing this category, longest first (for text matching)."""
        words = {self.code, self.code.replace("_", " "), self.name_en, self.name_zh}
        words.update(self.synonyms)
        return tuple(sorted((w for w in words if w), key=lambda w: (-len(w), w)))


def _key(word: str) -> str:
    return " ".join(word.strip().lower().replace("_", " ").split())


@dataclass(frozen=True)
class Vocabulary:
    """The pool's cities, regions and categories with lookups in English and Chinese, and its
    location codes (so the offline planner recognises a retailer's own store codes)."""

    cities: Mapping[str, CityTerm] = field(default_factory=dict)
    regions: Mapping[str, RegionTerm] = field(default_factory=dict)
    categories: Mapping[str, CategoryTerm] = field(default_factory=dict)
    location_codes: frozenset[str] = frozenset()

    @property
    def rain_categories(self) -> frozenset[str]:
        return frozenset(c.code for c in self.categories.values() if c.rain_sensitive)

    @property
    def city_region(self) -> dict[str, str]:
        return {c.code: c.region for c in self.cities.values()}

    def city_zh(self, city: str) -> str:
        term = self.cities.get(city)
        return term.name_zh if term else city

    def region_zh(self, region: str) -> str:
        term = self.regions.get(region)
        return term.name_zh if term else region

    def category_zh(self, category: str) -> str:
        term = self.categories.get(category)
        return term.name_zh if term else category

    def category_en(self, category: str) -> str:
        term = self.categories.get(category)
        return term.name_en if term else category.replace("_", " ")

    def resolve_city(self, name: str) -> str:
        """Accept 'shanghai', 'Shanghai' or '上海'; raise UnknownTerm naming the known cities."""
        wanted = _key(name)
        for term in self.cities.values():
            if wanted in {_key(term.code), _key(term.name_en), _key(term.name_zh)}:
                return term.code
        known = ", ".join(f"{c.code} ({c.name_zh})" for c in self.cities.values()) or "none"
        raise UnknownTerm(f"unknown city {name!r}; known cities: {known}")

    def resolve_region(self, name: str) -> str:
        wanted = _key(name)
        for term in self.regions.values():
            if wanted in {_key(term.code), _key(term.name_en), _key(term.name_zh)}:
                return term.code
        known = ", ".join(f"{r.code} ({r.name_zh})" for r in self.regions.values()) or "none"
        raise UnknownTerm(f"unknown region {name!r}; known regions: {known}")

    def resolve_category(self, name: str) -> str:
        wanted = _key(name)
        for term in self.categories.values():
            if wanted in {_key(w) for w in term.words}:
                return term.code
        known = ", ".join(sorted(self.categories)) or "none"
        raise UnknownTerm(f"unknown category {name!r}; known categories: {known}")


def vocabulary_from_rows(
    regions: Iterable[Region],
    cities: Iterable[City],
    categories: Iterable[Category],
    location_codes: Iterable[str] = (),
) -> Vocabulary:
    """A vocabulary from region, city and category rows (read from a pool or about to be)."""
    return Vocabulary(
        cities={
            c.code: CityTerm(
                code=c.code,
                name_en=c.name_en,
                name_zh=c.name_zh,
                region=c.region,
                lat=c.lat,
                lon=c.lon,
                weather_key=c.weather_key or c.code,
            )
            for c in cities
        },
        regions={
            r.code: RegionTerm(code=r.code, name_en=r.name_en, name_zh=r.name_zh) for r in regions
        },
        categories={
            c.code: CategoryTerm(
                code=c.code,
                name_en=c.name_en,
                name_zh=c.name_zh,
                synonyms=tuple(c.synonyms or ()),
                rain_sensitive=bool(c.rain_sensitive),
            )
            for c in categories
        },
        location_codes=frozenset(location_codes),
    )


def read_vocabulary(session: Session) -> Vocabulary:
    """The vocabulary as the pool holds it now (no cache)."""
    return vocabulary_from_rows(
        session.exec(select_rows(Region).order_by(Region.code)).all(),
        session.exec(select_rows(City).order_by(City.code)).all(),
        session.exec(select_rows(Category).order_by(Category.code)).all(),
        session.exec(select_rows(Location.code)).all(),
    )


STAMP_KEY = "vocabulary"

_cache: weakref.WeakKeyDictionary[Engine, tuple[Any, Vocabulary]] = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def _stamp(session: Session) -> tuple[Any, ...]:
    counts = select(
        select(func.count()).select_from(Region).scalar_subquery(),
        select(func.count()).select_from(City).scalar_subquery(),
        select(func.count()).select_from(Category).scalar_subquery(),
        select(func.count()).select_from(Location).scalar_subquery(),
        select(WorldMeta.value).where(WorldMeta.key == STAMP_KEY).scalar_subquery(),  # type: ignore[arg-type]
    )
    row = session.exec(counts).one()  # type: ignore[call-overload]
    return tuple(str(v) for v in row)


def load_vocabulary(session: Session | Connection) -> Vocabulary:
    """The pool's vocabulary, cached per engine until a writer changes it (one small query)."""
    if isinstance(session, Connection):
        with Session(bind=session) as bound:
            return load_vocabulary(bound)
    stamp = _stamp(session)
    bind = session.get_bind()
    engine = getattr(bind, "engine", bind)
    with _cache_lock:
        cached = _cache.get(engine)  # type: ignore[arg-type]
    if cached is not None and cached[0] == stamp:
        return cached[1]
    vocabulary = read_vocabulary(session)
    with _cache_lock:
        _cache[engine] = (stamp, vocabulary)  # type: ignore[index]
    return vocabulary


def vocabulary_of(engine: Engine) -> Vocabulary:
    """``load_vocabulary`` for callers that hold an engine, not a session."""
    with Session(engine) as session:
        return load_vocabulary(session)


def touch_vocabulary(session: Session) -> None:
    """Mark the vocabulary changed so every process reloads it (call after writing terms)."""
    meta = session.get(WorldMeta, STAMP_KEY)
    version = int(meta.value.get("version", 0)) + 1 if meta is not None else 1
    if meta is None:
        session.add(WorldMeta(key=STAMP_KEY, value={"version": version}))
    else:
        meta.value = {"version": version}
        session.add(meta)
