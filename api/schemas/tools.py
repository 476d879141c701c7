"""Tool inputs as the API accepts them: the tools' own models with tighter limits, so one
request cannot occupy a worker for minutes."""

from __future__ import annotations

from pydantic import Field

from tools.forecast_demand.models import ForecastInput
from tools.plan_transfers.models import PlanTransfersInput
from tools.recommend_promos.models import PromoInput
from tools.stock_lookup.models import StockLookupInput


class StockQuery(StockLookupInput):
    limit: int = Field(default=500, ge=1, le=5_000)


class ForecastRequest(ForecastInput):
    limit_series: int = Field(default=2000, ge=1, le=20_000)


class TransferPlanRequest(PlanTransfersInput):
    time_limit_s: float = Field(default=20.0, gt=0, le=60)


class PromoRequest(PromoInput):
    limit: int = Field(default=50, ge=1, le=500)
