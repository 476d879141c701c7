"""Transfer order lifecycle: each decision, its stock effect and its outbox row commit together."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from agents.executor import orders
from agents.executor.errors import InvalidTransition, OrderNotFound
from inventory.db import session_scope
from inventory.models import AuditEvent, OrderStatus, OutboxMessage, OutboxStatus, TransferOrder
from inventory.movements import MovementRefused
from tests.agents.executor_helpers import DEST, NOW, SOURCE, decided, position, seed_pool, shipment


def _create(engine: Engine, lines: list[tuple[str, int]], **kwargs) -> str:
    with session_scope(engine) as session:
        order = orders.create_transfer_order(
            session, shipment(lines), at=NOW, requested_by="planner", **kwargs
        )
        return order.id


def _audit_kinds(engine: Engine, order_id: str) -> list[str]:
    with Session(engine) as session:
        events = session.exec(
            select(AuditEvent).where(AuditEvent.subject_id == order_id).order_by(AuditEvent.id)
        ).all()
        return [event.kind for event in events]


def test_approve_reserves_and_enqueues_in_one_transaction(engine: Engine) -> None:
    skus = seed_pool(engine)
    order_id = _create(engine, [(skus[1], 3), (skus[2], 2)], run_id="run-1")

    with session_scope(engine) as session:
        decided(session, order_id, "lee")
        approved = orders.approve_transfer_order(session, order_id, decided_by="lee", at=NOW)
        assert approved.status == OrderStatus.APPROVED

    assert position(engine, SOURCE, skus[1]).reserved == 3
    assert position(engine, SOURCE, skus[2]).reserved == 2
    with Session(engine) as session:
        view = orders.transfer_order_view(session, order_id)
    assert view.units == 5
    assert [m.status for m in view.outbox] == [OutboxStatus.PENDING]
    assert view.outbox[0].idempotency_key == orders.wms_idempotency_key(order_id)
    assert view.outbox[0].target == "wms"
    assert _audit_kinds(engine, order_id) == ["transfer_order.proposed", "transfer_order.approved"]


def test_caller_rollback_undoes_reservation_and_outbox(engine: Engine) -> None:
    skus = seed_pool(engine)
    order_id = _create(engine, [(skus[1], 3)])

    with pytest.raises(RuntimeError), session_scope(engine) as session:
        decided(session, order_id, "lee")
        orders.approve_transfer_order(session, order_id, decided_by="lee", at=NOW)
        raise RuntimeError("the graph node failed after deciding")

    assert position(engine, SOURCE, skus[1]).reserved == 0
    with Session(engine) as session:
        assert session.exec(select(OutboxMessage)).all() == []
        assert session.get(TransferOrder, order_id).status == OrderStatus.PROPOSED


def test_approve_refused_when_source_lacks_atp_keeps_order_undecided(engine: Engine) -> None:
    skus = seed_pool(engine, on_hand=10, safety=2)
    order_id = _create(engine, [(skus[0], 2), (skus[1], 9)])

    with session_scope(engine) as session:
        with pytest.raises(MovementRefused, match="ATP 8"):
            decided(session, order_id, "lee")
            orders.approve_transfer_order(session, order_id, decided_by="lee", at=NOW)
        # The failed step left nothing behind, and the caller's session is still usable.
        assert session.get(TransferOrder, order_id).status == OrderStatus.PROPOSED

    assert position(engine, SOURCE, skus[0]).reserved == 0
    with Session(engine) as session:
        assert session.exec(select(OutboxMessage)).all() == []


def test_second_approval_is_an_invalid_transition(engine: Engine) -> None:
    skus = seed_pool(engine)
    order_id = _create(engine, [(skus[0], 4)])
    with session_scope(engine) as session:
        decided(session, order_id, "lee")
        orders.approve_transfer_order(session, order_id, decided_by="lee", at=NOW)

    with (
        pytest.raises(InvalidTransition, match="from 'approved' to 'approved'"),
        session_scope(engine) as session,
    ):
        decided(session, order_id, "kim")
        orders.approve_transfer_order(session, order_id, decided_by="kim", at=NOW)
    assert position(engine, SOURCE, skus[0]).reserved == 4


@pytest.mark.parametrize(
    ("decide", "final"),
    [
        (
            lambda s, oid: orders.reject_transfer_order(
                s, oid, decided_by="lee", at=NOW, comment="too far"
            ),
            OrderStatus.REJECTED,
        ),
        (lambda s, oid: orders.expire_transfer_order(s, oid, at=NOW), OrderStatus.EXPIRED),
        (
            lambda s, oid: orders.cancel_transfer_order(s, oid, decided_by="lee", at=NOW),
            OrderStatus.CANCELLED,
        ),
    ],
    ids=["reject", "expire", "cancel"],
)
def test_terminal_decisions_close_the_order(engine: Engine, decide, final) -> None:
    skus = seed_pool(engine)
    order_id = _create(engine, [(skus[0], 1)], status=OrderStatus.PENDING_APPROVAL)
    with session_scope(engine) as session:
        assert decide(session, order_id).status == final
    with pytest.raises(InvalidTransition), session_scope(engine) as session:
        decided(session, order_id, "lee")
        orders.approve_transfer_order(session, order_id, decided_by="lee", at=NOW)
    assert _audit_kinds(engine, order_id)[-1] == f"transfer_order.{final}"


def test_request_approval_then_expire_due(engine: Engine) -> None:
    skus = seed_pool(engine)
    due = _create(engine, [(skus[0], 1)])
    later = _create(engine, [(skus[1], 1)])
    with session_scope(engine) as session:
        order = orders.request_approval(
            session, due, at=NOW, expires_at=NOW + dt.timedelta(hours=4)
        )
        assert order.status == OrderStatus.PENDING_APPROVAL
        orders.request_approval(session, later, at=NOW, expires_at=NOW + dt.timedelta(hours=8))

    with session_scope(engine) as session:
        assert orders.expire_due_orders(session, at=NOW + dt.timedelta(hours=4)) == [due]
    with Session(engine) as session:
        assert session.get(TransferOrder, due).status == OrderStatus.EXPIRED
        assert session.get(TransferOrder, later).status == OrderStatus.PENDING_APPROVAL


def test_cancel_approved_unsent_order_releases_stock(engine: Engine) -> None:
    skus = seed_pool(engine)
    order_id = _create(engine, [(skus[0], 4)])
    with session_scope(engine) as session:
        decided(session, order_id, "lee")
        orders.approve_transfer_order(session, order_id, decided_by="lee", at=NOW)
    with session_scope(engine) as session:
        orders.cancel_transfer_order(session, order_id, decided_by="lee", at=NOW, comment="dry")

    assert position(engine, SOURCE, skus[0]).reserved == 0
    with Session(engine) as session:
        view = orders.transfer_order_view(session, order_id)
    assert view.status == OrderStatus.CANCELLED
    assert view.outbox[0].status == OutboxStatus.CANCELLED


def test_cancel_refused_once_a_send_was_attempted(engine: Engine) -> None:
    skus = seed_pool(engine)
    order_id = _create(engine, [(skus[0], 4)])
    with session_scope(engine) as session:
        decided(session, order_id, "lee")
        orders.approve_transfer_order(session, order_id, decided_by="lee", at=NOW)
        message = session.exec(select(OutboxMessage)).one()
        message.attempts = 1  # a dispatcher claimed it

    with (
        pytest.raises(InvalidTransition, match="cancel it there"),
        session_scope(engine) as session,
    ):
        orders.cancel_transfer_order(session, order_id, decided_by="lee", at=NOW)
    assert position(engine, SOURCE, skus[0]).reserved == 4


def test_receive_requires_dispatch_first_and_books_stock(engine: Engine) -> None:
    skus = seed_pool(engine)
    order_id = _create(engine, [(skus[0], 4)])
    with session_scope(engine) as session:
        decided(session, order_id, "lee")
        orders.approve_transfer_order(session, order_id, decided_by="lee", at=NOW)
    with (
        pytest.raises(InvalidTransition, match="allowed only from dispatched"),
        session_scope(engine) as session,
    ):
        orders.receive_transfer_order(session, order_id, at=NOW)

    with session_scope(engine) as session:
        orders.mark_dispatched(session, order_id, external_ref="WMS-1", at=NOW, actor="test")
    with session_scope(engine) as session:
        orders.receive_transfer_order(session, order_id, at=NOW + dt.timedelta(hours=6))

    source, dest = position(engine, SOURCE, skus[0]), position(engine, DEST, skus[0])
    assert (source.on_hand, source.reserved, source.in_transit_out) == (6, 0, 0)
    assert (dest.on_hand, dest.in_transit_in) == (4, 0)


def test_unknown_order_is_not_found(engine: Engine) -> None:
    seed_pool(engine)
    with pytest.raises(OrderNotFound, match="'TO-NOPE'"), session_scope(engine) as s:
        orders.approve_transfer_order(s, "TO-NOPE", decided_by="lee", at=NOW)


@pytest.mark.parametrize(
    ("lines", "kwargs", "message"),
    [
        ([("RB1-BLK-37", 0)], {}, r"lines\[0\]\.qty must be positive"),
        ([("RB1-BLK-99", 1)], {}, r"lines\[0\]\.sku: unknown SKU 'RB1-BLK-99'"),
        ([("RB1-BLK-37", 1), ("RB1-BLK-37", 2)], {}, r"lines\[1\]\.sku 'RB1-BLK-37' appears twice"),
        ([("RB1-BLK-37", 1)], {"dest": "XXX-S99"}, "dest: unknown location 'XXX-S99'"),
        ([("RB1-BLK-37", 1)], {"dest": SOURCE}, "source and dest are both"),
    ],
)
def test_bad_shipments_are_refused_with_the_field(engine: Engine, lines, kwargs, message) -> None:
    seed_pool(engine)
    with pytest.raises(ValueError, match=message), session_scope(engine) as session:
        orders.create_transfer_order(session, shipment(lines, **kwargs), at=NOW)


def test_new_order_cannot_start_decided(engine: Engine) -> None:
    skus = seed_pool(engine)
    with pytest.raises(ValueError, match="status"), session_scope(engine) as session:
        orders.create_transfer_order(
            session, shipment([(skus[0], 1)]), at=NOW, status=OrderStatus.APPROVED
        )


def test_two_orders_cannot_reserve_the_same_units(engine: Engine) -> None:
    skus = seed_pool(engine, on_hand=10)
    first = _create(engine, [(skus[0], 6)])
    second = _create(engine, [(skus[0], 6)])
    with session_scope(engine) as session:
        decided(session, first, "lee")
        orders.approve_transfer_order(session, first, decided_by="lee", at=NOW)
    with pytest.raises(MovementRefused, match="ATP 4"), session_scope(engine) as session:
        decided(session, second, "lee")
        orders.approve_transfer_order(session, second, decided_by="lee", at=NOW)
    assert position(engine, SOURCE, skus[0]).reserved == 6


def test_racing_approvals_reserve_once(engine: Engine) -> None:
    skus = seed_pool(engine)
    order_id = _create(engine, [(skus[0], 4)])
    with session_scope(engine) as session:
        decided(session, order_id, "lee")
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def approve(who: str) -> None:
        start.wait()
        try:
            with session_scope(engine) as session:
                orders.approve_transfer_order(session, order_id, decided_by=who, at=NOW)
            outcomes.append("approved")
        except InvalidTransition:
            outcomes.append("refused")

    threads = [threading.Thread(target=approve, args=(who,)) for who in ("lee", "kim")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["approved", "refused"]
    assert position(engine, SOURCE, skus[0]).reserved == 4
    with Session(engine) as session:
        assert len(session.exec(select(OutboxMessage)).all()) == 1


def test_approve_without_a_decided_approval_is_refused(engine: Engine) -> None:
    """Only a decided Approval row lets an order through, whatever the caller claims."""
    from agents.approvals import approval_id
    from agents.executor.errors import NotDecided
    from inventory.models import Approval

    skus = seed_pool(engine)
    order_id = _create(engine, [(skus[0], 2)])
    with pytest.raises(NotDecided, match="no approval record"), session_scope(engine) as session:
        orders.approve_transfer_order(session, order_id, decided_by="mallory", at=NOW)
    with session_scope(engine) as session:
        decided(session, order_id, "lee")
        row = session.get(Approval, approval_id(order_id))
        row.status = "pending"
        session.add(row)
    with pytest.raises(NotDecided, match="pending"), session_scope(engine) as session:
        orders.approve_transfer_order(session, order_id, decided_by="mallory", at=NOW)
    with session_scope(engine) as session:
        row = session.get(Approval, approval_id(order_id))
        row.status, row.decided_by = "auto_approved", "policy"
        row.payload = {**row.payload, "units": 1, "value": 1.0, "cost": 1.0}  # not the order's
        session.add(row)
    with pytest.raises(NotDecided, match="auto-approved on"), session_scope(engine) as session:
        orders.approve_transfer_order(session, order_id, decided_by="policy", at=NOW)
    assert position(engine, SOURCE, skus[0]).reserved == 0
    with Session(engine) as session:
        assert session.get(TransferOrder, order_id).status == OrderStatus.PROPOSED
        assert not session.exec(select(OutboxMessage)).all()
