"""A model's tool arguments with names turned into the pool's codes, before any tool sees them.

Small models write "上海", "Shanghai flagship 01" or "rain boots" where a code is wanted. Every
field that holds a place, category, style or SKU (at any depth: ``shipments[].lines[].sku``) goes
through ``tools.names``; an unknown one stops the call with a ToolError that says what to do next.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection
from typing import Any

from tools.context import ToolError
from tools.names import NameResolver, category_synonyms

#: Argument name → which resolver reads it (lists are resolved item by item).
_FIELDS: dict[str, str] = {
    "city": "city",
    "region": "region",
    "category": "category",
    "categories": "category",
    "location": "location",
    "locations": "location",
    "source": "location",
    "dest": "location",
    "sources": "location",
    "destinations": "location",
    "style": "style",
    "styles": "style",
    "sku": "sku",
    "skus": "sku",
}


def resolve_arguments(
    args: dict[str, Any], names: NameResolver
) -> tuple[dict[str, Any], dict[str, str]]:
    """``args`` with names resolved to codes, and what was resolved (typed → code)."""
    resolved: dict[str, str] = {}

    def one(kind: str, value: Any) -> Any:
        if not isinstance(value, str) or not value.strip():
            return value
        fn: Callable[[str], str] = getattr(names, kind)
        code = fn(value)
        if code != value:
            resolved[value] = code
        return code

    def walk(node: Any, key: str | None) -> Any:
        if isinstance(node, dict):
            return {k: walk(v, k) for k, v in node.items()}
        kind = _FIELDS.get(key or "")
        if isinstance(node, list):
            return [one(kind, v) if kind else walk(v, None) for v in node]
        return one(kind, node) if kind else node

    return walk(args, None), resolved


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and not value)


def _as(fn: Callable[[str], str], value: Any) -> str | None:
    """``fn(value)`` when it resolves, else None (a probe, not an error)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return fn(value)
    except ToolError:
        return None


def _resolves(names: NameResolver, value: str) -> bool:
    """Whether a location the pool has no code for is still a name it reads (a store's name, a
    code in lower case)."""
    return _as(names.location, value) is not None


def tidy_arguments(
    args: dict[str, Any], names: NameResolver, accepted: Collection[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """A read tool's arguments with what small models put beside the point set right, before
    names are resolved, and what was moved (``"style='rain_boots'" → "category='rain_boots'"``).

    Measured with Qwen2.5-Coder-1.5B (``benchmarks/llm_chat.py``): it fills every field of the
    schema -- empty strings, lists and objects included -- writes the category in ``style``, the
    style code in ``skus`` and the city in ``locations`` next to ``city``; the tool then answered
    "unknown sku 'RB001'" and the model gave up. Empty values mean "not given" (the default);
    a value that is clearly another field's moves there when that field is free (or already says
    the same). ``accepted``: the tool's argument names. Proposals are not tidied: what they
    carry must be what the model meant.
    """
    moved: dict[str, str] = {}
    out = {k: v for k, v in args.items() if not _empty(v)}

    def move(src: str, value: Any, dest: str, code: str) -> bool:
        if dest not in accepted or out.get(dest, code) != code:
            return False
        out[dest] = code
        moved[f"{src}={value!r}"] = f"{dest}={code!r}"
        return True

    style = out.get("style")
    category = _as(names.category, style) if _as(names.style, style) is None else None
    if (
        category
        and _as(names.category, out.get("category")) in (None, category)
        and move("style", style, "category", category)
    ):
        del out["style"]
    for key in ("skus", "sku"):
        values = out.get(key)
        items = values if isinstance(values, list) else [values]
        styles = {
            v: code
            for v in items
            if isinstance(v, str) and "-" not in v and (code := _as(names.style, v))
        }
        if len(set(styles.values())) == 1 and move(
            key, values, "style", next(iter(styles.values()))
        ):
            rest = [v for v in items if v not in styles]
            if rest:
                out[key] = rest if isinstance(values, list) else rest[0]
            else:
                del out[key]
    for key in ("locations", "location"):
        values = out.get(key)
        items = values if isinstance(values, list) else [values]
        cities = {
            v: code
            for v in items
            if _as(names.location, v) is None and (code := _as(names.city, v))
        }
        if len(set(cities.values())) != 1:
            continue
        city = next(iter(cities.values()))
        if _as(names.city, out.get("city")) == city:
            out["city"] = city
        if move(key, values, "city", city):
            rest = [v for v in items if v not in cities]
            if rest:
                out[key] = rest if isinstance(values, list) else rest[0]
            else:
                del out[key]
    return out, moved


_STORE_WORDS = ("store", "shop", "门店", "店")


def _mentions(question: str, *names: str) -> bool:
    text = question.casefold()
    for name in names:
        if not name:
            continue
        folded = name.casefold()
        if folded.isascii():
            if re.search(rf"(?<![a-z0-9]){re.escape(folded)}(?![a-z0-9])", text):
                return True
        elif folded in text:
            return True
    return False


def widen_to_city(
    args: dict[str, Any], question: str, names: NameResolver, accepted: Collection[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """A read tool's arguments scoped to the city the question asks about, when the model
    narrowed it to some of that city's locations the question never named, and what changed.

    Measured with Qwen2.5-Coder-1.5B: asked "上海门店还有多少雨靴?" it called
    ``stock_lookup(location="SHA-S01", ...)`` and answered "3" where Shanghai's stores hold 411:
    one store's figure given for a whole city is a wrong answer. Such a call is widened to
    ``city=...`` (with ``location_kind`` = the kind of the locations it named, e.g. store); a
    question about "stores" gets ``location_kind="store"`` when the call left it open. The result
    says so (``resolved_names``), so the model answers for the city and knows why.
    """
    if "city" not in accepted:
        return args, {}
    asked = [
        city for city in names.cities if _mentions(question, city, names.labels[0].get(city, ""))
    ]
    if len(asked) != 1:
        return args, {}
    city = asked[0]
    out, moved = dict(args), {}
    said = out.get("city")
    if isinstance(said, str) and said.strip() and _as(names.city, said) is None:
        # Measured: city="SH" for "How many rain boots are left in Shanghai stores?".
        out["city"] = city
        moved[f"city={said!r}"] = f"city={city!r} (the city the question names)"
    args = out
    by_code = {p.code: p for p in names.places}
    named_in_question = any(_mentions(question, p.code, p.name_en, p.name_zh) for p in names.places)
    for key in ("location", "locations", "destinations"):
        if key == "destinations" and key not in accepted:
            continue
        value = out.get(key)
        items = value if isinstance(value, list) else [value]
        places = [by_code.get(v) for v in items if isinstance(v, str)]
        # A code the pool lacks ("SH-S01") counts as narrowing too: measured, the model wrote
        # plan_transfers(destinations=["SH-S01", "SH-S02"]) for "上海…帮我规划雨靴调拨", was
        # refused, and answered with the refusal.
        invented = [v for v in items if isinstance(v, str) and by_code.get(v) is None]
        if invented and any(_resolves(names, v) for v in invented):
            continue  # a name the resolver reads ("Shanghai flagship 01") is not invented
        if (
            named_in_question
            or not items
            or value in (None, "", [])
            or any(p is not None and p.city != city for p in places)
            or len(places) != len(items)
            or _as(names.city, out.get("city")) not in (None, city)
        ):
            continue
        kinds = {p.kind for p in places if p is not None}
        del out[key]
        out["city"] = city
        change = f"city={city!r} (the question asks about {city}, not only {value!r})"
        if invented:
            change = f"city={city!r} (the question asks about {city}; {invented!r}: no such code)"
        if len(kinds) == 1 and "location_kind" in accepted and not out.get("location_kind"):
            out["location_kind"] = next(iter(kinds))
            change += f", location_kind={out['location_kind']!r}"
        moved[f"{key}={value!r}"] = change
    store_question = any(w in question.casefold() for w in _STORE_WORDS)
    if (
        store_question
        and "location_kind" in accepted
        and not out.get("location_kind")
        and _as(names.city, out.get("city")) == city
        and not any(out.get(k) for k in ("location", "locations"))
    ):
        out["location_kind"] = "store"
        moved["location_kind"] = "'store' (the question asks about stores)"
    return out, moved


#: Arguments that narrow a read tool to some SKUs or styles, and the kind of code each holds.
_ITEM_KEYS = {"sku": "SKU", "skus": "SKU", "style": "style", "styles": "style"}


def _category_words(names: NameResolver) -> dict[str, set[str]]:
    """Each category's names: its code ("rain_boots"), in words ("rain boots", "rain boot"), in
    Chinese (雨靴) and its synonyms ("wellies", 雨鞋)."""
    category_zh = names.labels[2]
    words: dict[str, set[str]] = {c: set() for c in names.categories}
    for code in names.categories:
        spaced = code.replace("_", " ")
        words[code] |= {code, spaced, spaced.rstrip("s"), category_zh.get(code, "")}
    for word, code in category_synonyms(names.session).items():
        if code in words:
            words[code] |= {word, word + "s"}
    return words


def asked_categories(question: str, names: NameResolver) -> list[str]:
    """Categories the question names: by code ("rain_boots"), in words ("rain boots", "rain
    boot"), in Chinese (雨靴) or by a synonym ("wellies", 雨鞋)."""
    words = _category_words(names)
    return [code for code, said in words.items() if _mentions(question, *said)]


def scope_to_category(
    args: dict[str, Any], question: str, names: NameResolver, accepted: Collection[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """A read tool's call that leaves the category open (no category, style or SKU) scoped to
    the one category the question names, and what changed -- as a question about "stores" gets
    ``location_kind="store"`` (``widen_to_city``).

    Measured with Qwen2.5-Coder-1.5B (chat-plan-rain-zh, 2026-12-06 evening): asked
    "上海今天有暴雨75毫米，帮我规划雨靴调拨" it called ``plan_transfers(city="上海", rain=...)``
    with no category -- a plan for every category (235 units of sneakers, sandals, dresses ...) --
    and proposed it; another trial's call matched 198 series and was refused.
    """
    if "category" not in accepted or any(
        not _empty(args.get(k)) for k in ("category", *_ITEM_KEYS)
    ):
        return args, {}
    asked = asked_categories(question, names)
    if len(asked) != 1:
        return args, {}
    return {**args, "category": asked[0]}, {
        "category": f"{asked[0]!r} (the question asks about {asked[0].replace('_', ' ')})"
    }


#: Words that describe weather in a message, once the categories' names ("rain boots", 雨靴,
#: 雨鞋) are taken out of it.
_WEATHER_WORDS = re.compile(
    r"\b(?:rain\w*|storm\w*|typhoon\w*|downpour\w*|showers?|drizzle|wet|weather|"
    r"precipitation|flood\w*)\b|\d\s*mm\b|雨|台风|天气|降水|毫米|洪",
    re.IGNORECASE,
)


def describes_weather(messages: str, names: NameResolver) -> bool:
    """Whether the user's ``messages`` describe weather (rain, a storm, millimetres), not
    counting a category's name ("Forecast demand for rain boots" describes none)."""
    text = messages.casefold()
    said = {w.casefold() for ws in _category_words(names).values() for w in ws if w}
    for word in sorted(said, key=len, reverse=True):
        text = text.replace(word, " ")
    return bool(_WEATHER_WORDS.search(text))


def drop_unasked_weather(
    args: dict[str, Any], messages: str, names: NameResolver, accepted: Collection[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """A read tool's weather override (``rain``) dropped when the user described no weather,
    and what changed: the tool then uses the weather the pool knows (alerts, forecasts,
    climatology), as for any question about demand.

    Measured with Qwen2.5-Coder-1.5B (chat-forecast-en): asked "Forecast demand for rain boots
    in Shanghai for the next 7 days" it called ``forecast_demand`` with ``rain=[{"city":
    "Shanghai", "days": 7, "precipitation_mm_per_day": 1000}]`` -- a rainstorm nobody
    mentioned -- and answered the 80 units that storm implies where the forecast is 27. The
    figure was the result's own total, so no check of the answer could tell; the storm was
    invented like a code the pool does not have. ``messages`` is every message the user wrote
    in the conversation (a storm described in an earlier turn still counts).
    """
    if "rain" not in accepted or not args.get("rain") or describes_weather(messages, names):
        return args, {}
    out = dict(args)
    value = out.pop("rain")
    shown = json.dumps(value, ensure_ascii=False, default=str)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    return out, {
        f"rain={shown}": "dropped (the user described no rain: the weather the pool knows is used)"
    }


def widen_to_category(
    args: dict[str, Any], question: str, names: NameResolver, accepted: Collection[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """A read tool's arguments scoped to the category the question asks about, when the model
    narrowed it to SKUs or styles the question never named, and what changed.

    Measured with Qwen2.5-Coder-1.5B: asked "How many rain boots are left in Shanghai stores?"
    it called ``stock_lookup(sku="RB001-NVY-40", ...)`` -- the schema's example SKU -- and the
    true answer for that SKU (9) is not the category's (411). Such a call runs for
    ``category=...`` instead, when every code it named is of that category or does not exist;
    a question that names a style or SKU code keeps it. The result says so (``resolved_names``).
    """
    if "category" not in accepted:
        return args, {}
    asked = asked_categories(question, names)
    if len(asked) != 1:
        return args, {}
    category = asked[0]
    said = args.get("category")
    if _as(names.category, said) not in (None, category):
        return args, {}
    style_of = {s.code.casefold(): s.category for s in names.styles}
    if any(_mentions(question, code) for code in style_of) or re.search(
        r"[A-Za-z]+\d+-[A-Za-z0-9]+", question
    ):
        return args, {}  # the question names a style or a SKU: the model's narrowing is asked for
    out, moved = dict(args), {}
    if isinstance(said, str) and said.strip() and _as(names.category, said) is None:
        out["category"] = category  # a category the pool does not have: the one asked about
        moved[f"category={said!r}"] = f"category={category!r} (the category the question names)"
    for key, kind in _ITEM_KEYS.items():
        value = out.get(key)
        items = value if isinstance(value, list) else [value]
        codes = [v for v in items if isinstance(v, str) and v.strip()]
        if not codes or len(codes) != len(items):
            continue
        of = {style_of.get(c.strip().split("-")[0].casefold()) for c in codes}
        if not of <= {category, None}:
            continue  # a code of another category: not a narrowing of this question
        del out[key]
        out["category"] = category
        moved[f"{key}={value!r}"] = (
            f"category={category!r} (the question asks about the category, not one {kind})"
        )
    if moved and "size" in out and not _mentions(question, str(out["size"])):
        moved[f"size={out.pop('size')!r}"] = "dropped (the question names no size)"
    return out, moved
