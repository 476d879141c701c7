"""plan_transfers(ctx, PlanTransfersInput) -> TransferPlan: read the pool, solve, explain."""

from __future__ import annotations

from tools.context import ToolContext
from tools.plan_transfers.models import (
    LineReason,
    PlanTotals,
    PlanTransfersInput,
    Shipment,
    TransferLineProposal,
    TransferPlan,
)
from tools.plan_transfers.pool import ForecastProvider, build_problem, default_forecast_provider
from tools.plan_transfers.problem import SolvedPlan, TransferProblem
from tools.plan_transfers.solver import solve


def plan_transfers(
    ctx: ToolContext,
    request: PlanTransfersInput,
    *,
    forecast_provider: ForecastProvider | None = None,
) -> TransferPlan:
    """Size-level transfers that maximise expected margin recovered minus freight minus the
    expected cost of moved units that do not sell (``value``)."""
    problem, forecast = build_problem(ctx, request, forecast_provider or default_forecast_provider)
    solved = solve(problem, method=request.solver, time_limit_s=request.time_limit_s)
    return to_transfer_plan(
        problem, solved, as_of=ctx.now.isoformat(), forecast_model=forecast.model
    )


def to_transfer_plan(
    problem: TransferProblem, solved: SolvedPlan, *, as_of: str, forecast_model: str
) -> TransferPlan:
    """The solver's indices as codes, with each line's reason, for people and for the API."""
    locs, skus = problem.locations, problem.skus
    shipments = [
        Shipment(
            source=locs[s.source].code,
            dest=locs[s.dest].code,
            lead_time_hours=round(s.lead_time_hours, 1),
            lines=[
                TransferLineProposal(
                    sku=skus[line.sku].code,
                    style=skus[line.sku].style,
                    size=skus[line.sku].size,
                    qty=line.qty,
                    reason=LineReason(
                        expected_units_saved=round(line.expected_units_saved, 3),
                        expected_value=round(line.expected_value, 2),
                        cost=round(line.cost, 2),
                        unsold_risk=round(line.unsold_risk, 2),
                        dest_days_to_stockout_before=_round(line.dest_days_to_stockout_before),
                        dest_days_to_stockout_after=_round(line.dest_days_to_stockout_after),
                        source_atp_after=line.source_atp_after,
                    ),
                )
                for line in s.lines
            ],
            units=s.units,
            expected_value=round(s.expected_value, 2),
            cost=round(s.cost, 2),
            net_value=round(s.net_value, 2),
            net_value_if_no_rain=_round(s.net_value_if_no_rain),
        )
        for s in solved.shipments
    ]
    totals = PlanTotals(
        shipments=len(shipments),
        units=solved.units,
        expected_units_saved=round(
            sum(line.expected_units_saved for s in solved.shipments for line in s.lines), 3
        ),
        expected_value=round(sum(s.expected_value for s in solved.shipments), 2),
        unsold_risk=round(sum(line.unsold_risk for s in solved.shipments for line in s.lines), 2),
        cost=round(sum(s.cost for s in solved.shipments), 2),
        net_value=round(solved.objective, 2),
        net_value_if_no_rain=_round(solved.net_value_if_no_rain),
    )
    return TransferPlan(
        as_of=as_of,
        window_days=problem.window_days,
        solver=solved.method,
        forecast_model=forecast_model,
        shipments=shipments,
        totals=totals,
        empty_reason=solved.empty_reason,
        notes=[*problem.notes, *solved.notes, f"solved in {solved.wall_s:.2f} s"],
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
