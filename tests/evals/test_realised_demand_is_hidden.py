"""KPIs are scored against realised demand the planner never saw: only the eval harness (and the
demo-world writer that stores it) may touch ``future_demand``."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DECIDING_PACKAGES = ("tools", "agents", "api", "forecasting", "connectors")


def test_no_deciding_code_reads_future_demand() -> None:
    readers = [
        str(path.relative_to(ROOT))
        for package in DECIDING_PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "FutureDemand" in (text := path.read_text(encoding="utf-8")) or "future_demand" in text
    ]
    assert readers == []
