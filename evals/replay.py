"""Counterfactual replay: what the realised demand would have sold with the executed transfers,
with no action, and with the hindsight-optimal plan.

The hindsight plan is the production optimiser (``tools.plan_transfers.solver.solve``) handed the
demand that really came (the demo world's ``future_demand``) as a point forecast, so "optimal"
means the same constraints ops live with, just without forecast error.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from evals.kpis import (
    Move,
    ReplayInputs,
    ReplayKpis,
    capture_share,
    score_plan,
    simulate,
)
from inventory.models import (
    FutureDemand,
    Lane,
    Location,
    Sku,
    StockPosition,
    Style,
    TransferLine,
    TransferOrder,
)
from tools.plan_transfers.problem import (
    LaneArrays,
    LocationNode,
    SkuNode,
    SolvedPlan,
    TransferProblem,
)
from tools.plan_transfers.solver import solve
from tools.plan_transfers.value import (
    ValueTerms,
    freight,
    load_value_terms,
    position_economics,
)

#: Orders whose goods left the source: what the world actually did.
EXECUTED_STATUSES = ("dispatched", "received")


@dataclass(frozen=True)
class StartPosition:
    location: str
    sku: str
    on_hand: int
    reserved: int
    safety: int
    min_display: int
    in_transit_in: int
    last_received_at: dt.datetime | None


@dataclass(frozen=True)
class LaneInfo:
    lead_time_hours: float
    cost_per_unit: float
    cost_per_shipment: float


def snapshot_stock(engine: Engine) -> list[StartPosition]:
    """Stock at the start of a scenario (taken after overrides, before the trigger)."""
    with Session(engine) as session:
        rows = session.exec(select(StockPosition)).all()
        return [
            StartPosition(
                location=r.location_code,
                sku=r.sku_code,
                on_hand=r.on_hand,
                reserved=r.reserved,
                safety=r.safety,
                min_display=r.min_display,
                in_transit_in=r.in_transit_in,
                last_received_at=r.last_received_at,
            )
            for r in rows
        ]


def arrival_day(now: dt.datetime, lead_time_hours: float) -> int:
    """First window day (0 = the day of 'now') on which goods sent now can sell."""
    return math.floor((now.hour + now.minute / 60 + lead_time_hours) / 24)


def _lanes(session: Session) -> dict[tuple[str, str], LaneInfo]:
    return {
        (lane.source_code, lane.dest_code): LaneInfo(
            lane.lead_time_hours, lane.cost_per_unit, lane.cost_per_shipment
        )
        for lane in session.exec(select(Lane))
    }


def _shipment_cost(
    lines: dict[tuple[str, str], int], lanes: dict[tuple[str, str], LaneInfo]
) -> float:
    """Freight of shipments grouped by lane: per-unit cost plus one fixed cost per lane used."""
    total = 0.0
    for lane_key, units in lines.items():
        lane = lanes.get(lane_key)
        if lane is None or units <= 0:
            continue
        total += float(freight(units, lane.cost_per_unit, lane.cost_per_shipment))
    return total


@dataclass(frozen=True)
class Catalogue:
    """The world's locations, SKUs and lanes as the optimiser sees them, with the per-position
    margin and unsold cost of the one value definition (``tools.plan_transfers.value``)."""

    locations: list[LocationNode]
    skus: list[SkuNode]
    categories: list[str]
    lanes: dict[tuple[str, str], LaneInfo]
    lane_arrays: LaneArrays
    margin: np.ndarray
    unsold_cost: np.ndarray
    terms: ValueTerms


def read_catalogue(engine: Engine, terms: ValueTerms) -> Catalogue:
    with Session(engine) as session:
        locations = list(session.exec(select(Location).order_by(Location.code)))
        lanes = _lanes(session)
        sku_rows = session.exec(
            select(Sku, Style).join(Style, Style.code == Sku.style_code).order_by(Sku.code)
        ).all()
    nodes = [
        LocationNode(code=loc.code, city=loc.city, region=loc.region, kind=loc.kind, tier=loc.tier)
        for loc in locations
    ]
    skus = [
        SkuNode(
            code=sku.code,
            style=style.code,
            size=sku.size,
            size_index=sku.size_index,
            price=style.price,
            core=sku.size in (style.core_sizes or []),
            cost=style.cost,
            category=style.category,
        )
        for sku, style in sku_rows
    ]
    index = {loc.code: i for i, loc in enumerate(nodes)}
    keys = [key for key in lanes if key[0] in index and key[1] in index]
    arrays = LaneArrays(
        source=np.array([index[s] for s, _ in keys], dtype=np.int64),
        dest=np.array([index[d] for _, d in keys], dtype=np.int64),
        lead_time_hours=np.array([lanes[k].lead_time_hours for k in keys], dtype=float),
        cost_per_unit=np.array([lanes[k].cost_per_unit for k in keys], dtype=float),
        cost_per_shipment=np.array([lanes[k].cost_per_shipment for k in keys], dtype=float),
    )
    margin, unsold = position_economics(nodes, skus, arrays, terms)
    return Catalogue(
        locations=nodes,
        skus=skus,
        categories=[style.category for _, style in sku_rows],
        lanes=lanes,
        lane_arrays=arrays,
        margin=margin,
        unsold_cost=unsold,
        terms=terms,
    )


def replay_inputs(
    engine: Engine,
    start: list[StartPosition],
    now: dt.datetime,
    days: int,
    catalogue: Catalogue | None = None,
) -> ReplayInputs:
    """Start stock, realised demand over the window, prices and margins, read from the world."""
    catalogue = catalogue or read_catalogue(engine, load_value_terms())
    first, last = now.date(), now.date() + dt.timedelta(days=days - 1)
    price = {sku.code: sku.price for sku in catalogue.skus}
    with Session(engine) as session:
        demand: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * days)
        rows = session.exec(
            select(FutureDemand).where(FutureDemand.date >= first, FutureDemand.date <= last)
        )
        for row in rows:
            demand[(row.location_code, row.sku_code)][(row.date - first).days] += row.units
    if not demand:
        raise ReplayError(
            f"the world holds no future_demand between {first} and {last}: nothing to replay"
        )
    stock = {(p.location, p.sku): max(0, p.on_hand - p.reserved) for p in start}
    inbound = {(p.location, p.sku): p.in_transit_in for p in start if p.in_transit_in > 0}
    margin: dict[tuple[str, str], float] = {}
    unsold: dict[tuple[str, str], float] = {}
    for i, loc in enumerate(catalogue.locations):
        if loc.kind == "dc":
            continue
        for j, sku in enumerate(catalogue.skus):
            margin[(loc.code, sku.code)] = float(catalogue.margin[i, j])
            unsold[(loc.code, sku.code)] = float(catalogue.unsold_cost[i, j])
    return ReplayInputs(
        days=days,
        stock=stock,
        demand=dict(demand),
        price=price,
        inbound=inbound,
        margin=margin,
        unsold_cost=unsold,
    )


class ReplayError(RuntimeError):
    """The replay cannot be computed; the message says which input is missing."""


def executed_moves(engine: Engine, now: dt.datetime) -> tuple[list[Move], float]:
    """Transfers whose goods left their source during the run, and what they cost."""
    with Session(engine) as session:
        lanes = _lanes(session)
        orders = session.exec(
            select(TransferOrder).where(TransferOrder.status.in_(EXECUTED_STATUSES))  # type: ignore[attr-defined]
        ).all()
        moves: list[Move] = []
        per_lane: dict[tuple[str, str], int] = defaultdict(int)
        for order in orders:
            lane = lanes.get((order.source_code, order.dest_code))
            lead = lane.lead_time_hours if lane else order.lead_time_hours
            for line in session.exec(select(TransferLine).where(TransferLine.order_id == order.id)):
                if line.qty <= 0:
                    continue
                moves.append(
                    Move(
                        source=order.source_code,
                        dest=order.dest_code,
                        sku=line.sku_code,
                        qty=line.qty,
                        arrival_day=arrival_day(now, lead),
                    )
                )
                per_lane[(order.source_code, order.dest_code)] += line.qty
        return moves, _shipment_cost(per_lane, lanes)


@dataclass(frozen=True)
class Scope:
    """The decision the hindsight plan may take: destinations and categories (None = all)."""

    city: str | None = None
    categories: frozenset[str] | None = None


def hindsight_moves(
    engine: Engine,
    start: list[StartPosition],
    inputs: ReplayInputs,
    now: dt.datetime,
    scope: Scope | None = None,
    catalogue: Catalogue | None = None,
) -> tuple[list[Move], float]:
    """The optimiser's plan had it known the realised demand (a point forecast)."""
    scope = scope or Scope()
    catalogue = catalogue or read_catalogue(engine, load_value_terms())
    locations, lanes = catalogue.locations, catalogue.lanes
    demanded = {sku for (_, sku), series in inputs.demand.items() if sum(series)}
    chosen = [
        j
        for j, sku in enumerate(catalogue.skus)
        if sku.code in demanded
        and (scope.categories is None or catalogue.categories[j] in scope.categories)
    ]
    if not chosen:
        return [], 0.0
    skus = [catalogue.skus[j] for j in chosen]
    loc_index = {loc.code: i for i, loc in enumerate(locations)}
    sku_index = {sku.code: n for n, sku in enumerate(skus)}
    shape = (len(locations), len(skus))
    stock = np.zeros(shape)
    atp = np.zeros(shape)
    min_display = np.zeros(shape)
    since = np.full(shape, np.inf)
    for pos in start:
        i, j = loc_index.get(pos.location), sku_index.get(pos.sku)
        if i is None or j is None:
            continue
        stock[i, j] = max(0, pos.on_hand - pos.reserved)
        atp[i, j] = min(stock[i, j], max(0, pos.on_hand - pos.reserved - pos.safety))
        min_display[i, j] = pos.min_display
        if pos.last_received_at is not None:
            since[i, j] = max(0.0, (now - pos.last_received_at).total_seconds() / 86400)
    mean = np.zeros(shape)
    for (loc, sku), series in inputs.demand.items():
        i, j = loc_index.get(loc), sku_index.get(sku)
        if i is not None and j is not None:
            mean[i, j] = float(sum(series))
    problem = TransferProblem(
        locations=locations,
        skus=skus,
        stock=stock,
        atp=atp,
        min_display=min_display,
        days_since_received=since,
        # Levels 0 and 1 at the realised total: E[min(S, D)] = min(S, d), known demand.
        demand_levels=np.array([0.0, 1.0]),
        demand_quantiles=np.stack([mean, mean], axis=2),
        demand_mean=mean,
        lanes=catalogue.lane_arrays,
        window_days=inputs.days,
        destinations=(
            frozenset(
                loc.code for loc in locations if loc.kind == "store" and loc.city == scope.city
            )
            if scope.city
            else None
        ),
        value_terms=catalogue.terms,
    )
    return plan_moves(problem, solve(problem), now, lanes)


def plan_moves(
    problem: TransferProblem,
    solved: SolvedPlan,
    now: dt.datetime,
    lanes: dict[tuple[str, str], LaneInfo],
) -> tuple[list[Move], float]:
    """A solved plan as replay moves sent at ``now``, and their freight."""
    moves: list[Move] = []
    per_lane: dict[tuple[str, str], int] = defaultdict(int)
    for source, dest, sku, qty in plan_lines(problem, solved):
        lane = lanes[(source, dest)]
        moves.append(
            Move(
                source=source,
                dest=dest,
                sku=sku,
                qty=qty,
                arrival_day=arrival_day(now, lane.lead_time_hours),
            )
        )
        per_lane[(source, dest)] += qty
    return moves, _shipment_cost(per_lane, lanes)


def plan_lines(problem: TransferProblem, solved: SolvedPlan) -> list[tuple[str, str, str, int]]:
    """(source, dest, sku, qty) codes of every positive line of a solved plan."""
    lines: list[tuple[str, str, str, int]] = []
    for shipment in solved.shipments:
        source = problem.locations[shipment.source].code
        dest = problem.locations[shipment.dest].code
        for line in shipment.lines:
            if line.qty > 0:
                lines.append((source, dest, problem.skus[line.sku].code, int(line.qty)))
    return lines


def replay(
    engine: Engine,
    start: list[StartPosition],
    now: dt.datetime,
    days: int,
    scope: Scope | None = None,
    terms: ValueTerms | None = None,
) -> ReplayKpis:
    """Executed vs no action vs hindsight-optimal over ``days`` of realised demand, valued with
    ``terms`` (the shipped value terms when None)."""
    catalogue = read_catalogue(engine, terms or load_value_terms())
    inputs = replay_inputs(engine, start, now, days, catalogue)
    baseline = simulate(inputs, [])
    moves, cost = executed_moves(engine, now)
    executed = score_plan(inputs, baseline, moves, cost)
    hindsight = None
    note = None
    h_moves, h_cost = hindsight_moves(engine, start, inputs, now, scope, catalogue)
    hindsight = score_plan(inputs, baseline, h_moves, h_cost)
    if hindsight.net_value < 0:
        # Doing nothing is always feasible, so the hindsight optimum is never below it.
        note = (
            f"the optimiser's hindsight plan scored ¥{hindsight.net_value:,.0f} in the day-by-day "
            "replay (it plans window totals); doing nothing is the hindsight optimum here"
        )
        hindsight = score_plan(inputs, baseline, [], 0.0)
    elif hindsight.net_value < executed.net_value:
        note = (
            "the executed plan beat the hindsight plan: the optimiser plans window totals, "
            "the replay also counts arrival days and source-side losses"
        )
    return ReplayKpis(
        window_days=days,
        no_action_lost_units=baseline.lost_units,
        no_action_lost_value=baseline.lost_value,
        executed=executed,
        hindsight=hindsight,
        hindsight_note=note,
        capture_share=capture_share(executed.net_value, hindsight.net_value if hindsight else None),
    )
