"""Scoring a plan against the demand that really came: a day-by-day sales replay and its KPIs.

Plain data in, plain data out (no database), so the arithmetic is testable by hand. A position
sells ``min(stock, demand)`` each day; what it cannot serve is lost. A transfer leaves its source
on day 0 and can be sold at the destination from its arrival day.

Net value is the planner's own definition (``tools.plan_transfers.value``) fed with realised
changes: margin on the extra units sold (less the margin a source lost), less the cost of moved
units that did not sell within the window, less freight.
"""

from __future__ import annotations

from collections import defaultdict

from pydantic import BaseModel, Field, model_validator

from tools.plan_transfers.value import net_value, position_value

Key = tuple[str, str]  # (location code, SKU code)


class Move(BaseModel):
    """Units of one SKU sent from a source to a destination."""

    source: str
    dest: str
    sku: str
    qty: int = Field(gt=0)
    arrival_day: int = Field(ge=0, description="Index of the first window day it can be sold.")


class ReplayInputs(BaseModel):
    """Start stock, realised daily demand over the window, and unit prices."""

    days: int = Field(gt=0)
    stock: dict[Key, int] = Field(description="Sellable units at the start of the window.")
    demand: dict[Key, list[int]] = Field(description="Realised units wanted on each window day.")
    price: dict[str, float] = Field(description="Unit list price per SKU (lost sales value).")
    inbound: dict[Key, int] = Field(
        default_factory=dict, description="Units already in transit, sellable from day 1."
    )
    margin: dict[Key, float] = Field(
        default_factory=dict,
        description="Margin per unit sold at a position (price there − unit cost); list price "
        "where missing.",
    )
    unsold_cost: dict[Key, float] = Field(
        default_factory=dict,
        description="Cost per moved unit that does not sell at a destination; 0 where missing.",
    )

    def margin_of(self, key: Key) -> float:
        return self.margin.get(key, self.price.get(key[1], 0.0))

    @model_validator(mode="after")
    def _shapes(self) -> ReplayInputs:
        for key, series in self.demand.items():
            if len(series) != self.days:
                raise ValueError(f"demand for {key} has {len(series)} days, window is {self.days}")
            if any(u < 0 for u in series):
                raise ValueError(f"demand for {key} has negative units: {series}")
        for key, units in self.stock.items():
            if units < 0:
                raise ValueError(f"stock for {key} is negative: {units}")
        return self


class Outcome(BaseModel):
    """What a policy sold and lost over the window."""

    sold_units: int
    sold_value: float
    lost_units: int
    lost_value: float
    sold_by_key: dict[Key, int]
    received_by_key: dict[Key, int] = Field(
        default_factory=dict, description="Units the moves delivered to each destination."
    )
    short_moves: list[str] = Field(
        default_factory=list, description="Moves the source could not fill from its stock."
    )


def simulate(inputs: ReplayInputs, moves: list[Move]) -> Outcome:
    """Replay the window with ``moves`` applied; a move larger than the source holds is clipped."""
    stock: dict[Key, int] = defaultdict(int, inputs.stock)
    arrivals: dict[Key, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    short: list[str] = []
    received: dict[Key, int] = defaultdict(int)
    for move in moves:
        src = (move.source, move.sku)
        sent = min(move.qty, stock[src])
        if sent < move.qty:
            short.append(
                f"{move.source}→{move.dest} {move.sku}: asked {move.qty}, held {stock[src]}"
            )
        stock[src] -= sent
        if sent:
            arrivals[(move.dest, move.sku)][move.arrival_day] += sent
            received[(move.dest, move.sku)] += sent
    for key, units in inputs.inbound.items():
        arrivals[key][min(1, inputs.days - 1)] += units

    keys = set(inputs.demand) | set(stock) | set(arrivals)
    sold_by_key: dict[Key, int] = {}
    sold_units = lost_units = 0
    sold_value = lost_value = 0.0
    for key in keys:
        on_hand = stock[key]
        series = inputs.demand.get(key, [0] * inputs.days)
        sold_here = 0
        for day in range(inputs.days):
            on_hand += arrivals[key].get(day, 0) if key in arrivals else 0
            sold = min(on_hand, series[day])
            on_hand -= sold
            sold_here += sold
            lost = series[day] - sold
            price = inputs.price.get(key[1], 0.0)
            sold_value += sold * price
            lost_value += lost * price
            lost_units += lost
        sold_units += sold_here
        if sold_here:
            sold_by_key[key] = sold_here
    return Outcome(
        sold_units=sold_units,
        sold_value=round(sold_value, 2),
        lost_units=lost_units,
        lost_value=round(lost_value, 2),
        sold_by_key=sold_by_key,
        received_by_key=dict(received),
        short_moves=short,
    )


class PlanScore(BaseModel):
    """One policy (executed or hindsight-optimal) measured against doing nothing."""

    units_transferred: int
    transfer_cost: float
    lost_units: int
    lost_value: float
    lost_units_avoided: int
    lost_value_avoided: float = Field(description="Lost sales avoided at list price (revenue).")
    margin_recovered: float = Field(
        default=0.0, description="Margin on the extra units sold less the margin sources lost."
    )
    unsold_units: int = Field(default=0, description="Moved units that did not sell in window.")
    unsold_cost: float = Field(default=0.0, description="Their cost (return freight, markdown).")
    net_value: float = Field(
        description="margin_recovered − unsold_cost − transfer_cost (tools.plan_transfers.value)."
    )
    transferred_units_sold: int = Field(
        description="Extra units sold at destinations thanks to the transfers (≤ units sent)."
    )
    sell_through: float | None = Field(description="transferred_units_sold ÷ units_transferred.")


def score_plan(
    inputs: ReplayInputs, baseline: Outcome, moves: list[Move], transfer_cost: float
) -> PlanScore:
    """Score ``moves`` (costing ``transfer_cost``) against the no-action ``baseline``."""
    outcome = simulate(inputs, moves)
    units = sum(m.qty for m in moves)
    dest_keys = {(m.dest, m.sku) for m in moves}
    extra_at_dest = sum(
        max(0, outcome.sold_by_key.get(k, 0) - baseline.sold_by_key.get(k, 0)) for k in dest_keys
    )
    transferred_sold = min(units, extra_at_dest)
    lost_value_avoided = round(baseline.lost_value - outcome.lost_value, 2)
    touched = sorted(dest_keys | {(m.source, m.sku) for m in moves})
    change = [outcome.sold_by_key.get(k, 0) - baseline.sold_by_key.get(k, 0) for k in touched]
    received = [outcome.received_by_key.get(k, 0) for k in touched]
    margin = [inputs.margin_of(k) for k in touched]
    unsold_cost = [inputs.unsold_cost.get(k, 0.0) for k in touched]
    values = position_value(margin, unsold_cost, change, received)
    recovered = position_value(margin, 0.0, change, 0.0)
    unsold_units = sum(max(0, r - max(0, c)) for r, c in zip(received, change, strict=True))
    margin_recovered = float(recovered.sum()) if touched else 0.0
    unsold_value = margin_recovered - (float(values.sum()) if touched else 0.0)
    return PlanScore(
        units_transferred=units,
        transfer_cost=round(transfer_cost, 2),
        lost_units=outcome.lost_units,
        lost_value=outcome.lost_value,
        lost_units_avoided=baseline.lost_units - outcome.lost_units,
        lost_value_avoided=lost_value_avoided,
        margin_recovered=round(margin_recovered, 2),
        unsold_units=unsold_units,
        unsold_cost=round(unsold_value, 2),
        net_value=round(net_value(values, transfer_cost), 2),
        transferred_units_sold=transferred_sold,
        sell_through=round(transferred_sold / units, 4) if units else None,
    )


class ReplayKpis(BaseModel):
    """The headline numbers of one scenario run (DESIGN §7)."""

    window_days: int
    no_action_lost_units: int
    no_action_lost_value: float
    executed: PlanScore
    hindsight: PlanScore | None
    hindsight_note: str | None = None
    capture_share: float | None = Field(
        description="Executed net value ÷ hindsight-optimal net value; None when nothing could "
        "be gained."
    )

    def flat(self) -> dict[str, float | None]:
        """Named KPIs for floors and tables."""
        return {
            "lost_units_avoided": float(self.executed.lost_units_avoided),
            "lost_value_avoided": self.executed.lost_value_avoided,
            "margin_recovered": self.executed.margin_recovered,
            "unsold_units": float(self.executed.unsold_units),
            "unsold_cost": self.executed.unsold_cost,
            "transfer_cost": self.executed.transfer_cost,
            "net_value": self.executed.net_value,
            "units_transferred": float(self.executed.units_transferred),
            "transferred_units_sold": float(self.executed.transferred_units_sold),
            "sell_through": self.executed.sell_through,
            "hindsight_net_value": self.hindsight.net_value if self.hindsight else None,
            "capture_share": self.capture_share,
        }


#: Below this hindsight net value (CNY) there was nothing worth doing; capture is undefined.
MIN_GAIN_FOR_CAPTURE = 1.0


def capture_share(executed_net: float, hindsight_net: float | None) -> float | None:
    if hindsight_net is None or hindsight_net < MIN_GAIN_FOR_CAPTURE:
        return None
    return round(executed_net / hindsight_net, 4)
