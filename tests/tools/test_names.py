"""Names → codes in English and Chinese, and errors that tell a model what to do next."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tools.context import ToolContext, ToolError
from tools.names import NameResolver
from tools.registry import TOOLS


@pytest.fixture
def names(any_module_world: Engine):
    with Session(any_module_world) as session:
        yield NameResolver(session)


@pytest.mark.parametrize(
    ("kind", "typed", "code"),
    [
        ("city", "Shanghai", "Shanghai"),
        ("city", "上海", "Shanghai"),
        ("city", "上海市", "Shanghai"),
        ("city", " guangzhou ", "Guangzhou"),
        ("region", "华东", "East"),
        ("location", "Shanghai flagship 01", "SHA-S01"),
        ("location", "上海旗舰店01", "SHA-S01"),
        ("location", "sha-s01", "SHA-S01"),
        ("category", "rain boots", "rain_boots"),
        ("category", "Rain Boot", "rain_boots"),
        ("category", "雨靴", "rain_boots"),
        ("category", "raincoat", "rain_jackets"),
        ("style", "rb001", "RB001"),
        ("style", "Rain Boots 001", "RB001"),
        ("sku", "rb001-blk-38", "RB001-BLK-38"),
    ],
)
def test_names_resolve_to_codes(names: NameResolver, kind: str, typed: str, code: str) -> None:
    assert getattr(names, kind)(typed) == code


def test_an_invented_store_code_gets_did_you_mean_and_a_next_step(names: NameResolver) -> None:
    with pytest.raises(ToolError) as info:
        names.location("SH-S01")
    message = str(info.value)
    assert "did you mean SHA-S01" in message
    assert "list_locations(city=...)" in message


def test_an_invented_sku_lists_real_skus_of_its_style(names: NameResolver) -> None:
    with pytest.raises(ToolError) as info:
        names.sku("RB001-RAIN-BOOTS")
    message = str(info.value)
    assert "RB001-BLK-" in message and "style='RB001'" in message


def test_a_city_given_as_location_names_its_locations(names: NameResolver) -> None:
    with pytest.raises(ToolError, match=r"is a city, not a location; its locations are .*SHA-S01"):
        names.location("上海")


def test_a_misspelt_city_suggests_the_close_one(names: NameResolver) -> None:
    with pytest.raises(ToolError, match="did you mean Shanghai"):
        names.city("Shanghia")


def _ctx(engine: Engine) -> ToolContext:
    return ToolContext.for_world(engine)


def test_list_locations_gives_cities_in_both_languages(any_module_world: Engine) -> None:
    out = TOOLS["list_locations"].run(_ctx(any_module_world), {})
    shanghai = next(c for c in out.cities if c.city == "Shanghai")
    assert (shanghai.city_zh, shanghai.region, shanghai.region_zh) == ("上海", "East", "华东")
    assert shanghai.stores == 3 and shanghai.dcs == 1
    assert "SHA-S01" in out.code_format or "-S01" in out.code_format


def test_list_locations_of_a_city_by_its_chinese_name(any_module_world: Engine) -> None:
    out = TOOLS["list_locations"].run(_ctx(any_module_world), {"city": "上海", "kind": "store"})
    assert [loc.code for loc in out.locations] == ["SHA-S01", "SHA-S02", "SHA-S03"]


def test_list_catalog_gives_categories_then_styles(any_module_world: Engine) -> None:
    ctx = _ctx(any_module_world)
    categories = TOOLS["list_catalog"].run(ctx, {}).categories
    rain_boots = next(c for c in categories if c.category == "rain_boots")
    assert rain_boots.category_zh == "雨靴" and rain_boots.rain_sensitive
    styles = TOOLS["list_catalog"].run(ctx, {"category": "雨靴"}).styles
    assert {s.code for s in styles} == {"RB001", "RB002"}
    rb001 = next(s for s in styles if s.code == "RB001")
    assert "38" in rb001.sizes and rb001.example_sku.startswith("RB001-")


def test_an_unknown_category_says_how_to_find_the_real_ones(any_module_world: Engine) -> None:
    with pytest.raises(ToolError, match="list_catalog"):
        TOOLS["list_catalog"].run(_ctx(any_module_world), {"category": "wellies and more"})
