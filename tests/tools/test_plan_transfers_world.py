"""plan_transfers on the demo world, with the world's realised demand as the forecast (what the
eval harness does for its hindsight-optimal plan): the pool adapter on real data, every rule."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlmodel import Session, col, select

from inventory.models import FutureDemand
from tests.tools.plan_transfers_checks import assert_plan_keeps_the_rules
from tools.context import ToolContext
from tools.forecast_demand.models import ForecastInput, ForecastOutput, SeriesForecast
from tools.plan_transfers.models import PlanTransfersInput, TransferConstraints
from tools.plan_transfers.pool import build_problem
from tools.plan_transfers.solver import solve
from tools.plan_transfers.tool import to_transfer_plan


def realised_demand(ctx: ToolContext, request: ForecastInput) -> ForecastOutput:
    end = ctx.today + dt.timedelta(days=request.horizon_days)
    totals: dict[tuple[str, str], float] = defaultdict(float)
    with ctx.read() as session:
        rows = session.exec(
            select(FutureDemand).where(
                col(FutureDemand.sku_code).in_(request.skus),
                FutureDemand.date >= ctx.today,
                FutureDemand.date < end,
            )
        ).all()
        for row in rows:
            totals[(row.location_code, row.sku_code)] += row.units
    series = [
        SeriesForecast(
            location=loc,
            sku=sku,
            style=sku.rsplit("-", 2)[0],
            points=[],
            total_mean=units,
            total_quantiles={"p10": units, "p50": units, "p90": units},
        )
        for (loc, sku), units in totals.items()
        if loc in request.locations
    ]
    return ForecastOutput(
        as_of=ctx.now.isoformat(),
        model="realised",
        backtest={},
        horizon_days=request.horizon_days,
        series=series,
    )


def test_hindsight_plan_on_the_demo_world_keeps_every_rule(any_module_world):
    ctx = ToolContext.for_world(any_module_world)
    with Session(any_module_world) as session:
        assert session.exec(select(FutureDemand)).first() is not None
    for constraints in (
        TransferConstraints(allowed_lanes="any", no_reship_days=0),
        TransferConstraints(
            max_shipments_per_source=1, min_value_per_shipment=300, pack_multiple=2
        ),
    ):
        request = PlanTransfersInput(window_days=7, constraints=constraints)
        problem, _ = build_problem(ctx, request, realised_demand)
        solved = solve(problem)
        assert_plan_keeps_the_rules(problem, solved)
        plan = to_transfer_plan(
            problem, solved, as_of=ctx.now.isoformat(), forecast_model="realised"
        )
        # Realised rain-shaped demand always leaves some store short and another long.
        assert plan.shipments, plan.empty_reason
        assert plan.totals.net_value >= 0
