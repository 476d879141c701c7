"""A tiny pool for executor and dispatcher tests: two Shanghai stores and one rain-boot style."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from inventory.db import session_scope
from inventory.models import StockPosition
from tests.utils.factories import add_location, add_position, add_skus, add_style
from tools.plan_transfers.models import LineReason, Shipment, TransferLineProposal

NOW = dt.datetime(2015, 7, 1, 9, 0)
SOURCE = "SHA-S01"
DEST = "SHA-S02"


def seed_pool(engine: Engine, *, on_hand: int = 10, safety: int = 0) -> list[str]:
    """Source holds ``on_hand`` of every size, destination holds nothing; returns SKU codes."""
    with session_scope(engine) as session:
        add_location(session, SOURCE)
        add_location(session, DEST)
        style = add_style(session, "RB1")
        skus = [sku.code for sku in add_skus(session, style)]
        for code in skus:
            add_position(session, SOURCE, code, on_hand=on_hand, safety=safety)
    return skus


def shipment(lines: list[tuple[str, int]], *, source: str = SOURCE, dest: str = DEST) -> Shipment:
    proposals = [
        TransferLineProposal(
            sku=sku,
            style=sku.split("-")[0],
            size=sku.rsplit("-", 1)[1],
            qty=qty,
            reason=LineReason(
                expected_units_saved=qty * 0.8,
                expected_value=qty * 0.8 * 299.0,
                cost=qty * 4.0,
                dest_days_to_stockout_before=0.5,
                dest_days_to_stockout_after=3.0,
                source_atp_after=10 - qty,
            ),
        )
        for sku, qty in lines
    ]
    value = sum(p.reason.expected_value for p in proposals)
    cost = sum(p.reason.cost for p in proposals)
    return Shipment(
        source=source,
        dest=dest,
        lead_time_hours=6.0,
        lines=proposals,
        units=sum(qty for _, qty in lines),
        expected_value=value,
        cost=cost,
        net_value=value - cost,
    )


def position(engine: Engine, location: str, sku: str) -> StockPosition | None:
    with Session(engine) as session:
        return session.exec(
            select(StockPosition).where(
                StockPosition.location_code == location, StockPosition.sku_code == sku
            )
        ).first()


def decided(
    session: Session, subject_id: str, by: str, subject_type: str = "transfer_order"
) -> None:
    """Record a human approval of the subject (the executor acts only on a decided Approval)."""
    from agents.approvals import approval_id
    from inventory.models import Approval, PromoProposal, TransferOrder

    if session.get(Approval, approval_id(subject_id)) is not None:
        return
    model = TransferOrder if subject_type == "transfer_order" else PromoProposal
    subject = session.get(model, subject_id)
    assert subject is not None, subject_id
    session.add(
        Approval(
            id=approval_id(subject_id),
            subject_type=subject_type,
            subject_id=subject_id,
            status="approved",
            requested_by=subject.requested_by,
            decided_by=by,
            policy_rule="test: decided by hand",
            requested_at=NOW.replace(tzinfo=dt.UTC),
            decided_at=NOW.replace(tzinfo=dt.UTC),
            payload={
                "approver_roles": ["approver"],
                "approvers_required": 1,
                "distinct_from_requester": False,
            },
        )
    )
    session.flush()
