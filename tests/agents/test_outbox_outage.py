"""The outbox through a long WMS outage, on SQLite and PostgreSQL: a refused connection for far
longer than any retry budget, then the WMS heals → every approved order delivered exactly once;
what a person does with rows meanwhile (requeue, cancel); and the one bounded route, the OMS
parcel cancellation, dead-lettered at its bound (attempts or age)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from agents.executor import orders, outbox, outbox_ops, parcels
from agents.executor.dispatcher import Dispatcher, DispatchSettings
from connectors import ConnectorSet, RetryPolicy
from connectors.models import OmsShipmentCancel
from inventory.db import session_scope
from inventory.models import AuditEvent, OrderStatus, OutboxMessage, OutboxStatus, TransferOrder
from tests.agents.executor_helpers import NOW, SOURCE, decided, position, seed_pool, shipment
from tests.api.conftest import free_port

SETTINGS = DispatchSettings(lease_s=60, backoff_initial_s=5, backoff_max_s=120)
ORDERS = 6


class Clock:
    def __init__(self) -> None:
        self.now = NOW.replace(tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def wms_down() -> ConnectorSet:
    """Clients pointed at a port nobody listens on: every call is a refused connection."""
    with ConnectorSet.at(
        f"http://127.0.0.1:{free_port()}", retry=RetryPolicy(attempts=1, timeout_s=2)
    ) as down:
        yield down


def _approved_orders(engine: Engine, skus: list[str]) -> list[str]:
    ids = []
    with session_scope(engine) as session:
        for index in range(ORDERS):
            order = orders.create_transfer_order(
                session, shipment([(skus[index % len(skus)], 1)]), at=NOW
            )
            decided(session, order.id, "lee")
            orders.approve_transfer_order(session, order.id, decided_by="lee", at=NOW)
            ids.append(order.id)
    return ids


def _rows(engine: Engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_a_long_outage_then_heal_delivers_every_approved_order_exactly_once(
    engine: Engine, connectors: ConnectorSet, wms_down: ConnectorSet
) -> None:
    skus = seed_pool(engine)
    ids = _approved_orders(engine, skus)
    clock = Clock()
    down = Dispatcher(engine, wms_down, clock=clock, settings=SETTINGS)
    # A day of refused connections: ~20 attempts per row, far past any former retry budget.
    for _ in range(24 * 60 * 60 // int(SETTINGS.backoff_max_s) // 36):
        report = down.run_pending()
        assert report.failed == [] and report.sent == []
        clock.now += dt.timedelta(seconds=SETTINGS.backoff_max_s)
    rows = _rows(engine)
    assert {r.status for r in rows} == {OutboxStatus.PENDING}
    assert min(r.attempts for r in rows) > 10
    assert all(outbox.is_alerting(r, SETTINGS.alert_after_attempts) for r in rows)
    with Session(engine) as session:
        alerting = session.exec(
            outbox_ops.entries_query(SETTINGS, alerting=True)  # what ops see meanwhile
        ).all()
        assert sorted(r.subject_id for r in alerting) == sorted(ids)
        assert {o.status for o in session.exec(select(TransferOrder))} == {OrderStatus.APPROVED}

    healed = Dispatcher(engine, connectors, clock=clock, settings=SETTINGS)
    clock.now += dt.timedelta(seconds=SETTINGS.backoff_max_s)
    assert sorted(healed.run_pending().sent) == sorted(orders.wms_idempotency_key(i) for i in ids)
    assert healed.run_pending().sent == []
    at_wms = connectors.wms.list_transfer_orders()
    assert sorted(r.order.order_id for r in at_wms) == sorted(ids)  # each exactly once
    with Session(engine) as session:
        assert {o.status for o in session.exec(select(TransferOrder))} == {OrderStatus.DISPATCHED}
    assert {r.status for r in _rows(engine)} == {OutboxStatus.SENT}
    for sku in {skus[i % len(skus)] for i in range(ORDERS)}:
        assert position(engine, SOURCE, sku).reserved == 0


def test_a_person_requeues_a_refused_row_and_cancels_another(
    engine: Engine, connectors: ConnectorSet, wms_down: ConnectorSet
) -> None:
    skus = seed_pool(engine)
    first, second = _approved_orders(engine, skus)[:2]
    clock = Clock()
    Dispatcher(engine, wms_down, clock=clock, settings=SETTINGS).run_pending()
    rows = {r.subject_id: r for r in _rows(engine)}
    with session_scope(engine) as session:  # as if the WMS had refused the first one (4xx)
        outbox.mark_failed(session, rows[first].id, error="HTTP 422", now=clock())

    requeued = outbox_ops.requeue_message(
        engine, rows[first].id, by="olga", at=clock(), settings=SETTINGS
    )
    assert (requeued.status, requeued.alerting) == ("pending", False)
    cancelled = outbox_ops.cancel_message(
        engine,
        rows[second].id,
        by="olga",
        reason="stock found locally",
        at=clock(),
        settings=SETTINGS,
    )
    assert cancelled.status == "cancelled"
    with pytest.raises(outbox_ops.OutboxConflict, match="only pending or failed"):
        outbox_ops.cancel_message(
            engine, rows[second].id, by="olga", reason="again", at=clock(), settings=SETTINGS
        )
    with pytest.raises(outbox_ops.OutboxNotFound):
        outbox_ops.requeue_message(engine, 999_999, by="olga", at=clock(), settings=SETTINGS)

    report = Dispatcher(engine, connectors, clock=clock, settings=SETTINGS).run_pending()
    assert report.sent == [orders.wms_idempotency_key(first)]  # due at once, not after backoff
    assert [r.order.order_id for r in connectors.wms.list_transfer_orders()] == [first]
    with Session(engine) as session:
        assert session.get(TransferOrder, second).status == OrderStatus.CANCELLED
        kinds = session.exec(
            select(AuditEvent.kind).where(AuditEvent.kind.like("outbox.%"))  # type: ignore[attr-defined]
        ).all()
    assert {"outbox.requeued", "outbox.cancelled", "outbox.sent"} <= set(kinds)
    assert position(engine, SOURCE, skus[1]).reserved == 0  # the cancelled order's reservation


def _cancellation(engine: Engine, order_id: str, at: dt.datetime) -> int:
    """An ``oms.cancel`` row as ``parcels.cancel_order`` writes it (its order is not in this pool:
    the route's ``on_failed`` finds nothing to move on)."""
    with session_scope(engine) as session:
        return outbox.enqueue(
            session,
            target=parcels.SHIPMENT_TARGET,
            action=parcels.CANCEL_ACTION,
            subject_id=order_id,
            payload=OmsShipmentCancel(
                shipment_ref=f"{order_id}/SHA-S01", order_id=order_id, node=SOURCE
            ),
            idempotency_key=parcels.cancel_key(order_id, SOURCE),
            at=at,
        ).id


def test_in_an_outage_a_cancellation_is_dead_lettered_at_its_bound_and_orders_keep_retrying(
    engine: Engine, wms_down: ConnectorSet
) -> None:
    """Every system refuses connections. The ``oms.cancel`` row is dead-lettered after
    ``dead_letter_after_attempts`` sends (once: audited, ops notified), the transfer orders'
    rows are retried on past that bound (an outage never undoes a decision), and the
    notification about the dead letter is retried too, never dead-lettered nor notified about."""
    skus = seed_pool(engine)
    ids = _approved_orders(engine, skus)[:2]
    clock = Clock()
    cancel_id = _cancellation(engine, "ord-1", clock())
    bounded = SETTINGS.model_copy(update={"dead_letter_after_attempts": 4})
    down = Dispatcher(engine, wms_down, clock=clock, settings=bounded)
    reports = []
    for _ in range(8):
        reports.append(down.run_pending())
        clock.now += dt.timedelta(seconds=bounded.backoff_max_s)
    key = parcels.cancel_key("ord-1", SOURCE)
    assert [key in r.dead_lettered for r in reports] == [False] * 3 + [True] + [False] * 4
    assert all(key in r.retried for r in reports[:3])
    rows = {r.idempotency_key: r for r in _rows(engine)}
    dead = rows.pop(key)
    assert (dead.id, dead.status, dead.attempts) == (cancel_id, OutboxStatus.DEAD, 4)
    assert dead.next_attempt_at is None and "not delivered after 4 attempts" in dead.last_error
    assert outbox.is_alerting(dead, bounded.alert_after_attempts)
    (note,) = [r for r in rows.values() if r.target == "notify"]
    assert note.status == OutboxStatus.PENDING and note.attempts == 4  # retried, not dead
    assert note.payload["recipient"] == "ops" and str(cancel_id) in note.payload["subject"]
    for order_id in ids:
        row = rows[orders.wms_idempotency_key(order_id)]
        assert (row.status, row.attempts) == (OutboxStatus.PENDING, 8)
    with Session(engine) as session:
        kinds = session.exec(
            select(AuditEvent.kind).where(AuditEvent.kind.like("outbox.%"))  # type: ignore[attr-defined]
        ).all()
        assert kinds.count("outbox.dead_lettered") == 1 and "outbox.failed" not in kinds
        listed = session.exec(outbox_ops.entries_query(bounded, status=OutboxStatus.DEAD)).all()
        assert [r.id for r in listed] == [cancel_id]
        assert {o.status for o in session.exec(select(TransferOrder))} == {OrderStatus.APPROVED}


def test_a_cancellation_older_than_its_bound_is_dead_lettered_at_its_first_failed_send(
    engine: Engine, wms_down: ConnectorSet
) -> None:
    """The age bound: no dispatcher ran while the row aged (the service was down), so the first
    send that fails after ``dead_letter_after_s`` dead-letters it; one before that does not."""
    clock = Clock()
    _cancellation(engine, "ord-2", clock())
    bounded = SETTINGS.model_copy(update={"dead_letter_after_s": 3600.0, "alert_recipient": None})
    down = Dispatcher(engine, wms_down, clock=clock, settings=bounded)
    clock.now += dt.timedelta(seconds=3599)
    assert down.run_pending().retried == [parcels.cancel_key("ord-2", SOURCE)]
    clock.now += dt.timedelta(seconds=bounded.backoff_max_s)
    assert down.run_pending().dead_lettered == [parcels.cancel_key("ord-2", SOURCE)]
    (row,) = _rows(engine)  # no notification: no recipient set
    assert (row.status, row.attempts) == (OutboxStatus.DEAD, 2)
    assert "over 1.0 h" in row.last_error
