"""``/v1/transfer-plans``: a dry run of the transfer planner; nothing is ordered or reserved.

Orders come only through the agents' policy gate and approval (DESIGN §4).
"""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import OpsDep, ToolContextDep
from api.errors import ERROR_RESPONSES
from api.schemas.tools import TransferPlanRequest
from tools.plan_transfers.models import TransferPlan
from tools.registry import get_tool

router = APIRouter(prefix="/transfer-plans", tags=["transfers"], responses=ERROR_RESPONSES)
_TOOL = get_tool("plan_transfers")


@router.post("", summary="Plan transfers (dry run)", response_model=TransferPlan)
def plan_transfers(body: TransferPlanRequest, ctx: ToolContextDep, _: OpsDep) -> TransferPlan:
    return _TOOL.run(ctx, body)  # type: ignore[return-value]
