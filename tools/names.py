"""Names → codes, in English or Chinese, for every place a person or a model types one.

"上海", "shanghai", "Shanghai flagship 01", "rain boots", "雨靴", "rb001-blk-38" all resolve to the
pool's codes; a near miss raises a ToolError that names the candidates and the next step (which
tool lists the codes), so a model can correct itself instead of giving up. Everything is read from
the pool: locations, styles and SKUs, and its vocabulary's Chinese labels and category synonyms.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import cached_property

from sqlmodel import Session, col, select

from inventory.models import Location, Sku, Style
from inventory.vocabulary import load_vocabulary
from tools.context import ToolError
from tools.stock_lookup.vocabulary import known_codes

#: English words people use for a category, beyond its own name ("rain boots" → rain_boots).
CATEGORY_SYNONYMS: dict[str, str] = {
    "rainboot": "rain_boots",
    "wellington": "rain_boots",
    "welly": "rain_boots",
    "raincoat": "rain_jackets",
    "poncho": "rain_jackets",
    "overshoe": "shoe_covers",
    "t-shirt": "tshirts",
    "tee": "tshirts",
    "trainer": "sneakers",
    "sweatshirt": "hoodies",
    "雨鞋": "rain_boots",
    "水鞋": "rain_boots",
    "雨伞": "umbrellas",
    "伞": "umbrellas",
    "雨披": "rain_jackets",
}


def labels(session: Session) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Chinese labels of cities, regions and categories, from the pool's vocabulary."""
    pool = load_vocabulary(session)
    return (
        {code: term.name_zh for code, term in pool.cities.items()},
        {code: term.name_zh for code, term in pool.regions.items()},
        {code: term.name_zh for code, term in pool.categories.items()},
    )


def category_synonyms(session: Session) -> dict[str, str]:
    """Words for categories beyond their names: the pool's own synonyms, and ours."""
    words = dict(CATEGORY_SYNONYMS)
    for code, term in load_vocabulary(session).categories.items():
        words.update({word: code for word in term.synonyms})
    return words


def norm(text: str) -> str:
    """Case, spaces, underscores, hyphens and a trailing plural 's' do not matter."""
    cleaned = re.sub(r"[\s_\-]+", " ", text.strip().casefold()).strip()
    cleaned = re.sub(r"(市|省|店铺)$", "", cleaned)
    return cleaned[:-1] if cleaned.endswith("s") and len(cleaned) > 3 else cleaned


@dataclass(frozen=True)
class Place:
    code: str
    kind: str
    name_en: str
    name_zh: str
    city: str
    region: str
    tier: str


class NameResolver:
    """Resolves names against one pool (read through ``session``)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # -- the vocabulary, read once per resolver ------------------------------------------------

    @cached_property
    def places(self) -> list[Place]:
        rows = self.session.exec(select(Location).order_by(col(Location.code))).all()
        return [Place(r.code, r.kind, r.name_en, r.name_zh, r.city, r.region, r.tier) for r in rows]

    @cached_property
    def cities(self) -> dict[str, str]:
        """City → region: the vocabulary's cities and every city with a store or DC."""
        known = dict(load_vocabulary(self.session).city_region)
        known.update({p.city: p.region for p in self.places if p.kind != "online"})
        return known

    @cached_property
    def styles(self) -> list[Style]:
        return list(self.session.exec(select(Style).order_by(col(Style.code))).all())

    @cached_property
    def categories(self) -> list[str]:
        return sorted({s.category for s in self.styles})

    @cached_property
    def labels(self) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
        return labels(self.session)

    # -- resolvers -----------------------------------------------------------------------------

    def city(self, text: str) -> str:
        city_zh = self.labels[0]
        table = {norm(c): c for c in self.cities} | {
            norm(city_zh.get(c, c)): c for c in self.cities
        }
        hit = table.get(norm(text))
        if hit:
            return hit
        names = [f"{c} ({city_zh.get(c, c)})" for c in sorted(self.cities)]
        raise _unknown("city", text, table, names, "call list_locations() to see every city")

    def region(self, text: str) -> str:
        region_zh = self.labels[1]
        regions = sorted(set(self.cities.values()))
        table = {norm(r): r for r in regions} | {norm(region_zh.get(r, r)): r for r in regions}
        if hit := table.get(norm(text)):
            return hit
        if norm(text) in {norm(c) for c in self.cities} | {
            norm(self.labels[0].get(c, "")) for c in self.cities
        }:
            raise ToolError(
                f"{text!r} is a city, not a region; pass it as city instead", field="region"
            )
        names = [f"{r} ({region_zh.get(r, r)})" for r in regions]
        raise _unknown("region", text, table, names, "call list_locations() to see every region")

    def location(self, text: str) -> str:
        table: dict[str, str] = {}
        for place in self.places:
            for name in (place.code, place.name_en, place.name_zh):
                table[norm(name)] = place.code
        if hit := table.get(norm(text)):
            return hit
        try:  # a city where a location was wanted: say which codes that city has
            city = self.city(text)
        except ToolError:
            city = None
        if city:
            codes = [p.code for p in self.places if p.city == city]
            raise ToolError(
                f"{text!r} is a city, not a location; its locations are {', '.join(codes)}. "
                f"Pass city={city!r} to cover all of them, or one of these codes",
                field="location",
                value=text,
            )
        labelled = {p.code: f"{p.code} ({p.name_en})" for p in self.places}
        raise _unknown(
            "location",
            text,
            table,
            list(labelled.values()),
            "call list_locations(city=...) to see the store and DC codes of a city",
            label=labelled,
        )

    def category(self, text: str) -> str:
        category_zh = self.labels[2]
        table = {norm(c): c for c in self.categories}
        table |= {norm(category_zh.get(c, c)): c for c in self.categories}
        synonyms = category_synonyms(self.session)
        table |= {norm(w): c for w, c in synonyms.items() if c in self.categories}
        if hit := table.get(norm(text)):
            return hit
        names = [f"{c} ({category_zh.get(c, c)})" for c in self.categories]
        raise _unknown("category", text, table, names, "call list_catalog() to see them")

    def style(self, text: str) -> str:
        table: dict[str, str] = {}
        for style in self.styles:
            for name in (style.code, style.name_en, style.name_zh):
                table[norm(name)] = style.code
        if hit := table.get(norm(text)):
            return hit
        labelled = {s.code: f"{s.code} ({s.name_en})" for s in self.styles}
        raise _unknown(
            "style",
            text,
            table,
            [],
            "call list_catalog(category=...) to see the style codes of a category",
            label=labelled,
        )

    def sku(self, text: str) -> str:
        cleaned = text.strip().upper()
        for fresh in (False, True):
            codes = known_codes(self.session, col(Sku.code), fresh=fresh)
            if cleaned in codes:
                return cleaned
        style_code = cleaned.split("-", 1)[0]
        of_style = sorted(c for c in codes if c.split("-", 1)[0] == style_code)
        close = difflib.get_close_matches(cleaned, sorted(codes), n=5, cutoff=0.75)
        candidates = list(dict.fromkeys(close + of_style[:5]))[:6]
        hint = f"did you mean {', '.join(candidates)}?" if candidates else "no close match."
        if of_style:
            hint += f" To cover every SKU of style {style_code}, pass style={style_code!r}."
        raise ToolError(
            f"unknown sku {text!r}; {hint} SKU codes are STYLE-COLOUR-SIZE, e.g. "
            f"{self.example_sku()}. Next: call list_catalog(category=...) for style codes, then "
            "stock_lookup(style=...) to see their SKUs",
            field="sku",
            value=text,
        )

    def example_sku(self) -> str:
        codes = known_codes(self.session, col(Sku.code))
        return min(codes) if codes else "RB001-BLK-38"


def _unknown(
    field: str,
    text: str,
    table: dict[str, str],
    known: list[str],
    next_step: str,
    label: dict[str, str] | None = None,
) -> ToolError:
    close = difflib.get_close_matches(norm(text), list(table), n=5, cutoff=0.6)
    codes = list(dict.fromkeys(table[c] for c in close))
    if codes:
        shown = [label.get(c, c) if label else c for c in codes]
        hint = f"did you mean {', '.join(shown)}?"
    elif known and len(known) <= 20:
        hint = f"known values: {', '.join(known)}."
    else:
        hint = "no close match."
    return ToolError(f"unknown {field} {text!r}; {hint} Next: {next_step}", field=field, value=text)
