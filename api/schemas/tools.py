"""Tool inputs as the API accepts them: the tools' own models with tighter limits, so one
request cannot occupy a worker for minutes.

A request's cost grows with the SKU × location series it forecasts (measured on the small test
world with the baseline forecaster: ~1.6 ms of CPU per series, so the whole small world's
1,251 series took 2 s; a fitted forecaster costs more). A request that needs more series than
its ``limit_series`` is refused with a 422 naming the count and what to narrow, before any
forecasting starts; a caller may raise the limit up to ``MAX_SERIES`` (~15 s of CPU with the
baseline). Lists are capped so a body cannot smuggle in an unbounded scope.
"""

from __future__ import annotations

from pydantic import Field

from tools.forecast_demand.models import ForecastInput, RainScenario
from tools.plan_transfers.models import PlanTransfersInput
from tools.recommend_promos.models import PromoInput
from tools.stock_lookup.models import StockLookupInput

#: The most series one request may ask to compute (forecast, plan or markdown scan).
MAX_SERIES = 10_000
#: Series a plan or markdown scan may need unless the caller raises it: a city's or a region's
#: categories of a large pool, not a whole network (which ``{}`` would be).
DEFAULT_PLAN_SERIES = 5_000
#: The planner's time budget through the API (the tool allows a model 60 s).
MAX_PLAN_TIME_LIMIT_S = 30.0
MAX_CODES = 5_000
MAX_RAIN_SCENARIOS = 50


class StockQuery(StockLookupInput):
    limit: int = Field(default=500, ge=1, le=5_000)


class ForecastRequest(ForecastInput):
    skus: list[str] = Field(default_factory=list, max_length=MAX_CODES, description="SKU codes.")
    locations: list[str] = Field(
        default_factory=list, max_length=MAX_CODES, description="Location codes."
    )
    rain: list[RainScenario] = Field(
        default_factory=list, max_length=MAX_RAIN_SCENARIOS, description="Weather overrides."
    )
    limit_series: int = Field(
        default=2000,
        ge=1,
        le=MAX_SERIES,
        description="Refuse (422) a request matching more series than this; narrow it instead.",
    )


class TransferPlanRequest(PlanTransfersInput):
    categories: list[str] = Field(default_factory=list, max_length=MAX_CODES)
    styles: list[str] = Field(default_factory=list, max_length=MAX_CODES)
    skus: list[str] = Field(default_factory=list, max_length=MAX_CODES)
    destinations: list[str] = Field(
        default_factory=list, max_length=MAX_CODES, description="Limit to these stores."
    )
    rain: list[RainScenario] = Field(default_factory=list, max_length=MAX_RAIN_SCENARIOS)
    time_limit_s: float = Field(
        default=20.0,
        gt=0,
        le=MAX_PLAN_TIME_LIMIT_S,
        description=f"Solver time budget in seconds (at most {MAX_PLAN_TIME_LIMIT_S:g}).",
    )
    limit_series: int = Field(  # type: ignore[assignment]
        default=DEFAULT_PLAN_SERIES,
        ge=1,
        le=MAX_SERIES,
        description="Refuse (422) a plan needing more SKU × location forecasts than this.",
    )


class PromoRequest(PromoInput):
    styles: list[str] = Field(default_factory=list, max_length=MAX_CODES)
    locations: list[str] = Field(default_factory=list, max_length=MAX_CODES)
    limit: int = Field(default=50, ge=1, le=500)
    limit_series: int = Field(  # type: ignore[assignment]
        default=DEFAULT_PLAN_SERIES,
        ge=1,
        le=MAX_SERIES,
        description="Refuse (422) a request needing more SKU × location forecasts than this.",
    )
