"""list_locations / list_catalog: the pool's places and catalogue, so codes need not be guessed.

Both read the pool (locations, styles, SKUs) through ``tools.names``, which also resolves the
names a model passes in ("上海", "rain boots").
"""

from __future__ import annotations

from collections import defaultdict

from sqlmodel import col, select

from inventory.models import Sku
from tools.context import ToolContext
from tools.discover.models import (
    CategoryView,
    CityView,
    ListCatalogInput,
    ListCatalogOutput,
    ListLocationsInput,
    ListLocationsOutput,
    LocationView,
    StyleView,
)
from tools.names import NameResolver


def location_code_format(names: NameResolver) -> str:
    """How location codes look, with codes taken from this pool."""
    store = next((p.code for p in names.places if p.kind == "store"), "SHA-S01")
    dc = next((p.code for p in names.places if p.kind == "dc"), "DC-SHA")
    online = next((p.code for p in names.places if p.kind == "online"), "ONLINE")
    return f"store {store} (city code + S + number), DC {dc}, online pool {online}"


def sku_code_format(names: NameResolver) -> str:
    return f"SKU STYLE-COLOUR-SIZE, e.g. {names.example_sku()}; style code e.g. " + (
        names.styles[0].code if names.styles else "RB001"
    )


def list_locations(ctx: ToolContext, request: ListLocationsInput) -> ListLocationsOutput:
    """Cities when no filter is given; otherwise the locations of the city/region/kind."""
    with ctx.read() as session:
        names = NameResolver(session)
        city_zh, region_zh, _ = names.labels
        fmt = location_code_format(names)
        if request.city is None and request.region is None and request.kind is None:
            counts: dict[str, dict[str, int]] = defaultdict(lambda: {"store": 0, "dc": 0})
            for place in names.places:
                if place.kind in ("store", "dc"):
                    counts[place.city][place.kind] += 1
            return ListLocationsOutput(
                code_format=fmt,
                cities=[
                    CityView(
                        city=city,
                        city_zh=city_zh.get(city, city),
                        region=region,
                        region_zh=region_zh.get(region, region),
                        stores=counts[city]["store"],
                        dcs=counts[city]["dc"],
                    )
                    for city, region in sorted(names.cities.items())
                ],
            )
        city = names.city(request.city) if request.city else None
        region = names.region(request.region) if request.region else None
        return ListLocationsOutput(
            code_format=fmt,
            locations=[
                LocationView(
                    code=p.code,
                    kind=p.kind,
                    name_en=p.name_en,
                    name_zh=p.name_zh,
                    city=p.city,
                    tier=p.tier,
                )
                for p in names.places
                if (city is None or p.city == city)
                and (region is None or p.region == region)
                and (request.kind is None or p.kind == request.kind)
            ],
        )


def list_catalog(ctx: ToolContext, request: ListCatalogInput) -> ListCatalogOutput:
    """Categories when none is given; otherwise the styles of that category."""
    with ctx.read() as session:
        names = NameResolver(session)
        category_zh = names.labels[2]
        fmt = sku_code_format(names)
        if request.category is None:
            styles_per: dict[str, int] = defaultdict(int)
            rain: dict[str, bool] = {}
            for style in names.styles:
                styles_per[style.category] += 1
                rain[style.category] = rain.get(style.category, False) or style.rain_sensitive
            return ListCatalogOutput(
                code_format=fmt,
                categories=[
                    CategoryView(
                        category=c,
                        category_zh=category_zh.get(c, c),
                        rain_sensitive=rain[c],
                        styles=styles_per[c],
                    )
                    for c in names.categories
                ],
            )
        category = names.category(request.category)
        styles = [s for s in names.styles if s.category == category]
        skus = session.exec(
            select(Sku).where(col(Sku.style_code).in_([s.code for s in styles]))
        ).all()
        by_style: dict[str, list[Sku]] = defaultdict(list)
        for sku in skus:
            by_style[sku.style_code].append(sku)
        return ListCatalogOutput(
            code_format=fmt,
            styles=[
                StyleView(
                    code=s.code,
                    name_en=s.name_en,
                    name_zh=s.name_zh,
                    price=s.price,
                    colours=sorted({k.colour for k in by_style[s.code]}),
                    sizes=list(s.size_run),
                    example_sku=min((k.code for k in by_style[s.code]), default=""),
                )
                for s in styles
            ],
        )
