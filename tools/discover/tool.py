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

#: The example codes our tool descriptions are written with; ``pool_examples`` maps each to a
#: code of the same kind that exists in the pool at hand.
DOC_EXAMPLES = {"store": "SHA-S01", "dc": "DC-SHA", "sku": "RB001-BLK-38", "style": "RB001"}


def pool_examples(names: NameResolver) -> dict[str, str]:
    """A real store, DC, SKU and style of this pool (rain-sensitive ones where there are)."""
    store = next((p.code for p in names.places if p.kind == "store"), DOC_EXAMPLES["store"])
    dc = next((p.code for p in names.places if p.kind == "dc"), DOC_EXAMPLES["dc"])
    styles = [s for s in names.styles if s.rain_sensitive] or names.styles
    style = styles[0].code if styles else DOC_EXAMPLES["style"]
    skus = sorted(
        names.session.exec(select(Sku.code).where(Sku.style_code == style)).all(),
        key=lambda code: (len(code), code),
    )
    sku = skus[len(skus) // 2] if skus else DOC_EXAMPLES["sku"]
    return {"store": store, "dc": dc, "sku": sku, "style": style}


def location_code_format(names: NameResolver) -> str:
    """How location codes look, with codes taken from this pool."""
    ex = pool_examples(names)
    online = next((p.code for p in names.places if p.kind == "online"), "ONLINE")
    return f"store {ex['store']} (city code + S + number), DC {ex['dc']}, online pool {online}"


def sku_code_format(names: NameResolver) -> str:
    ex = pool_examples(names)
    return f"SKU STYLE-COLOUR-SIZE, e.g. {ex['sku']}; style code e.g. {ex['style']}"


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
