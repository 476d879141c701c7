"""The dispatcher against the simulated systems: exactly one order at the WMS whatever fails."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from agents.executor import orders, outbox, promos
from agents.executor.dispatcher import Dispatcher, DispatchSettings, stop_dispatcher
from agents.executor.models import PromoDraft
from agents.executor.timing import as_utc
from connectors import ConnectorSet, RetryPolicy
from connectors.models import Notification, WmsTransferOrder
from connectors.simulated.state import FaultSpec
from inventory.db import session_scope
from inventory.models import (
    AuditEvent,
    OrderStatus,
    OutboxMessage,
    OutboxStatus,
    PromoProposal,
    PromoStatus,
    TransferOrder,
)
from tests.agents.executor_helpers import DEST, NOW, SOURCE, decided, position, seed_pool, shipment

SETTINGS = DispatchSettings(
    alert_after_attempts=3, lease_s=60, backoff_initial_s=5, backoff_max_s=60
)


class FakeClock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now.replace(tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def connectors() -> Iterator[ConnectorSet]:
    retry = RetryPolicy(attempts=2, initial_wait_s=0.01, max_wait_s=0.02, timeout_s=0.4)
    with ConnectorSet.simulated(retry=retry) as connector_set:
        yield connector_set


def _approved_order(engine: Engine, lines: list[tuple[str, int]]) -> str:
    with session_scope(engine) as session:
        order = orders.create_transfer_order(session, shipment(lines), at=NOW)
        decided(session, order.id, "lee")
        orders.approve_transfer_order(session, order.id, decided_by="lee", at=NOW)
        return order.id


def _outbox_row(engine: Engine, subject_id: str) -> OutboxMessage:
    with Session(engine) as session:
        return session.exec(
            select(OutboxMessage).where(OutboxMessage.subject_id == subject_id)
        ).one()


def _wms_orders(connectors: ConnectorSet) -> list[WmsTransferOrder]:
    return [record.order for record in connectors.wms.list_transfer_orders()]


def test_approved_order_reaches_the_wms_once_and_stock_ships(
    engine: Engine, connectors: ConnectorSet
) -> None:
    skus = seed_pool(engine)
    order_id = _approved_order(engine, [(skus[1], 3), (skus[2], 2)])
    dispatcher = Dispatcher(engine, connectors, clock=FakeClock(NOW), settings=SETTINGS)

    report = dispatcher.run_pending()
    assert report.sent == [orders.wms_idempotency_key(order_id)]
    assert dispatcher.run_pending().sent == []

    received = connectors.wms.list_transfer_orders()
    assert [(r.order.order_id, r.idempotency_key) for r in received] == [
        (order_id, orders.wms_idempotency_key(order_id))
    ]
    assert [(line.sku, line.qty) for line in received[0].order.lines] == [
        (skus[1], 3),
        (skus[2], 2),
    ]
    with Session(engine) as session:
        order = session.get(TransferOrder, order_id)
        assert (order.status, order.external_ref) == (OrderStatus.DISPATCHED, received[0].reference)
    source, dest = position(engine, SOURCE, skus[1]), position(engine, DEST, skus[1])
    assert (source.on_hand, source.reserved, source.in_transit_out) == (7, 0, 3)
    assert dest.in_transit_in == 3
    row = _outbox_row(engine, order_id)
    assert (row.status, row.attempts, row.external_ref) == (
        OutboxStatus.SENT,
        1,
        received[0].reference,
    )


def test_outage_reschedules_with_backoff_then_recovers(
    engine: Engine, connectors: ConnectorSet
) -> None:
    skus = seed_pool(engine)
    order_id = _approved_order(engine, [(skus[0], 2)])
    clock = FakeClock(NOW)
    dispatcher = Dispatcher(engine, connectors, clock=clock, settings=SETTINGS)
    connectors.simulated_server.state.set_fault(FaultSpec(system="wms", times=3, status=503))

    assert dispatcher.run_pending().retried == [orders.wms_idempotency_key(order_id)]
    row = _outbox_row(engine, order_id)
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1)
    assert "503" in row.last_error
    assert row.next_attempt_at == clock.now + dt.timedelta(seconds=5)

    clock.advance(4)
    assert dispatcher.run_pending().retried == []  # not due yet
    clock.advance(1)
    assert dispatcher.run_pending().sent == [orders.wms_idempotency_key(order_id)]
    assert [o.order_id for o in _wms_orders(connectors)] == [order_id]
    assert _outbox_row(engine, order_id).attempts == 2


def test_an_outage_is_retried_with_capped_backoff_and_alerts_until_delivered(
    engine: Engine, connectors: ConnectorSet
) -> None:
    """Never ``failed`` because the WMS was down longer than a budget: the row keeps waiting,
    shows as an alert (audited once) after ``alert_after_attempts``, and goes out on heal."""
    skus = seed_pool(engine)
    order_id = _approved_order(engine, [(skus[0], 2)])
    clock = FakeClock(NOW)
    dispatcher = Dispatcher(engine, connectors, clock=clock, settings=SETTINGS)
    state = connectors.simulated_server.state
    state.set_fault(FaultSpec(system="wms", times=20))  # the client tries twice per attempt

    delays = []
    for _ in range(10):
        report = dispatcher.run_pending()
        assert (len(report.retried), report.failed) == (1, [])
        row = _outbox_row(engine, order_id)
        delays.append((as_utc(row.next_attempt_at) - as_utc(clock())).total_seconds())
        clock.advance(SETTINGS.backoff_max_s)
    assert delays == [5, 10, 20, 40, 60, 60, 60, 60, 60, 60]  # doubling, capped
    row = _outbox_row(engine, order_id)
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 10)
    assert outbox.is_alerting(row, SETTINGS.alert_after_attempts)
    with Session(engine) as session:
        kinds = session.exec(select(AuditEvent.kind).where(AuditEvent.subject_id == order_id)).all()
    assert kinds.count("outbox.alert") == 1 and "outbox.failed" not in kinds
    assert position(engine, SOURCE, skus[0]).reserved == 2

    assert dispatcher.run_pending().sent == [orders.wms_idempotency_key(order_id)]  # healed
    assert [o.order_id for o in _wms_orders(connectors)] == [order_id]
    row = _outbox_row(engine, order_id)
    assert row.status == OutboxStatus.SENT and not outbox.is_alerting(row, 3)


def test_reply_lost_after_wms_created_the_order_is_not_duplicated(
    engine: Engine, connectors: ConnectorSet
) -> None:
    skus = seed_pool(engine)
    order_id = _approved_order(engine, [(skus[0], 2)])
    state = connectors.simulated_server.state
    state.set_fault(FaultSpec(system="wms", mode="timeout_after_commit", delay_s=0.8))

    report = Dispatcher(engine, connectors, clock=FakeClock(NOW), settings=SETTINGS).run_pending()

    assert report.sent == [orders.wms_idempotency_key(order_id)]
    assert [o.order_id for o in _wms_orders(connectors)] == [order_id]
    assert [r.outcome for r in state.requests()] == ["created+stalled", "duplicate"]
    assert position(engine, SOURCE, skus[0]).in_transit_out == 2


class _DiesAfterSending:
    """A WMS client whose process 'dies' right after the WMS accepted the order."""

    def __init__(self, real: ConnectorSet) -> None:
        self._real = real

    def create_transfer_order(self, order, *, idempotency_key):
        self._real.wms.create_transfer_order(order, idempotency_key=idempotency_key)
        raise KeyboardInterrupt("killed between the WMS answer and our commit")


def test_crash_after_send_is_resent_after_the_lease_without_duplicate(
    engine: Engine, connectors: ConnectorSet
) -> None:
    skus = seed_pool(engine)
    order_id = _approved_order(engine, [(skus[0], 2)])
    clock = FakeClock(NOW)
    dying = ConnectorSet(
        wms=_DiesAfterSending(connectors),
        oms=connectors.oms,
        pricing=connectors.pricing,
        notify=connectors.notify,
    )
    with pytest.raises(KeyboardInterrupt):
        Dispatcher(engine, dying, clock=clock, settings=SETTINGS).run_pending()
    assert _outbox_row(engine, order_id).status == OutboxStatus.PENDING

    survivor = Dispatcher(engine, connectors, clock=clock, settings=SETTINGS)
    assert survivor.run_pending().sent == []  # still leased to the dead dispatcher
    clock.advance(SETTINGS.lease_s)
    assert survivor.run_pending().sent == [orders.wms_idempotency_key(order_id)]

    assert [o.order_id for o in _wms_orders(connectors)] == [order_id]
    source = position(engine, SOURCE, skus[0])
    assert (source.on_hand, source.reserved, source.in_transit_out) == (8, 0, 2)


def test_two_dispatchers_at_once_send_each_row_once(
    engine: Engine, connectors: ConnectorSet
) -> None:
    skus = seed_pool(engine)
    order_ids = [_approved_order(engine, [(sku, 1)]) for sku in skus]
    state = connectors.simulated_server.state
    # Every WMS call is slow, so the two dispatchers overlap.
    state.set_fault(
        FaultSpec(system="wms", mode="timeout_after_commit", delay_s=0.05, times=len(skus))
    )
    reports = []

    def drain() -> None:
        dispatcher = Dispatcher(engine, connectors, clock=FakeClock(NOW), settings=SETTINGS)
        reports.append(dispatcher.run_pending())

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    sent = sorted(key for report in reports for key in report.sent)
    assert sent == sorted(orders.wms_idempotency_key(oid) for oid in order_ids)
    assert sorted(o.order_id for o in _wms_orders(connectors)) == sorted(order_ids)
    # The claims kept the dispatchers apart: one request per order reached the WMS.
    assert len(state.requests()) == len(order_ids)


def test_wms_refusal_fails_the_row_without_retrying(
    engine: Engine, connectors: ConnectorSet
) -> None:
    skus = seed_pool(engine)
    order_id = _approved_order(engine, [(skus[0], 2)])
    key = orders.wms_idempotency_key(order_id)
    # Someone else already used our key for another order: the WMS refuses (422).
    row = _outbox_row(engine, order_id)
    other = WmsTransferOrder.model_validate({**row.payload, "order_id": "OTHER"})
    connectors.wms.create_transfer_order(other, idempotency_key=key)

    report = Dispatcher(engine, connectors, clock=FakeClock(NOW), settings=SETTINGS)
    assert report.run_pending().failed == [key]
    row = _outbox_row(engine, order_id)
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, 1)
    assert "HTTP 422" in row.last_error


def test_sent_but_unbookable_keeps_the_reference_and_retries_the_booking(
    engine: Engine, connectors: ConnectorSet
) -> None:
    """The WMS took it but our booking failed: not permanent. The row waits with the reference;
    the next attempt re-sends under the same key (the WMS answers "duplicate") and books it."""
    skus = seed_pool(engine)
    order_id = _approved_order(engine, [(skus[0], 2)])
    with session_scope(engine) as session:  # changed by hand behind the executor's back
        session.get(TransferOrder, order_id).status = OrderStatus.RECEIVED

    clock = FakeClock(NOW)
    dispatcher = Dispatcher(engine, connectors, clock=clock, settings=SETTINGS)
    assert dispatcher.run_pending().retried == [orders.wms_idempotency_key(order_id)]
    row = _outbox_row(engine, order_id)
    reference = connectors.wms.list_transfer_orders()[0].reference
    assert (row.status, row.external_ref) == (OutboxStatus.PENDING, reference)
    assert f"sent as {reference} but not booked yet" in row.last_error
    assert position(engine, SOURCE, skus[0]).in_transit_out == 0

    with session_scope(engine) as session:  # the cause goes away
        session.get(TransferOrder, order_id).status = OrderStatus.APPROVED
    clock.advance(SETTINGS.backoff_max_s)
    assert dispatcher.run_pending().sent == [orders.wms_idempotency_key(order_id)]
    assert len(connectors.wms.list_transfer_orders()) == 1
    assert position(engine, SOURCE, skus[0]).in_transit_out == 2


def test_approved_promo_reaches_pricing_and_is_applied(
    engine: Engine, connectors: ConnectorSet
) -> None:
    seed_pool(engine)
    with session_scope(engine) as session:
        proposal = promos.create_promo_proposal(
            session, PromoDraft(style="RB1", location=SOURCE, depth=0.3), at=NOW
        )
        decided(session, proposal.id, "lee", "promo_proposal")
        promos.approve_promo_proposal(session, proposal.id, decided_by="lee", at=NOW)

    Dispatcher(engine, connectors, clock=FakeClock(NOW), settings=SETTINGS).run_pending()

    changes = connectors.pricing.list_price_changes()
    assert [(c.payload["proposal_id"], c.payload["new_price"]) for c in changes] == [
        (proposal.id, 209.3)
    ]
    with Session(engine) as session:
        stored = session.get(PromoProposal, proposal.id)
        assert (stored.status, stored.external_ref) == (PromoStatus.APPLIED, changes[0].reference)


def test_notification_is_sent_once(engine: Engine, connectors: ConnectorSet) -> None:
    seed_pool(engine)
    note = Notification(recipient="store-SHA-S02", subject="rain boots on the way")
    with session_scope(engine) as session:
        outbox.enqueue_notification(session, note, subject_id="TO-X", at=NOW)
        outbox.enqueue_notification(session, note, subject_id="TO-X", at=NOW)  # same key

    dispatcher = Dispatcher(engine, connectors, clock=FakeClock(NOW), settings=SETTINGS)
    assert len(dispatcher.run_pending().sent) == 1
    assert [m.payload["subject"] for m in connectors.notify.list_messages()] == [note.subject]


def test_run_forever_drains_until_stopped(engine: Engine, connectors: ConnectorSet) -> None:
    skus = seed_pool(engine)
    order_id = _approved_order(engine, [(skus[0], 1)])
    stop = threading.Event()
    worker = threading.Thread(
        target=Dispatcher(engine, connectors, settings=SETTINGS).run_forever,
        args=(stop,),
        # An hour between polls: the first pass drains what is due, and ``stop_dispatcher``
        # must end the loop by waking it (a bare ``stop.set()`` would leave it asleep).
        kwargs={"poll_s": 3600},
        daemon=True,  # left asleep by a regression, it must not hold the test process open
    )
    worker.start()
    try:
        for _ in range(200):
            if _outbox_row(engine, order_id).status == OutboxStatus.SENT:
                break
            stop.wait(0.05)
    finally:
        stop_dispatcher(stop)
        worker.join(timeout=5)
    assert not worker.is_alive()
    assert [o.order_id for o in _wms_orders(connectors)] == [order_id]


def test_unsendable_rows_fail_instead_of_looping(engine: Engine, connectors: ConnectorSet) -> None:
    seed_pool(engine)
    with session_scope(engine) as session:
        session.add_all(
            [
                OutboxMessage(
                    idempotency_key="bad-payload",
                    target="wms",
                    action="create_transfer_order",
                    subject_id="TO-X",
                    payload={"order_id": "TO-X"},
                    status=OutboxStatus.PENDING,
                    created_at=NOW.replace(tzinfo=dt.UTC),
                    updated_at=NOW.replace(tzinfo=dt.UTC),
                ),
                OutboxMessage(
                    idempotency_key="no-route",
                    target="erp",
                    action="post_invoice",
                    subject_id="INV-1",
                    payload={},
                    status=OutboxStatus.PENDING,
                    created_at=NOW.replace(tzinfo=dt.UTC),
                    updated_at=NOW.replace(tzinfo=dt.UTC),
                ),
            ]
        )

    report = Dispatcher(engine, connectors, clock=FakeClock(NOW), settings=SETTINGS)
    assert sorted(report.run_pending().failed) == ["bad-payload", "no-route"]
    assert "payload does not fit create_transfer_order" in _outbox_row(engine, "TO-X").last_error
    assert _outbox_row(engine, "INV-1").last_error == "no route for erp.post_invoice"
    assert connectors.simulated_server.state.requests() == []
