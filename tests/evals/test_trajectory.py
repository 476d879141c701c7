"""Trajectory match modes."""

from __future__ import annotations

import pytest

from evals.trajectory import forbidden_calls, match_trajectory

A, B, C = "stock_lookup", "forecast_demand", "plan_transfers"


@pytest.mark.parametrize(
    ("mode", "actual", "expected", "ok"),
    [
        ("strict", [A, B], [A, B], True),
        ("strict", [B, A], [A, B], False),
        ("unordered", [B, A], [A, B], True),
        ("unordered", [A, A, B], [A, B], False),
        ("subset", [A], [A, B], True),
        ("subset", [A, C], [A, B], False),
        ("superset", [A, B, C], [A, B], True),
        ("superset", [A, C], [A, B], False),
    ],
)
def test_modes(mode: str, actual: list[str], expected: list[str], ok: bool) -> None:
    assert (match_trajectory(actual, expected, mode) is None) is ok  # type: ignore[arg-type]


def test_mismatch_explains_itself() -> None:
    assert "missing calls {'forecast_demand': 1}" in str(match_trajectory([A], [A, B], "superset"))


def test_forbidden_calls_in_order_without_repeats() -> None:
    assert forbidden_calls([C, A, C, B], [B, C]) == [C, B]
