"""Which units may leave a source and which lanes may carry them: the per-unit rules.

Everything here is a bound on single positions or single lanes, so the flow solver, the greedy
baseline and the exact MILP share it and cannot disagree on what is allowed.
"""

from __future__ import annotations

import numpy as np

from tools.plan_transfers.problem import TransferProblem


def protected_stock(problem: TransferProblem) -> np.ndarray:
    """Units of ATP a source keeps: its minimum display and, if asked, its own window forecast."""
    keep = problem.min_display.astype(float)
    if problem.constraints.protect_source_forecast:
        keep = np.maximum(keep, np.ceil(problem.demand_mean - 1e-9))
    return keep.astype(np.int64)


def size_run_keep(problem: TransferProblem) -> np.ndarray:
    """1 where a unit must stay so the source keeps an intact run of consecutive core sizes.

    A source whose core run is intact today (``min_consecutive_core_sizes`` adjacent core sizes
    with ≥ 1 sellable unit) keeps the best such window (most units) intact; a run already broken
    binds nothing. Conservative: the alternative "move the whole run" is never taken.
    """
    n_loc, n_sku = problem.shape
    keep = np.zeros((n_loc, n_sku), dtype=np.int64)
    if not problem.constraints.keep_size_run:
        return keep
    by_style: dict[str, list[int]] = {}
    for j, sku in enumerate(problem.skus):
        if sku.core:
            by_style.setdefault(sku.style, []).append(j)
    for cols in by_style.values():
        cols = sorted(cols, key=lambda j: problem.skus[j].size_index)
        run = problem.constraints.min_consecutive_core_sizes
        keep[:, cols] = core_run_keep(problem.stock[:, cols], run)
    return keep


def core_run_keep(stock: np.ndarray, min_consecutive: int) -> np.ndarray:
    """The size-run rule on one style: ``stock`` is (locations, core sizes in size order); 1
    marks a unit that must stay so each location keeps its best intact run.

    Shared with order routing (``tools.route_order``), so a store gives a web order no unit a
    transfer could not take either.
    """
    keep = np.zeros(stock.shape, dtype=np.int64)
    if stock.shape[1] == 0:
        return keep
    run = min(min_consecutive, stock.shape[1])
    windows = np.lib.stride_tricks.sliding_window_view(stock, run, axis=1)
    intact = windows.min(axis=2) >= 1
    if not intact.any():
        return keep
    score = np.where(intact, windows.sum(axis=2), -1)
    best = score.argmax(axis=1)
    has_run = intact.any(axis=1)
    for offset in range(run):
        col_idx = best + offset
        keep[has_run, col_idx[has_run]] = 1
    return keep


def movable_units(problem: TransferProblem) -> np.ndarray:
    """Units each position may give, in whole packs: ATP less protection, run and reship rules."""
    c = problem.constraints
    movable = problem.atp.astype(np.int64) - protected_stock(problem)
    movable = np.minimum(movable, problem.stock.astype(np.int64) - size_run_keep(problem))
    if c.no_reship_days > 0:
        movable[problem.days_since_received < c.no_reship_days] = 0
    movable = np.maximum(movable, 0)
    return movable - movable % c.pack_multiple


def receivable_locations(problem: TransferProblem) -> np.ndarray:
    """Locations that may receive: selling locations entitled to their channel, in scope."""
    ok = np.array([loc.kind != "dc" for loc in problem.locations], dtype=bool)
    if problem.constraints.respect_entitlements:
        ok &= np.array([loc.sells for loc in problem.locations], dtype=bool)
    if problem.destinations is not None:
        ok &= np.array([loc.code in problem.destinations for loc in problem.locations])
    return ok


def usable_lanes(problem: TransferProblem) -> np.ndarray:
    """Mask over lanes: fast enough for the window, inside the allowed scope, entitled."""
    c = problem.constraints
    lanes = problem.lanes
    locs = problem.locations
    ok = lanes.lead_time_hours < problem.window_hours
    ok &= lanes.source != lanes.dest
    ok &= receivable_locations(problem)[lanes.dest]
    if c.lane_whitelist:
        allowed = {(a, b) for a, b in c.lane_whitelist}
        pairs = zip(lanes.source.tolist(), lanes.dest.tolist(), strict=True)
        ok &= np.array([(locs[s].code, locs[d].code) in allowed for s, d in pairs], dtype=bool)
    elif c.allowed_lanes in ("city", "region"):
        attr = np.array([getattr(loc, c.allowed_lanes) for loc in locs])
        ok &= attr[lanes.source] == attr[lanes.dest]
    if c.respect_entitlements:
        outlet = np.array([loc.tier == "outlet" for loc in locs], dtype=bool)
        ok &= ~outlet[lanes.source] | outlet[lanes.dest]
    return ok
