"""One line of the pool's vocabulary for the system prompt: cities, categories, code formats.

A model that sees "SHA-S01" and "RB001-BLK-38" once does not invent "SH-S01" or
"RB001-RAIN-BOOTS"; the examples are read from the pool, so they exist.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session

from tools.discover.tool import (
    DOC_EXAMPLES,
    location_code_format,
    pool_examples,
    sku_code_format,
)
from tools.names import NameResolver


def vocabulary_line(engine: Engine) -> str:
    with Session(engine) as session:
        names = NameResolver(session)
        if not names.places:
            return "The pool is empty: no locations yet."
        city_zh, _, category_zh = names.labels
        cities = ", ".join(f"{c} {city_zh.get(c, '')}".strip() for c in sorted(names.cities))
        categories = ", ".join(f"{c} {category_zh.get(c, '')}".strip() for c in names.categories)
        return (
            f"Cities: {cities}. Categories: {categories}. Codes: "
            f"{location_code_format(names)}; {sku_code_format(names)}."
        )


def example_codes(engine: Engine) -> dict[str, str]:
    """Documentation example code → a code of the same kind in this pool, for tool schemas."""
    with Session(engine) as session:
        real = pool_examples(NameResolver(session))
    return {DOC_EXAMPLES[kind]: real[kind] for kind in DOC_EXAMPLES}
