"""CMA rain bands, and the pool's vocabulary: cities, regions and categories read from rows."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from inventory.db import session_scope
from inventory.demo_world.vocabulary import demo_terms
from inventory.models import Category, City, Region
from inventory.vocabulary import (
    RainBand,
    UnknownTerm,
    load_vocabulary,
    rain_band,
    touch_vocabulary,
    vocabulary_of,
)


@pytest.mark.parametrize(
    ("mm", "band"),
    [
        (0.0, RainBand.NONE),
        (0.09, RainBand.NONE),
        (0.1, RainBand.LIGHT),
        (9.9, RainBand.LIGHT),
        (10.0, RainBand.MODERATE),
        (24.9, RainBand.MODERATE),
        (25.0, RainBand.HEAVY),
        (49.9, RainBand.HEAVY),
        (50.0, RainBand.RAINSTORM),
        (250.0, RainBand.RAINSTORM),
    ],
)
def test_rain_band_edges(mm: float, band: RainBand) -> None:
    assert rain_band(mm) is band


@pytest.fixture
def demo_terms_engine(engine: Engine) -> Engine:
    regions, cities, categories = demo_terms()
    with session_scope(engine) as session:
        session.add_all(regions)
        session.flush()
        session.add_all([*cities, *categories])
    return engine


@pytest.mark.parametrize("name", ["Shanghai", "shanghai", " SHANGHAI ", "上海"])
def test_resolve_city_accepts_english_and_chinese(demo_terms_engine: Engine, name: str) -> None:
    assert vocabulary_of(demo_terms_engine).resolve_city(name) == "Shanghai"


def test_unknown_city_names_the_known_ones(demo_terms_engine: Engine) -> None:
    with pytest.raises(UnknownTerm, match=r"unknown city 'Atlantis'.*Shanghai"):
        vocabulary_of(demo_terms_engine).resolve_city("Atlantis")


def test_an_empty_pool_knows_no_city(engine: Engine) -> None:
    with pytest.raises(UnknownTerm, match="known cities: none"):
        vocabulary_of(engine).resolve_city("Shanghai")


def test_a_new_city_and_category_are_known_once_written(demo_terms_engine: Engine) -> None:
    """The cache is per engine but never stale: a city or category added by any writer is seen
    at the next load, and a changed rain flag is seen after the writer touches the stamp."""
    before = vocabulary_of(demo_terms_engine)
    assert "ski_jackets" not in before.categories
    with session_scope(demo_terms_engine) as session:
        session.add(Region(code="EastCoast", name_en="East coast", name_zh="东部沿海"))
        session.flush()
        session.add(
            City(
                code="Hangzhou",
                name_en="Hangzhou",
                name_zh="杭州",
                region="EastCoast",
                lat=30.27,
                lon=120.16,
            )
        )
        session.add(
            Category(
                code="ski_jackets",
                name_en="ski jackets",
                name_zh="滑雪服",
                synonyms=["ski coat"],
                rain_sensitive=False,
            )
        )
    after = vocabulary_of(demo_terms_engine)
    assert after.resolve_city("杭州") == "Hangzhou"
    assert after.cities["Hangzhou"].region == "EastCoast"
    assert after.cities["Hangzhou"].weather_key == "Hangzhou"
    assert after.resolve_category("Ski Coat") == "ski_jackets"
    assert after.resolve_category("滑雪服") == "ski_jackets"
    assert "ski_jackets" not in after.rain_categories

    with session_scope(demo_terms_engine) as session:
        session.get(Category, "ski_jackets").rain_sensitive = True  # type: ignore[union-attr]
        touch_vocabulary(session)
    assert "ski_jackets" in vocabulary_of(demo_terms_engine).rain_categories


def test_demo_rain_categories_come_from_rows(demo_terms_engine: Engine) -> None:
    with Session(demo_terms_engine) as session:
        terms = load_vocabulary(session)
    assert terms.rain_categories == {
        "rain_boots",
        "waterproof_shoes",
        "shoe_covers",
        "umbrellas",
        "rain_jackets",
    }
    assert terms.resolve_category("雨鞋") == "rain_boots"
    assert terms.resolve_region("华东") == "East"
