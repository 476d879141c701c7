"""KPIs are scored against realised demand the planner never saw: only the eval harness, the
demo-world writer that stores it, and measurement code no deciding path imports may touch
``future_demand``."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DECIDING_PACKAGES = ("tools", "agents", "api", "forecasting", "connectors")
#: The table's model class, or its name as a string literal (SQL text); docs may name it.
TOUCHES_FUTURE_DEMAND = re.compile(r"""FutureDemand|['"]future_demand['"]""")
#: Measurement for benchmarks and docs (forecast ÷ realised after the clock); never imported by
#: a tool, a graph or the API — checked below.
MEASUREMENT_MODULES = {"tools/forecast_demand/rain_check.py": "tools.forecast_demand.rain_check"}


def _sources() -> dict[str, str]:
    return {
        str(path.relative_to(ROOT)): path.read_text(encoding="utf-8")
        for package in DECIDING_PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def test_no_deciding_code_reads_future_demand() -> None:
    readers = [
        name
        for name, text in _sources().items()
        if TOUCHES_FUTURE_DEMAND.search(text) and name not in MEASUREMENT_MODULES
    ]
    assert readers == []


def test_no_deciding_code_imports_the_measurement_modules() -> None:
    for module in MEASUREMENT_MODULES.values():
        parent, _, leaf = module.rpartition(".")
        pattern = re.compile(
            rf"(import {re.escape(module)}\b|from {re.escape(parent)} import .*\b{leaf}\b)"
        )
        importers = [
            name
            for name, text in _sources().items()
            if name not in MEASUREMENT_MODULES and pattern.search(text)
        ]
        assert importers == [], module


def test_no_deciding_code_imports_the_eval_harness() -> None:
    """The harness knows the world's realised and expected demand (``evals.replay``,
    ``evals.oracle``); a tool, graph or API that imported it could decide with the future."""
    pattern = re.compile(r"^\s*(from evals[\s.]|import evals\b)", re.MULTILINE)
    importers = [name for name, text in _sources().items() if pattern.search(text)]
    assert importers == []
