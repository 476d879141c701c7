"""Tool-call trajectory matching in the four modes agent evals commonly use.

- strict: the same calls in the same order;
- unordered: the same calls (with multiplicity), any order;
- subset: the agent called nothing beyond the expected calls;
- superset: the agent called at least the expected calls.
"""

from __future__ import annotations

from collections import Counter

from evals.expectations_model import TrajectoryMode


def match_trajectory(actual: list[str], expected: list[str], mode: TrajectoryMode) -> str | None:
    """Why ``actual`` does not match ``expected`` under ``mode``, or None when it does."""
    got, want = Counter(actual), Counter(expected)
    if mode == "strict":
        if actual != expected:
            return f"expected exactly {expected}, got {actual}"
        return None
    if mode == "unordered":
        if got != want:
            return f"expected {dict(want)} in any order, got {dict(got)}"
        return None
    if mode == "subset":
        extra = got - want
        if extra:
            return f"called {dict(extra)} beyond the allowed {sorted(want)}"
        return None
    if mode == "superset":
        missing = want - got
        if missing:
            return f"missing calls {dict(missing)}; called {actual}"
        return None
    raise ValueError(f"unknown trajectory mode {mode!r}")


def forbidden_calls(actual: list[str], forbidden: list[str]) -> list[str]:
    """The forbidden tools the agent called, in call order without repeats."""
    banned = set(forbidden)
    seen: list[str] = []
    for name in actual:
        if name in banned and name not in seen:
            seen.append(name)
    return seen
