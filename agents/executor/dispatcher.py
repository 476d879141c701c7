"""Sends the outbox to the enterprise systems, exactly once as far as they can tell.

Per row: claim it (a lease, own transaction) → call the connector with the row's idempotency key
(tenacity retries inside the call) → in one transaction record the system's reference and apply
the local effect (stock dispatched, promo applied). A transient failure — the system down, or
our own booking after a successful send — reschedules the row with capped exponential backoff,
for as long as it takes: an outage never turns a decided order into a lost one. Only a refusal
(4xx, a payload that does not fit) marks it failed. The exception is a route whose message loses
its point with time (``_Route.dead_letters``: an OMS parcel cancellation): after
``dead_letter_after_attempts`` sends or ``dead_letter_after_s`` of age it is dead-lettered
(status ``dead``) — its ``on_failed`` booked as for a refusal, audited ``outbox.dead_lettered``
and a notification queued for ops — so the subject waiting on it does not wait forever. Either
way a row that keeps failing is an operational alert (``outbox.is_alerting``) until a person
requeues or cancels it (``agents.executor.outbox_ops``). Crashing anywhere is safe: an
unfinished row is sent again after its lease, under the same key, and the system answers with
the reference it gave the first time.
"""

from __future__ import annotations

import logging
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.engine import Engine
from sqlmodel import Session

from agents.executor import orders, outbox, parcels, promos
from agents.executor.audit import record_event
from agents.executor.timing import as_utc, utcnow
from agents.executor.transactions import atomic_step
from connectors.base import ConnectorSet
from connectors.errors import ConnectorRejected, ConnectorUnavailable
from connectors.models import (
    Ack,
    Notification,
    OmsShipment,
    OmsShipmentCancel,
    PriceChange,
    WmsTransferOrder,
)
from inventory.config import Settings
from inventory.db import retrying, session_scope
from inventory.models import OutboxMessage

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class DispatchSettings(BaseModel):
    """How the outbox is retried; set from ``STOCKPILOT_OUTBOX_*`` (``from_settings``)."""

    model_config = ConfigDict(frozen=True)

    lease_s: float = Field(
        default=120.0, gt=0, description="How long a claimed row is left alone (covers one send)."
    )
    backoff_initial_s: float = Field(default=5.0, ge=0)
    backoff_max_s: float = Field(default=300.0, ge=0, description="The cap of the backoff.")
    alert_after_attempts: int = Field(
        default=5, ge=1, description="Failed sends after which a row shows as an alert."
    )
    dead_letter_after_attempts: int = Field(
        default=30,
        ge=1,
        description="Failed sends after which a row of a bounded route is dead-lettered.",
    )
    dead_letter_after_s: float = Field(
        default=4 * 3600.0,
        gt=0,
        description="Age after which a row of a bounded route that fails to send is dead-lettered.",
    )
    alert_recipient: str | None = Field(
        default="ops", description="Told through the notification system of a dead letter."
    )
    poll_s: float = Field(
        default=1.0, gt=0, description="Longest a dispatcher loop sleeps between passes."
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> DispatchSettings:
        return cls(
            lease_s=settings.outbox_lease_s,
            backoff_initial_s=settings.outbox_backoff_initial_s,
            backoff_max_s=settings.outbox_backoff_max_s,
            alert_after_attempts=settings.outbox_alert_after_attempts,
            dead_letter_after_attempts=settings.outbox_dead_letter_after_attempts,
            dead_letter_after_s=settings.outbox_dead_letter_after_s,
            alert_recipient=settings.outbox_alert_recipient,
            poll_s=settings.outbox_poll_s,
        )

    def backoff(self, attempts: int) -> timedelta:
        exponent = min(max(0, attempts - 1), 32)  # capped before the power: no overflow
        seconds = min(self.backoff_max_s, self.backoff_initial_s * 2**exponent)
        return timedelta(seconds=seconds)

    def exhausted(self, message: OutboxMessage, now: datetime) -> bool:
        """Whether a bounded route's row has used its retries (sends made, or time since it was
        written: a dispatcher that was not running meanwhile still gives up in time)."""
        age = now - as_utc(message.created_at)
        return (
            message.attempts >= self.dead_letter_after_attempts
            or age.total_seconds() >= self.dead_letter_after_s
        )


class DispatchReport(BaseModel):
    """What one ``run_pending`` did, by idempotency key."""

    sent: list[str] = Field(default_factory=list)
    retried: list[str] = Field(default_factory=list)
    failed: list[str] = Field(default_factory=list)
    dead_lettered: list[str] = Field(
        default_factory=list, description="Not delivered within their route's retry bound."
    )
    skipped: list[str] = Field(
        default_factory=list, description="Claimed or finished by another dispatcher."
    )


@dataclass(frozen=True)
class _Route:
    """How one kind of outbox row is sent, and what sending it means locally."""

    send: Callable[[ConnectorSet, dict, str], Ack]
    on_sent: Callable[[Session, OutboxMessage, Ack, datetime, str], None] | None
    #: What the row's terminal failure means locally, booked with it (error text given): a
    #: refusal (4xx) and a failure of ours (a payload that no longer fits) alike, so a subject
    #: waiting on the row never waits on a row nobody will send again.
    on_failed: Callable[[Session, OutboxMessage, str, datetime, str], None] | None = None
    #: Whether an undelivered row is dead-lettered after ``DispatchSettings``' bound. Only for a
    #: message whose point passes with time and whose ``on_failed`` says what giving up means
    #: (a cancellation): a decided order, price change or parcel is retried until delivered,
    #: since an outage must not undo a decision (it alerts after ``alert_after_attempts``).
    dead_letters: bool = False


def _send_transfer(connectors: ConnectorSet, payload: dict, key: str) -> Ack:
    order = WmsTransferOrder.model_validate(payload)
    return connectors.wms.create_transfer_order(order, idempotency_key=key)


def _transfer_sent(
    session: Session, message: OutboxMessage, ack: Ack, at: datetime, actor: str
) -> None:
    orders.mark_dispatched(
        session, message.subject_id, external_ref=ack.reference, at=at, actor=actor
    )


def _send_price_change(connectors: ConnectorSet, payload: dict, key: str) -> Ack:
    change = PriceChange.model_validate(payload)
    return connectors.pricing.apply_price_change(change, idempotency_key=key)


def _price_change_sent(
    session: Session, message: OutboxMessage, ack: Ack, at: datetime, actor: str
) -> None:
    promos.mark_applied(session, message.subject_id, external_ref=ack.reference, at=at, actor=actor)


def _send_notification(connectors: ConnectorSet, payload: dict, key: str) -> Ack:
    return connectors.notify.send(Notification.model_validate(payload), idempotency_key=key)


def _send_shipment(connectors: ConnectorSet, payload: dict, key: str) -> Ack:
    return connectors.oms.create_shipment(OmsShipment.model_validate(payload), idempotency_key=key)


def _send_shipment_cancel(connectors: ConnectorSet, payload: dict, key: str) -> Ack:
    cancel = OmsShipmentCancel.model_validate(payload)
    return connectors.oms.cancel_shipment(cancel, idempotency_key=key)


ROUTES: dict[tuple[str, str], _Route] = {
    (orders.WMS_TARGET, orders.WMS_ACTION): _Route(_send_transfer, _transfer_sent),
    (promos.PRICING_TARGET, promos.PRICING_ACTION): _Route(_send_price_change, _price_change_sent),
    (outbox.NOTIFY_TARGET, "send"): _Route(_send_notification, None),
    # A routed online parcel (agents.executor.parcels): the OMS's reference stays on the row.
    (parcels.SHIPMENT_TARGET, parcels.SHIPMENT_ACTION): _Route(_send_shipment, None),
    # Withdrawing an accepted parcel: confirmed → its holds go back; refused (it shipped), or
    # failed for good for another reason → the order goes on and the failure is recorded.
    # Dead-lettered when the OMS stays unreachable: the order goes on as after a refusal
    # rather than sit ``cancelling`` until its holds lapse.
    (parcels.SHIPMENT_TARGET, parcels.CANCEL_ACTION): _Route(
        _send_shipment_cancel,
        parcels.withdrawal_confirmed,
        parcels.withdrawal_refused,
        dead_letters=True,
    ),
}


class Dispatcher:
    """Drains due outbox rows; safe to run in several processes at once."""

    def __init__(
        self,
        engine: Engine,
        connectors: ConnectorSet,
        *,
        clock: Clock = utcnow,
        settings: DispatchSettings | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.engine = engine
        self.connectors = connectors
        self._clock = clock
        self.settings = settings or DispatchSettings()
        self.worker_id = worker_id or f"dispatcher@{socket.gethostname()}:{uuid.uuid4().hex[:6]}"

    def clock(self) -> datetime:
        return as_utc(self._clock())

    def run_pending(
        self, limit: int = 100, *, subject_ids: list[str] | None = None
    ) -> DispatchReport:
        """Try each due row once (only those of ``subject_ids`` when given); say what happened."""
        report = DispatchReport()
        with Session(self.engine) as session:
            due = outbox.due_ids(session, now=self.clock(), limit=limit, subject_ids=subject_ids)
        for message_id in due:
            message = self._claim(message_id)
            if message is None:
                report.skipped.append(str(message_id))
                continue
            outcome = self._deliver(message)
            getattr(report, outcome).append(message.idempotency_key)
        return report

    def run_forever(
        self, stop: threading.Event, *, poll_s: float | None = None, limit: int = 100
    ) -> None:
        """Drain due rows until ``stop`` is set (the worker's background loop): at once when this
        process commits new rows (``outbox.NEW_ROWS``), else every ``poll_s``. End it with
        ``stop_dispatcher(stop)``, which wakes it at once instead of at its next poll.

        Rescheduled rows only go out if something keeps calling ``run_pending``; this is it.
        """
        poll_s = poll_s or self.settings.poll_s
        while not stop.is_set():
            outbox.NEW_ROWS.clear()
            try:
                report = self.run_pending(limit=limit)
            except Exception:  # a database hiccup must not kill the loop; the rows stay due
                logger.exception(
                    "dispatcher %s: run failed; retrying in %.1fs", self.worker_id, poll_s
                )
            else:
                done = report.sent + report.retried + report.failed + report.dead_lettered
                if done:
                    logger.info("dispatcher %s: %s", self.worker_id, report.model_dump())
                if len(done) >= limit:
                    continue  # more may be due right now
            outbox.NEW_ROWS.wait(poll_s)

    def _claim(self, message_id: int) -> OutboxMessage | None:
        now = self.clock()
        lease_until = now + timedelta(seconds=self.settings.lease_s)
        with session_scope(self.engine) as session, atomic_step(session):
            if not outbox.claim(session, message_id, now=now, lease_until=lease_until):
                return None
            message = session.get(OutboxMessage, message_id, populate_existing=True)
            assert message is not None
            session.expunge(message)
        return message

    def _deliver(self, message: OutboxMessage) -> str:
        route = ROUTES.get((message.target, message.action))
        if route is None:
            return self._fail(message, f"no route for {message.target}.{message.action}")
        try:
            ack = route.send(self.connectors, message.payload, message.idempotency_key)
        except ValidationError as invalid:
            return self._fail(message, f"payload does not fit {message.action}: {invalid}")
        except ConnectorRejected as rejected:
            return self._fail(message, str(rejected))
        except ConnectorUnavailable as unavailable:
            now = self.clock()
            if route.dead_letters and self.settings.exhausted(message, now):
                age_h = (now - as_utc(message.created_at)).total_seconds() / 3600
                return self._fail(
                    message,
                    f"not delivered after {message.attempts} attempts over {age_h:.1f} h "
                    f"(dead-lettered): {unavailable}",
                    dead_letter=True,
                )
            return self._reschedule(message, str(unavailable))
        return self._complete(message, ack, route)

    def _complete(self, message: OutboxMessage, ack: Ack, route: _Route) -> str:
        now = self.clock()

        def book(session: Session) -> str:
            with atomic_step(session):
                if not outbox.mark_sent(session, message.id, external_ref=ack.reference, now=now):
                    return "skipped"
                if route.on_sent is not None:
                    route.on_sent(session, message, ack, now, self.worker_id)
                self._audit(
                    session,
                    message,
                    "outbox.sent",
                    now,
                    reference=ack.reference,
                    duplicate=ack.duplicate,
                    attempts=message.attempts,
                )
            return "sent"

        try:
            return retrying(self.engine, book)  # a deadlock is retried here at once
        except Exception as error:
            # The system holds it but our booking failed (a deadlock, the database gone): not
            # permanent. Keep the reference and try again; the resend under the same key gets
            # the same reference back and the booking is retried.
            logger.exception(
                "outbox %s sent as %s but not booked; retrying",
                message.idempotency_key,
                ack.reference,
            )
            return self._reschedule(
                message,
                f"sent as {ack.reference} but not booked yet: {type(error).__name__}: {error}",
                external_ref=ack.reference,
            )

    def _reschedule(
        self, message: OutboxMessage, error: str, *, external_ref: str | None = None
    ) -> str:
        now = self.clock()
        with session_scope(self.engine) as session, atomic_step(session):
            if not outbox.reschedule(
                session,
                message.id,
                error=error,
                next_attempt_at=now + self.settings.backoff(message.attempts),
                now=now,
                external_ref=external_ref,
            ):
                return "skipped"
            if message.attempts == self.settings.alert_after_attempts:
                self._audit(
                    session, message, "outbox.alert", now, error=error, attempts=message.attempts
                )
        if message.attempts >= self.settings.alert_after_attempts:
            logger.error(
                "outbox %s still failing after %d attempts: %s",
                message.idempotency_key,
                message.attempts,
                error,
            )
        return "retried"

    def _fail(
        self,
        message: OutboxMessage,
        error: str,
        *,
        external_ref: str | None = None,
        dead_letter: bool = False,
    ) -> str:
        """Mark the row failed for good (``dead_letter``: dead, never delivered), with its
        route's ``on_failed`` in the same transaction (whatever the reason: only a person's
        requeue sends it again). A dead letter also queues a notification for ops (unless it is
        itself a notification: no loop while the notification system is down)."""
        now = self.clock()
        route = ROUTES.get((message.target, message.action))
        with session_scope(self.engine) as session, atomic_step(session):
            if not outbox.mark_failed(
                session,
                message.id,
                error=error,
                now=now,
                external_ref=external_ref,
                dead_letter=dead_letter,
            ):
                return "skipped"
            if route is not None and route.on_failed is not None:
                route.on_failed(session, message, error, now, self.worker_id)
            kind = "outbox.dead_lettered" if dead_letter else "outbox.failed"
            self._audit(session, message, kind, now, error=error, attempts=message.attempts)
            if dead_letter:
                self._notify_dead_letter(session, message, error, now)
        logger.error("outbox %s %s: %s", message.idempotency_key, kind.split(".")[1], error)
        return "dead_lettered" if dead_letter else "failed"

    def _notify_dead_letter(
        self, session: Session, message: OutboxMessage, error: str, now: datetime
    ) -> None:
        recipient = self.settings.alert_recipient
        if (
            not recipient or message.target == outbox.NOTIFY_TARGET
        ):  # unset (None or empty): none to tell
            return
        what = f"{message.target}.{message.action} for {message.subject_id}"
        outbox.enqueue_notification(
            session,
            Notification(
                recipient=recipient,
                subject=f"outbox row {message.id} dead-lettered: {what}",
                body=(
                    f"{error}\nRe-send: POST /v1/outbox/{message.id}/requeue; give up: "
                    f"POST /v1/outbox/{message.id}/cancel (or stockpilot outbox requeue|cancel "
                    f"{message.id})."
                ),
            ),
            subject_id=f"outbox:{message.id}",
            # one notice per dead-lettering: a requeued row dead-lettered again tells again
            idempotency_key=f"notify:outbox-dead:{message.id}:{message.attempts}",
            at=now,
        )

    def _audit(
        self, session: Session, message: OutboxMessage, kind: str, at: datetime, **payload: object
    ) -> None:
        record_event(
            session,
            kind=kind,
            actor=self.worker_id,
            at=at,
            subject_type="outbox",
            subject_id=message.subject_id,
            payload={
                "idempotency_key": message.idempotency_key,
                "target": message.target,
                "action": message.action,
                **payload,
            },
        )


def stop_dispatcher(stop: threading.Event) -> None:
    """End a ``Dispatcher.run_forever`` loop now: set its ``stop`` and wake it, since it sleeps
    on ``outbox.NEW_ROWS`` (a shutdown would otherwise wait up to ``poll_s`` for it, a second
    per service stop by default). A spurious wake costs any other loop one empty pass."""
    stop.set()
    outbox.NEW_ROWS.set()
