"""Turns proposals into transfer orders / promo proposals through the executor, idempotently.

A node that writes here may run twice (crash before its checkpoint); each proposal carries a key
and an ``agent.proposal`` audit row remembers which order the key produced.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session, select

from agents.executor import orders as executor_orders
from agents.executor import promos as executor_promos
from agents.executor.audit import record_event
from agents.executor.models import PromoDraft
from agents.graphs.common.state import ProposalRecord
from agents.proposals import MarkdownProposalInput, ProposedShipment
from inventory.models import AuditEvent, Lane, Sku, StockPosition, Style
from tools.plan_transfers.models import LineReason, Shipment, TransferLineProposal
from tools.plan_transfers.value import freight, yuan


class ProposalInvalid(ValueError):
    """A proposal names something the pool does not have (SKU, lane, style)."""


def _existing_subject(session: Session, run_id: str, key: str) -> str | None:
    rows = session.exec(
        select(AuditEvent).where(AuditEvent.kind == "agent.proposal", AuditEvent.run_id == run_id)
    ).all()
    for row in rows:
        if row.payload.get("proposal_key") == key:
            return row.subject_id
    return None


def retail_value(session: Session, sku_qty: list[tuple[str, int]]) -> float:
    value = 0.0
    for sku_code, qty in sku_qty:
        sku = session.get(Sku, sku_code)
        if sku is None:
            raise ProposalInvalid(f"unknown SKU {sku_code!r}")
        style = session.get(Style, sku.style_code)
        assert style is not None
        value += qty * style.price
    return round(value, 2)


def price_shipment(session: Session, proposed: ProposedShipment) -> Shipment:
    """A Shipment priced from the pool's lanes and catalogue.

    Raises:
        ProposalInvalid: no lane, an unknown SKU, or a line above the source's ATP (refused
            here, before any approver sees it; approval re-checks ATP when it reserves).
    """
    lane = session.exec(
        select(Lane).where(Lane.source_code == proposed.source, Lane.dest_code == proposed.dest)
    ).first()
    if lane is None:
        raise ProposalInvalid(f"no lane from {proposed.source!r} to {proposed.dest!r}")
    lines: list[TransferLineProposal] = []
    for line in proposed.lines:
        sku = session.get(Sku, line.sku)
        if sku is None:
            raise ProposalInvalid(f"unknown SKU {line.sku!r}")
        position = session.exec(
            select(StockPosition).where(
                StockPosition.location_code == proposed.source, StockPosition.sku_code == line.sku
            )
        ).first()
        atp = position.atp if position else 0
        if line.qty > atp:
            raise ProposalInvalid(
                f"{proposed.source} has {atp} units of {line.sku} available to promise; "
                f"cannot propose moving {line.qty}"
            )
        line_cost = round(line.qty * lane.cost_per_unit, 2)
        lines.append(
            TransferLineProposal(
                sku=line.sku,
                style=sku.style_code,
                size=sku.size,
                qty=line.qty,
                reason=LineReason(
                    expected_units_saved=0.0,
                    expected_value=0.0,
                    cost=line_cost,
                    dest_days_to_stockout_before=None,
                    dest_days_to_stockout_after=None,
                    source_atp_after=atp - line.qty,
                ),
            )
        )
    units = sum(line.qty for line in lines)
    cost = round(float(freight(units, lane.cost_per_unit, lane.cost_per_shipment)), 2)
    return Shipment(
        source=proposed.source,
        dest=proposed.dest,
        lead_time_hours=lane.lead_time_hours,
        lines=lines,
        units=units,
        expected_value=0.0,
        cost=cost,
        net_value=-cost,
    )


def shipment_action(shipment: Shipment) -> dict[str, Any]:
    """The editable action a human sees: source, dest and (sku, qty) lines."""
    return {
        "name": "transfer_order",
        "args": {
            "source": shipment.source,
            "dest": shipment.dest,
            "lines": [{"sku": line.sku, "qty": line.qty} for line in shipment.lines],
        },
    }


def create_transfer(
    session: Session,
    shipment: Shipment,
    *,
    key: str,
    run_id: str,
    requested_by: str,
    reason: str,
    emergency: bool,
    origin: str | None,
    at: dt.datetime,
) -> ProposalRecord:
    """A proposed transfer order for the shipment (once per key) and its gate record."""
    subject_id = _existing_subject(session, run_id, key)
    if subject_id is None:
        order = executor_orders.create_transfer_order(
            session, shipment, run_id=run_id, requested_by=requested_by, at=at, reason=reason
        )
        subject_id = order.id
        record_event(
            session,
            at=at,
            actor=requested_by,
            kind="agent.proposal",
            subject_type="transfer_order",
            subject_id=subject_id,
            run_id=run_id,
            payload={"proposal_key": key, "origin": origin},
        )
    value = retail_value(session, [(line.sku, line.qty) for line in shipment.lines])
    return ProposalRecord(
        kind="transfer_order",
        subject_id=subject_id,
        requested_by=requested_by,
        units=shipment.units,
        value=value,
        cost=shipment.cost,
        depth=None,
        emergency=emergency,
        net_value=shipment.net_value if shipment.expected_value else None,
        net_value_if_no_rain=shipment.net_value_if_no_rain,
        summary=(
            f"{shipment.source} → {shipment.dest}: {shipment.units} units, "
            f"retail value ¥{value:,.0f}, freight ¥{shipment.cost:,.0f}, " + _value_note(shipment)
        ),
        action=shipment_action(shipment),
        origin=origin,
        expected_value=shipment.expected_value or None,
        reason=reason,
    )


def _value_note(shipment: Shipment) -> str:
    """The plan's value of a shipment, as the approver sees it (``tools.plan_transfers.value``)."""
    if not shipment.expected_value:
        return "expected value not assessed (no forecast behind this proposal)"
    risk = sum(line.reason.unsold_risk for line in shipment.lines)
    note = (
        f"expected net value ¥{shipment.net_value:,.0f} (margin recovered "
        f"¥{shipment.expected_value + risk:,.0f} − unsold risk ¥{risk:,.0f} − freight)"
    )
    if shipment.net_value_if_no_rain is not None:
        note += f"; {yuan(shipment.net_value_if_no_rain)} if the warned rain does not fall"
    return note


def create_markdown(
    session: Session,
    proposal: MarkdownProposalInput,
    *,
    key: str,
    run_id: str,
    requested_by: str,
    origin: str | None,
    at: dt.datetime,
    expected: dict[str, float] | None = None,
) -> ProposalRecord:
    style = session.get(Style, proposal.style)
    if style is None:
        raise ProposalInvalid(f"unknown style {proposal.style!r}")
    expected = expected or {}
    subject_id = _existing_subject(session, run_id, key)
    if subject_id is None:
        draft = PromoDraft(
            style=proposal.style,
            location=proposal.location,
            depth=proposal.depth,
            expected_extra_units=expected.get("expected_extra_units", 0.0),
            expected_revenue=expected.get("expected_revenue", 0.0),
            margin_impact=expected.get("margin_impact", 0.0),
            details={"reason": proposal.reason},
        )
        row = executor_promos.create_promo_proposal(
            session, draft, run_id=run_id, requested_by=requested_by, at=at
        )
        subject_id = row.id
        record_event(
            session,
            at=at,
            actor=requested_by,
            kind="agent.proposal",
            subject_type="promo_proposal",
            subject_id=subject_id,
            run_id=run_id,
            payload={"proposal_key": key, "origin": origin},
        )
    where = proposal.location or "all locations"
    return ProposalRecord(
        kind="promo_proposal",
        subject_id=subject_id,
        requested_by=requested_by,
        units=0,
        value=0.0,
        cost=0.0,
        depth=proposal.depth,
        emergency=False,
        summary=f"markdown {proposal.style} at {where}: {proposal.depth:.0%} off",
        action={"name": "markdown", "args": proposal.model_dump(exclude={"reason"})},
        origin=origin,
        expected_value=expected.get("expected_revenue"),
        margin_impact=expected.get("margin_impact"),
        reason=proposal.reason,
    )
