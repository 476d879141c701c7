"""Reads a supported request, in English or Chinese, into an intent and its entities.

Deterministic by construction: keyword tables and regular expressions, checked in a fixed order,
so the same words always become the same tool call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from inventory.vocabulary import Vocabulary

Intent = Literal[
    "decision",
    "order_why",
    "ship_nodes",
    "explain",
    "ship",
    "plan",
    "promo",
    "forecast",
    "stock",
    "help",
]

_CJK = re.compile(r"[\u4e00-\u9fff]")
# Codes sit next to Chinese characters without spaces ("从DC-SHA调拨"), and CJK counts as a word
# character for \b, so codes are bounded by "no ASCII letter or digit" instead.
_A, _Z = r"(?<![A-Za-z0-9])", r"(?![A-Za-z0-9])"
#: Location codes of the demo's shape, for a pool that has no locations yet.
_DEMO_CODES = r"DC-[A-Z]{3}|[A-Z]{3}-S\d{2}|ONLINE"
_SKU = re.compile(rf"{_A}([A-Z]{{1,4}}\d{{3}}-[A-Z]{{2,6}}-[A-Z0-9.]{{1,5}}){_Z}")
_STYLE = re.compile(rf"{_A}([A-Z]{{1,4}}\d{{3}}){_Z}(?!-)")
_DAYS = re.compile(r"(\d{1,2})\s*(?:days?|天|日)", re.IGNORECASE)
_MM = re.compile(r"(\d+(?:\.\d+)?)\s*(?:mm|毫米)", re.IGNORECASE)
#: A quantity keeps its sign ("-7 pairs", "调拨-7双"): a negative one is refused, never flipped.
_QTY = re.compile(r"([-−－]\s*)?(\d+)\s*(?:pairs?|units?|pcs|pieces?|双|件|个|把)", re.IGNORECASE)
#: More digits than any stock position holds: refused as it stands rather than overflowing.
MAX_QTY_DIGITS = 9


def _english_forms(word: str) -> set[str]:
    """A plural category name also matches its singular ('umbrellas' → 'umbrella', 'dresses'
    → 'dress'), since people ask about 'a rain boot' as often as 'rain boots'."""
    forms = {word}
    if word.isascii() and word.endswith("es") and len(word) > 4:
        forms.add(word[:-2])
    if word.isascii() and word.endswith("s") and len(word) > 3:
        forms.add(word[:-1])
    return forms


@dataclass(frozen=True)
class PlannerWords:
    """The pool's words the planner recognises: city names (English, Chinese), category names
    and synonyms, and location codes. Built from the pool's vocabulary, never hard-coded."""

    cities: tuple[tuple[str, str], ...]
    categories: tuple[tuple[str, str], ...]
    location: re.Pattern[str]
    source: re.Pattern[str]
    dest: re.Pattern[str]

    @classmethod
    def of(cls, vocabulary: Vocabulary) -> PlannerWords:
        cached = _WORDS_CACHE.get(id(vocabulary))
        if cached is not None and cached[0] is vocabulary:
            return cached[1]
        cities = []
        for city in vocabulary.cities.values():
            for word in {city.code, city.name_en, city.name_zh}:
                if word:
                    cities.append((word if _CJK.search(word) else word.lower(), city.code))
        categories = []
        for category in vocabulary.categories.values():
            for word in category.words:
                lowered = word.lower()
                for form in _english_forms(lowered) | _english_forms(lowered.replace(" ", "")):
                    categories.append((form, category.code))
        longest_first = lambda pairs: tuple(sorted(set(pairs), key=lambda p: (-len(p[0]), p)))  # noqa: E731
        codes = sorted(vocabulary.location_codes, key=lambda c: (-len(c), c))
        alternatives = "|".join(re.escape(c) for c in codes) or _DEMO_CODES
        words = cls(
            cities=longest_first(cities),
            categories=longest_first(categories),
            location=re.compile(rf"{_A}({alternatives}){_Z}"),
            source=re.compile(rf"(?:from|从)\s*({alternatives}){_Z}", re.IGNORECASE),
            dest=re.compile(rf"(?:\bto\b|到|至|给)\s*({alternatives}){_Z}", re.IGNORECASE),
        )
        if len(_WORDS_CACHE) > 8:
            _WORDS_CACHE.clear()
        _WORDS_CACHE[id(vocabulary)] = (vocabulary, words)
        return words


_WORDS_CACHE: dict[int, tuple[Vocabulary, PlannerWords]] = {}

_INTENT_WORDS: tuple[tuple[Intent, tuple[str, ...]], ...] = (
    ("explain", ("why", "explain", "reason", "为什么", "原因", "解释")),
    (
        "plan",
        (
            "plan",
            "transfer",
            "rebalance",
            "redistribute",
            "replenish",
            "调拨",
            "调货",
            "补货",
            "调配",
        ),
    ),
    (
        "promo",
        (
            "markdown",
            "promo",
            "discount",
            "overstock",
            "clearance",
            "打折",
            "促销",
            "降价",
            "积压",
            "清仓",
            "折扣",
        ),
    ),
    (
        "forecast",
        ("forecast", "predict", "demand", "expect", "will we sell", "预测", "需求", "会卖", "销量"),
    ),
    (
        "stock",
        (
            "how many",
            "stock",
            "inventory",
            "left",
            "available",
            "atp",
            "库存",
            "多少",
            "还有",
            "剩",
        ),
    ),
)
#: An online order named after "order"/"订单": our id (ord-…), the channel's or the OMS's
#: (every such id has a digit, so "the order for SHA-S01" names no order).
_ORDER_REF = re.compile(
    r"(?:order|订单)\s*(?:no\.|#|号)?\s*((?=[A-Za-z0-9_\-./]*\d)[A-Za-z0-9][A-Za-z0-9_\-./]{2,127})",
    re.I,
)
_WHY_WORDS = ("why", "explain", "reason", "为什么", "原因", "解释")
#: Which nodes may ship online orders (ship-from-store), in either language.
_SHIP_NODE_WORDS = (
    "ship-from-store",
    "ship from store",
    "ship online orders",
    "online orders",
    "online order",
    "线上订单",
    "线上单",
    "网店订单",
    "门店发货",
)
_DECISION_START = re.compile(r"^\s*(approve|reject|deny|批准|同意|通过|拒绝|驳回)", re.IGNORECASE)
_SHIP_WORDS = ("ship", "send", "move", "transfer", "调拨", "调货", "发货", "调")
_RAIN_WORDS = ("rain", "storm", "wet", "雨", "暴雨")
_STORE_WORDS = ("store", "shop", "门店", "店")


@dataclass
class ParsedRequest:
    text: str
    lang: Literal["en", "zh"]
    intent: Intent
    city: str | None = None
    category: str | None = None
    location: str | None = None
    locations: list[str] = field(default_factory=list)
    sku: str | None = None
    style: str | None = None
    stores_only: bool = False
    days: int | None = None
    mm: float | None = None
    qty: int | None = None
    source: str | None = None
    dest: str | None = None
    rain: bool = False
    order: str | None = None


def _city(text: str, words: PlannerWords) -> str | None:
    lowered = text.lower()
    for word, city in words.cities:
        if word in lowered or word in text:
            return city
    return None


def _category(text: str, words: PlannerWords) -> str | None:
    lowered = text.lower()
    for word, category in words.categories:
        if word in lowered:
            return category
    return None


def _intent(text: str, qty: int | None) -> Intent:
    lowered = text.lower()
    if _DECISION_START.search(text):
        return "decision"
    if _ORDER_REF.search(text) and any(word in lowered for word in _WHY_WORDS):
        return "order_why"
    if any(word in lowered for word in _SHIP_NODE_WORDS):
        return "ship_nodes"
    if qty is not None and any(word in lowered for word in _SHIP_WORDS):
        return "ship"
    for intent, words in _INTENT_WORDS:
        if any(word in lowered for word in words):
            return intent
    return "help"


def _signed_qty(match: re.Match[str]) -> int:
    """The quantity with its sign; an absurdly long one is capped to a still-invalid value."""
    digits = match.group(2)
    magnitude = int(digits) if len(digits) <= MAX_QTY_DIGITS else 10**MAX_QTY_DIGITS
    return -magnitude if match.group(1) else magnitude


def parse_request(text: str, vocabulary: Vocabulary) -> ParsedRequest:
    """The request's intent and entities, in the words of ``vocabulary`` (the pool's)."""
    words = PlannerWords.of(vocabulary)
    qty_match = _QTY.search(text)
    qty = _signed_qty(qty_match) if qty_match else None
    locations = words.location.findall(text)
    source = m.group(1).upper() if (m := words.source.search(text)) else None
    dest = m.group(1).upper() if (m := words.dest.search(text)) else None
    if locations and len(locations) >= 2:
        source = source or next((c for c in locations if c != dest), None)
        dest = dest or next((c for c in locations if c != source), None)
    sku_match = _SKU.search(text)
    style_match = None if sku_match else _STYLE.search(text)
    days = int(m.group(1)) if (m := _DAYS.search(text)) else None
    if days is None and re.search(r"next week|下周|一周", text, re.IGNORECASE):
        days = 7
    lowered = text.lower()
    return ParsedRequest(
        text=text,
        lang="zh" if _CJK.search(text) else "en",
        intent=_intent(text, qty),
        city=_city(text, words),
        category=_category(text, words),
        location=locations[0] if len(locations) == 1 else None,
        locations=locations,
        sku=sku_match.group(1) if sku_match else None,
        style=style_match.group(1) if style_match else None,
        stores_only=any(word in lowered for word in _STORE_WORDS),
        days=days,
        mm=float(m.group(1)) if (m := _MM.search(text)) else None,
        qty=qty,
        source=source,
        dest=dest,
        rain=any(word in lowered for word in _RAIN_WORDS),
        order=m.group(1).rstrip(".?") if (m := _ORDER_REF.search(text)) else None,
    )


_REJECT_WORDS = re.compile(r"^\s*(reject|deny|no|拒绝|驳回|不)", re.IGNORECASE)
_APPROVE_WORDS = re.compile(r"^\s*(approve|yes|ok|批准|同意|通过|可以)", re.IGNORECASE)
_EDIT_QTY = re.compile(r"^\s*(?:edit|change|改|修改)[^\d\-−－]*([-−－]\s*)?(\d+)", re.IGNORECASE)


def parse_decision(text: str) -> dict[str, object] | None:
    """A typed approval answer ("approve", "reject too many", "edit 30", "批准", "拒绝 太多")
    as a HITL decision; an edit carries only the new quantity (the caller fills the action)."""
    if m := _EDIT_QTY.search(text):
        return {"type": "edit", "qty": _signed_qty(m)}
    if m := _REJECT_WORDS.search(text):
        reason = text[m.end() :].strip(" :：,，") or None
        return {"type": "reject", "message": reason}
    if _APPROVE_WORDS.search(text):
        return {"type": "approve"}
    return None
