"""``/v1/promo-recommendations``: markdown recommendations (dry run; proposals go via agents)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import OpsDep, ToolContextDep
from api.errors import ERROR_RESPONSES
from api.schemas.tools import PromoRequest
from tools.recommend_promos.models import PromoOutput
from tools.registry import get_tool

router = APIRouter(prefix="/promo-recommendations", tags=["promos"], responses=ERROR_RESPONSES)
_TOOL = get_tool("recommend_promos")


@router.post(
    "", summary="Recommend markdowns for overstock risk (dry run)", response_model=PromoOutput
)
def recommend_promos(body: PromoRequest, ctx: ToolContextDep, _: OpsDep) -> PromoOutput:
    return _TOOL.run(ctx, body)  # type: ignore[return-value]
