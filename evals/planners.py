"""Peer planners for the harness: the optimiser as shipped, a do-nothing agent and a greedy one.

An eval suite earns trust only if it fails an agent that does nothing (issue 10), and a benchmark
says more when the optimiser is set beside a simpler rule in the same run. Both peers replace the
``plan_transfers`` tool wherever the service calls it (the alert graph's plan node and the chat
tool registry, which resolves the function on each call), so everything else — forecast, policy
gate, approvals, executor, replay — runs exactly as shipped.

The greedy peer is the optimiser's own greedy method on the same problem (same value model, hit
rate, hurdle and shipment rules): on the 13 rain alert worlds it ships the same lines as the flow
(``benchmarks/decisions.py --ablation``, ``greedy_same_plan``), so it sets no rule apart from the
optimiser; docs/optimizer.md (2026-12-06) proposes a peer without the value model.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from tools.context import ToolContext
from tools.plan_transfers.models import PlanTotals, PlanTransfersInput, TransferPlan

PlannerKind = Literal["optimizer", "do-nothing", "greedy"]
PLANNERS: tuple[PlannerKind, ...] = ("optimizer", "do-nothing", "greedy")


def do_nothing_plan(ctx: ToolContext, request: PlanTransfersInput, **_: Any) -> TransferPlan:
    """A plan that never moves anything."""
    return TransferPlan(
        as_of=ctx.now.isoformat(),
        window_days=request.window_days,
        solver="do-nothing",
        forecast_model="none",
        shipments=[],
        totals=PlanTotals(
            shipments=0,
            units=0,
            expected_units_saved=0.0,
            expected_value=0.0,
            cost=0.0,
            net_value=0.0,
        ),
        empty_reason="the do-nothing peer planner never moves stock",
    )


@contextmanager
def planner(kind: PlannerKind) -> Iterator[None]:
    """Run the service with ``kind`` as its transfer planner for the duration of the block."""
    if kind == "optimizer":
        yield
        return
    import agents.graphs.alert_response.nodes as alert_nodes
    import tools.plan_transfers.tool as tool_module

    shipped = tool_module.plan_transfers

    def greedy_plan(ctx: ToolContext, request: PlanTransfersInput, **kw: Any) -> TransferPlan:
        return shipped(ctx, request.model_copy(update={"solver": "greedy"}), **kw)

    replacement = do_nothing_plan if kind == "do-nothing" else greedy_plan
    saved = (tool_module.plan_transfers, alert_nodes.plan_transfers)
    tool_module.plan_transfers = replacement  # type: ignore[assignment]
    alert_nodes.plan_transfers = replacement  # type: ignore[assignment]
    try:
        yield
    finally:
        tool_module.plan_transfers, alert_nodes.plan_transfers = saved
