"""The layering of DESIGN.md §1, checked on the source: imports point down only.

A violation found in review once (the inventory layer importing the outbox of the executor)
would have passed every behavioural test, so the rule is a test of its own.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = {
    "agents",
    "api",
    "connectors",
    "evals",
    "forecasting",
    "inventory",
    "tools",
    "stockpilot_cli",
}

#: package → our packages it must never import.
FORBIDDEN = {
    "inventory": OURS - {"inventory"},
    # Vocabulary constants (rain bands) and settings are shared; the database is not (below).
    "forecasting": OURS - {"forecasting", "inventory"},
    "tools": {"agents", "api", "evals", "stockpilot_cli"},
    "connectors": {"agents", "api", "evals", "tools", "stockpilot_cli"},
    "agents": {"api", "evals", "stockpilot_cli"},
}


def _modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def _imports(path: Path) -> set[str]:
    return {name.split(".")[0] for name in _modules(path)}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_down(package: str) -> None:
    offences = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for name in sorted(_imports(path) & FORBIDDEN[package])
    ]
    assert not offences, "\n".join(offences)


#: package → our sub-packages it must never import (``api`` and ``evals`` both sit on top, but
#: evals drive the service's layers below the API, never its routes: work both need, such as
#: admitting an alert, lives below the API so there is one way to do it).
FORBIDDEN_MODULES = {"evals": ("api.routes",)}


@pytest.mark.parametrize("package", sorted(FORBIDDEN_MODULES))
def test_no_reach_into_modules_above(package: str) -> None:
    offences = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for name in sorted(_modules(path))
        if any(name == top or name.startswith(f"{top}.") for top in FORBIDDEN_MODULES[package])
    ]
    assert not offences, "\n".join(offences)


def test_forecasting_never_touches_the_database() -> None:
    """Forecasting takes and returns dataframes (DESIGN.md §1)."""
    database = ("sqlalchemy", "sqlmodel", "inventory.db", "inventory.models")
    offences = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / "forecasting").rglob("*.py"))
        for name in sorted(_modules(path))
        if name.startswith(database)
    ]
    assert not offences, "\n".join(offences)
