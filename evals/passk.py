"""pass^k: the chance that k independent trials of a scenario all succeed (τ-bench).

With n trials of which c passed, the unbiased estimate is C(c, k) / C(n, k); for k = n it is 1
only when every trial passed. Ops care about this, not pass@k: an agent that succeeds 9 times in
10 still fails one alert in ten.
"""

from __future__ import annotations

from math import comb


def pass_hat_k(successes: int, trials: int, k: int) -> float:
    """Estimate of P(all of k trials pass) from ``successes`` out of ``trials``."""
    if trials < 1:
        raise ValueError(f"trials must be ≥ 1, got {trials}")
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be within 0..{trials}, got {successes}")
    if not 1 <= k <= trials:
        raise ValueError(f"k must be within 1..{trials}, got {k}")
    return comb(successes, k) / comb(trials, k)


def suite_pass_hat_k(outcomes: dict[str, list[bool]], k: int) -> float:
    """Mean pass^k over scenarios, each with its list of trial outcomes."""
    if not outcomes:
        raise ValueError("no scenarios to score")
    values = [pass_hat_k(sum(runs), len(runs), k) for runs in outcomes.values()]
    return sum(values) / len(values)
