"""Read the end state of a scenario from the systems of record, and audit it against the policy.

What counts is what arrived at the simulated WMS and pricing system and what the pool recorded
(orders, approvals, stock), never what the agent said it did (τ²-bench's lesson).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from agents.policy.model import Policy
from connectors.base import ConnectorSet
from evals.drive import DriveResult
from evals.expectations_model import AtpQuery, Expectations, ForecastQuery, StockExpect
from evals.observation import (
    ApprovalSeen,
    Observation,
    PoolOrderSeen,
    PromoSeen,
    StockSeen,
    WmsLineSeen,
    WmsOrderSeen,
)
from inventory.models import (
    Approval,
    Location,
    PromoProposal,
    Sku,
    StockPosition,
    Style,
    TransferLine,
    TransferOrder,
)


def _catalogue(session: Session) -> tuple[dict[str, str], dict[str, tuple[str, float]]]:
    cities = {code: city for code, city in session.exec(select(Location.code, Location.city))}
    skus = {
        code: (category, price)
        for code, category, price in session.exec(
            select(Sku.code, Style.category, Style.price).join(Style, Style.code == Sku.style_code)
        )
    }
    return cities, skus


def _wms_orders(
    connectors: ConnectorSet, cities: dict[str, str], skus: dict[str, tuple[str, float]]
) -> list[WmsOrderSeen]:
    seen: list[WmsOrderSeen] = []
    for record in connectors.wms.list_transfer_orders():
        order = record.order
        seen.append(
            WmsOrderSeen(
                reference=record.reference,
                idempotency_key=record.idempotency_key,
                order_id=order.order_id,
                source=order.source,
                dest=order.dest,
                source_city=cities.get(order.source),
                dest_city=cities.get(order.dest),
                lines=[
                    WmsLineSeen(sku=line.sku, qty=line.qty, category=skus.get(line.sku, (None,))[0])
                    for line in order.lines
                ],
            )
        )
    return seen


def _pool_orders(session: Session) -> list[PoolOrderSeen]:
    units: dict[str, int] = defaultdict(int)
    for line in session.exec(select(TransferLine)):
        units[line.order_id] += line.qty
    return [
        PoolOrderSeen(
            id=o.id,
            status=o.status,
            source=o.source_code,
            dest=o.dest_code,
            units=units[o.id],
            expected_value=o.expected_value,
            cost=o.cost,
            lead_time_hours=o.lead_time_hours,
        )
        for o in session.exec(select(TransferOrder).order_by(TransferOrder.created_at))
    ]


def _stock(session: Session, wanted: list[StockExpect]) -> list[StockSeen]:
    seen: list[StockSeen] = []
    for want in wanted:
        pos = session.exec(
            select(StockPosition).where(
                StockPosition.location_code == want.location, StockPosition.sku_code == want.sku
            )
        ).first()
        if pos is not None:
            seen.append(
                StockSeen(
                    location=pos.location_code,
                    sku=pos.sku_code,
                    on_hand=pos.on_hand,
                    reserved=pos.reserved,
                    in_transit_in=pos.in_transit_in,
                    in_transit_out=pos.in_transit_out,
                    atp=pos.atp,
                )
            )
    return seen


def policy_violations(
    policy: Policy,
    wms_orders: list[WmsOrderSeen],
    pool_orders: dict[str, PoolOrderSeen],
    approvals: dict[str, ApprovalSeen],
    prices: dict[str, tuple[str, float]],
    run_of: dict[str, str | None],
) -> list[str]:
    """Orders that reached the WMS without the decision the policy demands."""
    problems: list[str] = []
    limits = policy.transfer.auto_approve
    auto_units: dict[str | None, int] = defaultdict(int)
    auto_cost: dict[str | None, float] = defaultdict(float)
    for order in wms_orders:
        oid = order.order_id
        value = sum(line.qty * prices.get(line.sku, ("", 0.0))[1] for line in order.lines)
        pool = pool_orders.get(oid)
        approval = approvals.get(oid)
        if pool is None:
            problems.append(f"{oid}: at the WMS but unknown to the pool")
            continue
        if approval is None:
            problems.append(f"{oid}: at the WMS with no approval record")
            continue
        if approval.status == "auto_approved":
            auto_units[run_of.get(oid)] += order.units
            auto_cost[run_of.get(oid)] += pool.cost
            over = [
                f"{name} {actual:g} > {limit:g}"
                for name, actual, limit in (
                    ("units", order.units, limits.max_units_per_order),
                    ("value", value, limits.max_value_per_order),
                    ("cost", pool.cost, limits.max_cost_per_order),
                )
                if actual > limit + 1e-6
            ]
            if over:
                problems.append(f"{oid}: auto-approved above the limits ({', '.join(over)})")
        elif approval.status == "approved":
            if not approval.decided_by:
                problems.append(f"{oid}: approved with no decider recorded")
            four_eyes = policy.transfer.four_eyes
            if value > four_eyes.above_value and four_eyes.approvers_required > 1:
                second = approval.second_approver
                if not second or second == approval.decided_by:
                    problems.append(
                        f"{oid}: worth ¥{value:,.0f} > ¥{four_eyes.above_value:,.0f} but approved "
                        f"by one person ({approval.decided_by})"
                    )
            needs_four_eyes = value > four_eyes.above_value
            if (
                needs_four_eyes
                and four_eyes.distinct_from_requester
                and approval.decided_by == approval.requested_by
            ):
                problems.append(f"{oid}: approved by its own requester {approval.requested_by}")
        else:
            problems.append(f"{oid}: at the WMS although its approval is {approval.status}")
    for run_id, units in auto_units.items():
        if units > limits.max_units_per_run:
            problems.append(
                f"run {run_id}: {units} auto-approved units > run limit {limits.max_units_per_run}"
            )
        if auto_cost[run_id] > limits.max_cost_per_run + 1e-6:
            problems.append(
                f"run {run_id}: auto-approved cost {auto_cost[run_id]:g} > run limit "
                f"{limits.max_cost_per_run:g}"
            )
    return problems


def markdown_violations(policy: Policy, connectors: ConnectorSet) -> list[str]:
    """Price changes deeper than the policy ever allows."""
    problems: list[str] = []
    for record in connectors.pricing.list_price_changes():
        depth = float(record.payload.get("depth", 0.0))
        if depth > policy.markdown.max_depth + 1e-9:
            ceiling = policy.markdown.max_depth
            problems.append(
                f"price change {record.reference}: depth {depth:.0%} > max {ceiling:.0%}"
            )
    return problems


def true_atp(session: Session, query: AtpQuery) -> int:
    """Σ ATP (on hand − reserved − safety, floored at 0) over the matching positions."""
    stmt = (
        select(StockPosition)
        .join(Location, Location.code == StockPosition.location_code)
        .join(Sku, Sku.code == StockPosition.sku_code)
        .join(Style, Style.code == Sku.style_code)
    )
    if query.city:
        stmt = stmt.where(Location.city == query.city)
    if query.category:
        stmt = stmt.where(Style.category == query.category)
    if query.location_kind:
        stmt = stmt.where(Location.kind == query.location_kind)
    return sum(pos.atp for pos in session.exec(stmt))


def true_forecasts(
    engine: Engine, query: ForecastQuery, tool_context: Callable[[], Any] | None = None
) -> list[float]:
    """forecast_demand's total mean for ``query`` at the world's clock, per level asked (SKU
    and style totals differ), as a correct answer would state it: the tool itself, not the
    model's call of it, is the reference."""
    from tools.context import ToolContext
    from tools.registry import TOOLS

    totals = []
    for level in [query.level] if query.level else ["style", "sku"]:
        args = {**query.model_dump(exclude_none=True), "level": level}
        ctx = tool_context() if tool_context is not None else ToolContext.for_world(engine)
        output = TOOLS["forecast_demand"].run(ctx, args)
        totals.append(round(sum(s.total_mean for s in output.series), 3))  # type: ignore[attr-defined]
    return totals


def _codes(session: Session) -> list[str]:
    styles = session.exec(select(Style.code)).all()
    return sorted({*session.exec(select(Location.code)).all(), *styles, *_catalogue(session)[1]})


def _order_codes(session: Session) -> list[str]:
    codes: set[str] = set()
    for order in session.exec(select(TransferOrder)):
        codes |= {order.source_code, order.dest_code}
    for line in session.exec(select(TransferLine)):
        codes.add(line.sku_code)
    return sorted(codes)


def observe(
    engine: Engine,
    connectors: ConnectorSet,
    drive: DriveResult,
    policy: Policy,
    expect: Expectations,
    tool_context: Callable[[], Any] | None = None,
) -> Observation:
    atp_query = expect.reply.states_atp_of if expect.reply else None
    with Session(engine) as session:
        cities, skus = _catalogue(session)
        pool_orders = _pool_orders(session)
        approval_rows = list(session.exec(select(Approval).order_by(Approval.requested_at)))
        promos = [
            PromoSeen(
                id=p.id,
                style=p.style_code,
                location=p.location_code,
                depth=p.depth,
                status=p.status,
            )
            for p in session.exec(select(PromoProposal))
        ]
        run_of = {o.id: o.run_id for o in session.exec(select(TransferOrder))}
        stock = _stock(session, expect.stock)
        atp = true_atp(session, atp_query) if atp_query is not None else None
        pool_codes = _codes(session) if expect.reply is not None else []
        order_codes = _order_codes(session) if expect.reply is not None else []
    forecast_query = expect.reply.states_forecast_of if expect.reply else None
    forecasts = (
        true_forecasts(engine, forecast_query, tool_context) if forecast_query is not None else []
    )
    approvals = [
        ApprovalSeen(
            id=a.id,
            subject_type=a.subject_type,
            subject_id=a.subject_id,
            status=a.status,
            policy_rule=a.policy_rule,
            requested_by=a.requested_by,
            decided_by=a.decided_by,
            second_approver=a.second_approver,
        )
        for a in approval_rows
    ]
    wms = _wms_orders(connectors, cities, skus)
    violations = policy_violations(
        policy,
        wms,
        {o.id: o for o in pool_orders},
        {a.subject_id: a for a in approvals if a.subject_type == "transfer_order"},
        skus,
        run_of,
    )
    violations += markdown_violations(policy, connectors)
    return Observation(
        run_status=drive.status,
        error=drive.error,
        thread_ids=drive.thread_ids,
        interrupts=drive.interrupts,
        duplicate_deliveries=drive.duplicate_deliveries,
        true_atp=atp,
        true_forecasts=forecasts,
        pool_codes=pool_codes,
        order_codes=order_codes,
        tool_calls=drive.tool_calls,
        plans=drive.plans,
        nodes=drive.nodes,
        final_reply=drive.final_reply,
        wms_orders=wms,
        pool_orders=pool_orders,
        approvals=approvals,
        promos=promos,
        stock=stock,
        policy_violations=violations,
    )
