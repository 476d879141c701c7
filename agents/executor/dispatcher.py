"""Sends the outbox to the enterprise systems, exactly once as far as they can tell.

Per row: claim it (a lease, own transaction) → call the connector with the row's idempotency key
(tenacity retries inside the call) → in one transaction record the system's reference and apply
the local effect (stock dispatched, promo applied). A transient failure reschedules the row with
exponential backoff; a refusal (4xx) or too many attempts marks it failed for a human. Crashing
anywhere is safe: an unfinished row is sent again after its lease, under the same key, and the
system answers with the reference it gave the first time.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.engine import Engine
from sqlmodel import Session

from agents.executor import orders, outbox, promos
from agents.executor.audit import record_event
from agents.executor.timing import as_utc, utcnow
from agents.executor.transactions import atomic_step
from connectors.base import ConnectorSet
from connectors.errors import ConnectorRejected, ConnectorUnavailable
from connectors.models import Ack, Notification, PriceChange, WmsTransferOrder
from inventory.db import is_transient, session_scope
from inventory.models import OutboxMessage

#: Tries to book a sent message when the database aborts the booking as a deadlock victim.
BOOKING_ATTEMPTS = 5

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class DispatchSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    max_attempts: int = Field(default=8, ge=1, description="Dispatcher attempts before failed.")
    lease_s: float = Field(
        default=120.0, gt=0, description="How long a claimed row is left alone (covers one send)."
    )
    backoff_initial_s: float = Field(default=5.0, ge=0)
    backoff_max_s: float = Field(default=600.0, ge=0)

    def backoff(self, attempts: int) -> timedelta:
        seconds = min(self.backoff_max_s, self.backoff_initial_s * 2 ** max(0, attempts - 1))
        return timedelta(seconds=seconds)


class DispatchReport(BaseModel):
    """What one ``run_pending`` did, by idempotency key."""

    sent: list[str] = Field(default_factory=list)
    retried: list[str] = Field(default_factory=list)
    failed: list[str] = Field(default_factory=list)
    skipped: list[str] = Field(
        default_factory=list, description="Claimed or finished by another dispatcher."
    )


@dataclass(frozen=True)
class _Route:
    """How one kind of outbox row is sent, and what sending it means locally."""

    send: Callable[[ConnectorSet, dict, str], Ack]
    on_sent: Callable[[Session, OutboxMessage, Ack, datetime, str], None] | None


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


ROUTES: dict[tuple[str, str], _Route] = {
    (orders.WMS_TARGET, orders.WMS_ACTION): _Route(_send_transfer, _transfer_sent),
    (promos.PRICING_TARGET, promos.PRICING_ACTION): _Route(_send_price_change, _price_change_sent),
    ("notify", "send"): _Route(_send_notification, None),
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

    def run_pending(self, limit: int = 100) -> DispatchReport:
        """Try each due row once; return what happened to each."""
        report = DispatchReport()
        with Session(self.engine) as session:
            due = outbox.due_ids(session, now=self.clock(), limit=limit)
        for message_id in due:
            message = self._claim(message_id)
            if message is None:
                report.skipped.append(str(message_id))
                continue
            outcome = self._deliver(message)
            getattr(report, outcome).append(message.idempotency_key)
        return report

    def run_forever(self, stop: threading.Event, *, poll_s: float = 2.0, limit: int = 100) -> None:
        """Drain due rows every ``poll_s`` until ``stop`` is set (a worker's background loop).

        Rescheduled rows only go out if something keeps calling ``run_pending``; this is it.
        """
        while not stop.is_set():
            try:
                report = self.run_pending(limit=limit)
            except Exception:  # a database hiccup must not kill the loop; the rows stay due
                logger.exception(
                    "dispatcher %s: run failed; retrying in %.1fs", self.worker_id, poll_s
                )
            else:
                if report.sent or report.retried or report.failed:
                    logger.info("dispatcher %s: %s", self.worker_id, report.model_dump())
            stop.wait(poll_s)

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
            if message.attempts >= self.settings.max_attempts:
                return self._fail(
                    message, f"gave up after {message.attempts} attempts: {unavailable}"
                )
            return self._reschedule(message, str(unavailable))
        return self._complete(message, ack, route)

    def _complete(self, message: OutboxMessage, ack: Ack, route: _Route) -> str:
        for attempt in range(BOOKING_ATTEMPTS):
            try:
                return self._book(message, ack, route)
            except Exception as error:
                if is_transient(error) and attempt + 1 < BOOKING_ATTEMPTS:
                    # Another writer (e.g. the run reserving the next order from the same DC)
                    # held the same positions in the other order; the database aborted us.
                    time.sleep(0.05 * (attempt + 1))
                    continue
                # The system holds it but we cannot book it (e.g. the order was changed by
                # hand): keep the reference and stop, so nobody resends into a state we do not
                # understand.
                logger.exception(
                    "outbox %s sent as %s but not booked", message.idempotency_key, ack.reference
                )
                return self._fail(
                    message,
                    f"sent as {ack.reference} but could not be booked: {error}",
                    external_ref=ack.reference,
                )
        raise AssertionError("unreachable")

    def _book(self, message: OutboxMessage, ack: Ack, route: _Route) -> str:
        now = self.clock()
        with session_scope(self.engine) as session, atomic_step(session):
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

    def _reschedule(self, message: OutboxMessage, error: str) -> str:
        now = self.clock()
        with session_scope(self.engine) as session, atomic_step(session):
            outbox.reschedule(
                session,
                message.id,
                error=error,
                next_attempt_at=now + self.settings.backoff(message.attempts),
                now=now,
            )
        return "retried"

    def _fail(self, message: OutboxMessage, error: str, *, external_ref: str | None = None) -> str:
        now = self.clock()
        with session_scope(self.engine) as session, atomic_step(session):
            if not outbox.mark_failed(
                session, message.id, error=error, now=now, external_ref=external_ref
            ):
                return "skipped"
            self._audit(
                session, message, "outbox.failed", now, error=error, attempts=message.attempts
            )
        logger.error("outbox %s failed: %s", message.idempotency_key, error)
        return "failed"

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
