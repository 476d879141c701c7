"""An alert's plan held to what it may lose if not a drop of the warned rain falls.

Why: the hit rate prices a false alarm at the date's climate (the problem's dry case), which still
rains on some days; on a window that stays bone dry the moved rain gear sells less than that case
says, and the loss lands on one event. Measured on the suite and three held-out draws, the plan
made at the estimated hit rate lost more than ¥500 in expectation on 4 of 60 false alarms
(docs/optimizer.md, "a bound on the bone-dry window"). The plan's value on the no-rain window
tracks what those events really lost (−¥286 to +¥192 off) where the climate's dry case did not.

The bound keeps the plan's shape (same optimiser, same rules, same value definition): a plan that
would lose more than ``alert_verification.max_false_alarm_loss`` there is made again at a lower
hit rate, bisected, and the highest rate whose plan holds is kept. The kept plan is valued, like
every plan, at the estimated hit rate: the lower rate chose the moves, it is not the belief.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from tools.plan_transfers.problem import SolvedPlan, TransferProblem
from tools.plan_transfers.shipments import Moves, plan_objective, value_moves

BISECTION_STEPS = 6
"""Hit rates tried below the estimate: 6 halvings resolve it to 1/64 of the estimate."""


def _priced(
    problem: TransferProblem,
    no_rain: TransferProblem,
    plan: SolvedPlan,
    lane_of: np.ndarray,
    *,
    made_on_problem: bool,
) -> SolvedPlan:
    """``plan``'s moves valued on ``problem`` (the estimated hit rate; as they are when the plan
    was ``made_on_problem``), each shipment and the plan carrying their net value on the no-rain
    window."""
    moves = Moves.of_plan(plan)
    if len(moves) == 0:
        return replace(plan, net_value_if_no_rain=0.0)
    if_no_rain = {(s.source, s.dest): s.net_value for s in value_moves(no_rain, moves, lane_of)}
    valued = plan.shipments if made_on_problem else value_moves(problem, moves, lane_of)
    shipments = [replace(s, net_value_if_no_rain=if_no_rain[(s.source, s.dest)]) for s in valued]
    return replace(
        plan,
        shipments=shipments,
        objective=plan_objective(shipments),
        net_value_if_no_rain=float(sum(if_no_rain.values())),
    )


def hold_false_alarm_bound(
    problem: TransferProblem,
    plan: SolvedPlan,
    lane_of: np.ndarray,
    solve_at: Callable[[TransferProblem], SolvedPlan],
) -> SolvedPlan:
    """``plan`` (made on ``problem``) with its no-rain value, or, when that loses more than the
    bound, the plan ``solve_at`` makes at the highest bisected hit rate whose plan holds it; an
    empty plan when not even the dry case's plan (hit rate 0) holds it. Plans not made on an
    alert (no no-rain case, or the rain taken as certain) are returned as they are."""
    no_rain = problem.no_rain_case() if problem.mixed else None
    if no_rain is None:
        return plan
    priced = _priced(problem, no_rain, plan, lane_of, made_on_problem=True)
    limit = problem.value_terms.alert_verification.max_false_alarm_loss
    if limit is None or _holds(priced, limit):
        return priced
    estimate = problem.rain_hit_rate

    def made_at(rate: float) -> SolvedPlan:
        lowered = solve_at(replace(problem, rain_hit_rate=rate))
        return _priced(problem, no_rain, lowered, lane_of, made_on_problem=False)

    low, high = 0.0, estimate
    kept: tuple[float, SolvedPlan] | None = None
    for _ in range(BISECTION_STEPS):
        rate = (low + high) / 2
        candidate = made_at(rate)
        if _holds(candidate, limit):
            kept, low = (rate, candidate), rate
        else:
            high = rate
    if kept is None and _holds(candidate := made_at(0.0), limit):
        kept = (0.0, candidate)
    loss = -(priced.net_value_if_no_rain or 0.0)
    why = (
        f"at the estimated hit rate {estimate:.2f} the plan would lose ¥{loss:,.0f} if no rain "
        f"fell at all, more than the ¥{limit:,.0f} allowed "
        "(value_terms alert_verification.max_false_alarm_loss)"
    )
    if kept is None:
        return SolvedPlan(
            method=plan.method,
            shipments=[],
            objective=0.0,
            wall_s=plan.wall_s,
            empty_reason=f"{why}, and so would the plan for a dry window: nothing moved",
            notes=plan.notes,
            net_value_if_no_rain=0.0,
            cut_by_false_alarm_bound=True,
        )
    rate, chosen = kept
    note = (
        f"{why}: moves chosen at hit rate {rate:.2f} instead, ¥{chosen.net_value_if_no_rain:,.0f} "
        "if no rain falls; values shown at the estimated rate"
    )
    return replace(chosen, notes=[*chosen.notes, note], cut_by_false_alarm_bound=True)


def _holds(plan: SolvedPlan, limit: float) -> bool:
    return (plan.net_value_if_no_rain or 0.0) >= -limit - 1e-9
