"""I/O of plan_transfers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from tools.forecast_demand.models import RainScenario

Solver = Literal["auto", "flow", "lp", "greedy"]
LaneScope = Literal["city", "region", "any"]
#: A model may not ask for more than this: a long MILP at network scale runs out of memory.
MAX_TIME_LIMIT_S = 60.0


class TransferConstraints(BaseModel):
    """Every constraint ops expect; each may be switched off or tuned."""

    protect_source_forecast: bool = Field(
        default=True, description="Keep the source's own forecast demand over the window."
    )
    keep_size_run: bool = Field(default=True, description="Do not break a source's core run.")
    min_consecutive_core_sizes: int = Field(default=3, ge=1)
    pack_multiple: int = Field(default=1, ge=1)
    allowed_lanes: LaneScope = Field(
        default="region", description="Which lanes may be used: within a city, a region, or any."
    )
    lane_whitelist: list[tuple[str, str]] = Field(default_factory=list)
    max_shipments_per_source: int | None = Field(default=None, ge=1)
    max_shipments_per_dest: int | None = Field(default=None, ge=1)
    no_reship_days: int = Field(default=7, ge=0)
    min_value_per_shipment: float = Field(default=0.0, ge=0)
    min_net_to_cost: float = Field(
        default=0.0,
        ge=0,
        description="A shipment's expected net value must be at least this multiple of its "
        "freight: 1.0 means it pays its freight twice over, so a forecast that is half wrong "
        "still leaves it worth sending. 0 only asks that it pays.",
    )
    max_total_cost: float | None = Field(default=None, ge=0)
    respect_entitlements: bool = True


class PlanTransfersInput(BaseModel):
    """Plan transfers for a city/region/category (or styles/SKUs) over a demand window."""

    city: str | None = None
    region: str | None = None
    category: str | None = None
    categories: list[str] = Field(default_factory=list)
    styles: list[str] = Field(default_factory=list)
    skus: list[str] = Field(default_factory=list)
    destinations: list[str] = Field(default_factory=list, description="Limit to these stores.")
    window_days: int = Field(default=3, ge=1, le=28, description="Demand window in days.")
    rain: list[RainScenario] = Field(default_factory=list)
    pool_sizes: bool = Field(
        default=True,
        description="Share each store's style forecast over its sizes by the store's size curve "
        "(shrunk to the network's) instead of trusting sparse size × store forecasts. On by "
        "default since alerts are valued at their hit rate (`rain_hit_rate`): taken as certain, "
        "a dry-day alert moved too much (false-alarm-shanghai lost ¥744).",
    )
    rain_hit_rate: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Probability that the rain given in `rain` falls (an alert is a forecast). "
        "Moves are valued p·value if it rains + (1 − p)·value if it stays dry, the dry case "
        "forecast without the rain. None: estimated from the pool's past alerts against the "
        "weather observed on their days, shrunk to the prior in value_terms.yaml; 1: plan as "
        "if the rain were certain.",
    )
    level_backtest: bool = Field(
        default=True,
        description="Correct each city × channel × category level of the forecast by the "
        "stored forecaster's own backtest on the last 28 days before the clock (demand ÷ "
        "forecast of past windows of the plan's length, shrunk to 1): every plan's hedge "
        "against the forecast's error (tools/plan_transfers/forecast_error.py). Off: the "
        "forecast as given (for comparisons; a plan without a stored forecaster has no "
        "backtest either).",
    )
    constraints: TransferConstraints = Field(default_factory=TransferConstraints)
    solver: Solver = Field(
        default="auto",
        description="auto (exact flows, then lane search), flow, lp (full MILP; small plans "
        "only) or greedy.",
    )
    time_limit_s: float = Field(
        default=20.0,
        gt=0,
        le=MAX_TIME_LIMIT_S,
        description=f"Solver time budget in seconds (at most {MAX_TIME_LIMIT_S:g}).",
    )
    limit_series: int | None = Field(
        default=None,
        ge=1,
        description="Refuse a plan that needs more SKU × location forecasts than this (the "
        "plan's cost grows with it); none: no limit.",
    )


class LineReason(BaseModel):
    """Why a line: ``expected_value`` is the margin it recovers (price at the destination −
    unit cost, on the extra units expected to sell, less the source's lost margin) minus
    ``unsold_risk``; net of ``cost`` (freight) it is what the line adds to the plan."""

    expected_units_saved: float
    expected_value: float
    cost: float
    unsold_risk: float = Field(
        default=0.0,
        description="Expected cost of the moved units that do not sell in the window (return "
        "freight or markdown), already taken out of expected_value.",
    )
    dest_days_to_stockout_before: float | None
    dest_days_to_stockout_after: float | None
    source_atp_after: int


class TransferLineProposal(BaseModel):
    sku: str
    style: str
    size: str
    qty: int
    reason: LineReason


#: What ``net_value_if_no_rain`` means, on a shipment and on the plan's totals.
IF_NO_RAIN = (
    "Net value if not a drop of the warned rain falls (every window day at 0 mm in the warned "
    "city): what a false alarm costs. None when the plan assumes no rain or takes it as certain."
)


class Shipment(BaseModel):
    source: str
    dest: str
    lead_time_hours: float
    lines: list[TransferLineProposal]
    units: int
    expected_value: float
    cost: float
    net_value: float
    net_value_if_no_rain: float | None = Field(default=None, description=IF_NO_RAIN)


class PlanTotals(BaseModel):
    shipments: int
    units: int
    expected_units_saved: float
    expected_value: float = Field(description="Margin recovered less unsold risk, before freight.")
    unsold_risk: float = 0.0
    cost: float = Field(description="Freight: per trip + per unit.")
    net_value: float
    net_value_if_no_rain: float | None = Field(default=None, description=IF_NO_RAIN)


class TransferPlan(BaseModel):
    as_of: str
    window_days: int
    solver: str = Field(description="Which method produced the plan (flow, lp, greedy...).")
    forecast_model: str
    shipments: list[Shipment]
    totals: PlanTotals
    empty_reason: str | None = Field(default=None, description="Why no shipment, when empty.")
    notes: list[str] = Field(default_factory=list)
