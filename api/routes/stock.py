"""``/v1/stock``: positions with ATP, in-transit and days of cover (the hot read path)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.deps import ReaderDep, ToolContextDep
from api.errors import ERROR_RESPONSES
from api.schemas.tools import StockQuery
from tools.registry import get_tool
from tools.stock_lookup.models import StockLookupOutput

router = APIRouter(prefix="/stock", tags=["stock"], responses=ERROR_RESPONSES)
_TOOL = get_tool("stock_lookup")


@router.get("", summary="Look up stock; filters combine with AND", response_model=StockLookupOutput)
def lookup_stock(
    query: Annotated[StockQuery, Query()], ctx: ToolContextDep, _: ReaderDep
) -> Response:
    # The tool already checked its output against StockLookupOutput: serialise it once, rather
    # than have FastAPI validate the model again on the hot path.
    output: StockLookupOutput = _TOOL.run(ctx, query)  # type: ignore[assignment]
    return Response(content=output.model_dump_json(), media_type="application/json")
