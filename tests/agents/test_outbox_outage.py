"""The outbox through a long WMS outage, on SQLite and PostgreSQL: a refused connection for far
longer than any retry budget, then the WMS heals → every approved order delivered exactly once;
and what a person does with rows meanwhile (requeue, cancel)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from agents.executor import orders, outbox, outbox_ops
from agents.executor.dispatcher import Dispatcher, DispatchSettings
from connectors import ConnectorSet, RetryPolicy
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
