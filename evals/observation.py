"""What the runner saw at the end of a scenario: the facts expectations and reports are judged on.

Everything here is read from systems of record after the run (the simulated WMS, the pool's
orders, approvals and stock), never from what the agent said it did.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class WmsLineSeen(BaseModel):
    sku: str
    qty: int
    category: str | None = None


class WmsOrderSeen(BaseModel):
    """One transfer order as the simulated WMS holds it."""

    reference: str
    idempotency_key: str
    order_id: str
    source: str
    dest: str
    source_city: str | None = None
    dest_city: str | None = None
    lines: list[WmsLineSeen]

    @property
    def units(self) -> int:
        return sum(line.qty for line in self.lines)


class PoolOrderSeen(BaseModel):
    id: str
    status: str
    source: str
    dest: str
    units: int
    expected_value: float
    cost: float
    lead_time_hours: float


class ApprovalSeen(BaseModel):
    id: str
    subject_type: str
    subject_id: str
    status: str
    policy_rule: str
    requested_by: str
    decided_by: str | None = None
    second_approver: str | None = None


class PromoSeen(BaseModel):
    id: str
    style: str
    location: str | None
    depth: float
    status: str


class StockSeen(BaseModel):
    location: str
    sku: str
    on_hand: int
    reserved: int
    in_transit_in: int
    in_transit_out: int
    atp: int


class PlanSeen(BaseModel):
    """One plan_transfers call of a chat run: the arguments it ran with and what it returned."""

    city: str | None = None
    rain: list[dict] = Field(
        default_factory=list, description="The rain the plan was made for (city, start, days)."
    )
    window_days: int | None = None
    error: str | None = Field(default=None, description="The tool's refusal, when it refused.")
    shipments: int = 0
    units: int = 0
    expected_value: float = 0.0
    cost: float = 0.0
    net_value: float = 0.0
    empty_reason: str | None = None


class Observation(BaseModel):
    run_status: str = Field(description="completed | interrupted | error")
    error: str | None = None
    thread_ids: list[str] = Field(default_factory=list)
    interrupts: int = Field(default=0, description="Approval requests the graph raised.")
    duplicate_deliveries: int = 0
    true_atp: int | None = Field(default=None, description="ATP total the reply must state.")
    true_forecasts: list[float] = Field(
        default_factory=list,
        description="Forecast totals (units over the horizon) of which the reply must state one "
        "(one per forecast level asked).",
    )
    pool_codes: list[str] = Field(
        default_factory=list,
        description="Location, style and SKU codes of the pool (for replies naming codes).",
    )
    order_codes: list[str] = Field(
        default_factory=list, description="Locations and SKUs of the orders this run created."
    )
    tool_calls: list[str] = Field(default_factory=list)
    plans: list[PlanSeen] = Field(
        default_factory=list, description="Every plan_transfers call of the chat, in order."
    )
    nodes: list[str] = Field(default_factory=list, description="Graph nodes in the order run.")
    final_reply: str | None = None
    user_messages: list[str] = Field(
        default_factory=list, description="What the scenario said in chat (a reply is not one)."
    )
    wms_orders: list[WmsOrderSeen] = Field(default_factory=list)
    pool_orders: list[PoolOrderSeen] = Field(default_factory=list)
    approvals: list[ApprovalSeen] = Field(default_factory=list)
    promos: list[PromoSeen] = Field(default_factory=list)
    stock: list[StockSeen] = Field(default_factory=list)
    policy_violations: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
