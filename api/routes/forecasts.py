"""``/v1/forecasts``: daily demand forecasts with quantiles (read only)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ReaderDep, ToolContextDep
from api.errors import ERROR_RESPONSES
from api.schemas.tools import ForecastRequest
from tools.forecast_demand.models import ForecastOutput
from tools.registry import get_tool

router = APIRouter(prefix="/forecasts", tags=["forecasts"], responses=ERROR_RESPONSES)
_TOOL = get_tool("forecast_demand")


@router.post("", summary="Forecast demand per SKU × location", response_model=ForecastOutput)
def forecast(body: ForecastRequest, ctx: ToolContextDep, _: ReaderDep) -> ForecastOutput:
    return _TOOL.run(ctx, body)  # type: ignore[return-value]
