"""The simulated systems' own memory: what arrived, under which key, and the faults to inject.

It is a SQLite database (a file, or ``:memory:`` for one process) rather than Python dicts so a
worker killed and restarted, or a standalone ``stockpilot sim serve``, sees the same WMS; and so
the UNIQUE (system, idempotency_key) index, not a Python lock, is what forbids a duplicate order
even when two servers share the file.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from connectors.models import (
    Ack,
    OmsShipment,
    OmsShipmentCancel,
    ReceivedRecord,
    SystemName,
    WmsTransferOrder,
)
from connectors.simulated.feedback import FeedbackSubscription, story
from connectors.simulated.oms_feedback import Planned, parcel_story

FaultMode = Literal["error", "timeout_before_commit", "timeout_after_commit"]

REFERENCE_PREFIX: dict[str, str] = {"wms": "WMS", "oms": "OMS", "pricing": "PRC", "notify": "NTF"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS received (
    system TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    reference TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    payload_hash TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (system, idempotency_key)
);
CREATE TABLE IF NOT EXISTS fault (
    system TEXT PRIMARY KEY,
    mode TEXT NOT NULL,
    remaining INTEGER NOT NULL,
    status INTEGER NOT NULL,
    delay_s REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS subscription (
    system TEXT PRIMARY KEY,
    config TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outgoing_event (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,
    sender TEXT NOT NULL,
    secret TEXT NOT NULL,
    body TEXT NOT NULL,
    due_at REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS request_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    system TEXT NOT NULL,
    method TEXT NOT NULL,
    idempotency_key TEXT,
    outcome TEXT NOT NULL,
    at TEXT NOT NULL
);
"""


class FaultSpec(BaseModel):
    """Make the next ``times`` writes to ``system`` fail the way a real system does."""

    system: SystemName
    mode: FaultMode = Field(
        default="error",
        description=(
            "error: answer `status` and do nothing; timeout_before_commit: stall `delay_s` then "
            "answer `status` without doing anything; timeout_after_commit: do the work, then "
            "stall `delay_s` before answering (the caller times out on a done deed)."
        ),
    )
    times: int = Field(default=1, ge=1, le=1000)
    status: int = Field(default=503, ge=400, le=599)
    delay_s: float = Field(default=1.0, ge=0, le=60)


class RequestLogEntry(BaseModel):
    system: SystemName
    method: str
    idempotency_key: str | None
    outcome: str = Field(
        description=(
            "created | duplicate | conflict | fault:error | fault:timeout_before_commit; "
            "'+stalled' when the reply was then withheld (timeout_after_commit)"
        )
    )
    at: datetime


class OutgoingEvent(BaseModel):
    """An event the simulated systems send to a subscriber (``connectors.simulated.feedback``)."""

    id: int
    event_id: str
    url: str
    sender: str
    secret: str = Field(exclude=True)
    body: dict
    due_at: float
    status: Literal["pending", "sent", "rejected", "withdrawn"]
    attempts: int
    last_error: str | None


class IdempotencyConflict(ValueError):
    """A key reused with a different body: the caller has a bug, not a retry."""


class ParcelShipped(ValueError):
    """A cancellation came too late: the node already handed the parcel to the courier."""


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _payload_hash(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class SimulatedState:
    """Thread-safe store behind the simulated systems app."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = str(path) if path is not None else ":memory:"
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            self.path, check_same_thread=False, timeout=30, isolation_level=None
        )
        self._conn.row_factory = sqlite3.Row
        if path is not None:
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One immediate transaction: other processes sharing the file wait their turn."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def record(
        self, system: SystemName, idempotency_key: str, payload: dict, *, stalled: bool = False
    ) -> Ack:
        """Create the thing once per key; a repeated key answers with the first reference."""
        digest = _payload_hash(payload)
        suffix = "+stalled" if stalled else ""
        with self._write() as conn:
            row = conn.execute(
                "SELECT reference, payload_hash FROM received WHERE system=? AND idempotency_key=?",
                (system, idempotency_key),
            ).fetchone()
            if row is not None:
                if row["payload_hash"] != digest:
                    self._log(conn, system, "POST", idempotency_key, "conflict" + suffix)
                    raise IdempotencyConflict(
                        f"Idempotency-Key {idempotency_key!r} was first used with a different "
                        f"body (reference {row['reference']})"
                    )
                self._log(conn, system, "POST", idempotency_key, "duplicate" + suffix)
                return Ack(system=system, reference=row["reference"], duplicate=True)
            count = conn.execute(
                "SELECT COUNT(*) FROM received WHERE system=?", (system,)
            ).fetchone()[0]
            reference = f"{REFERENCE_PREFIX[system]}-{count + 1:06d}"
            conn.execute(
                "INSERT INTO received VALUES (?, ?, ?, ?, ?, ?)",
                (
                    system,
                    idempotency_key,
                    reference,
                    json.dumps(payload, sort_keys=True),
                    digest,
                    _now().isoformat(),
                ),
            )
            self._log(conn, system, "POST", idempotency_key, "created" + suffix)
            return Ack(system=system, reference=reference, duplicate=False)

    def received(self, system: SystemName) -> list[ReceivedRecord]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM received WHERE system=? ORDER BY reference", (system,)
            ).fetchall()
        return [
            ReceivedRecord(
                system=system,
                reference=row["reference"],
                idempotency_key=row["idempotency_key"],
                payload=json.loads(row["payload"]),
                received_at=datetime.fromisoformat(row["received_at"]),
            )
            for row in rows
        ]

    def set_fault(self, fault: FaultSpec) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO fault VALUES (?, ?, ?, ?, ?)",
                (fault.system, fault.mode, fault.times, fault.status, fault.delay_s),
            )

    def take_fault(self, system: SystemName, idempotency_key: str | None) -> FaultSpec | None:
        """Consume one injected failure for ``system``, if any is armed."""
        with self._write() as conn:
            row = conn.execute("SELECT * FROM fault WHERE system=?", (system,)).fetchone()
            if row is None:
                return None
            if row["remaining"] <= 1:
                conn.execute("DELETE FROM fault WHERE system=?", (system,))
            else:
                conn.execute("UPDATE fault SET remaining=remaining-1 WHERE system=?", (system,))
            if row["mode"] != "timeout_after_commit":  # that one is logged by ``record``
                self._log(conn, system, "POST", idempotency_key, f"fault:{row['mode']}")
            return FaultSpec(
                system=system,
                mode=row["mode"],
                times=row["remaining"],
                status=row["status"],
                delay_s=row["delay_s"],
            )

    def requests(self) -> list[RequestLogEntry]:
        with self._lock:
            rows = self._conn.execute("SELECT * FROM request_log ORDER BY id").fetchall()
        return [
            RequestLogEntry(
                system=row["system"],
                method=row["method"],
                idempotency_key=row["idempotency_key"],
                outcome=row["outcome"],
                at=datetime.fromisoformat(row["at"]),
            )
            for row in rows
        ]

    # -- feedback: events the simulated WMS reports to a subscriber ---------------------------

    def subscribe(self, subscription: FeedbackSubscription, system: SystemName = "wms") -> None:
        """Report what happens to ``system``'s new orders to ``subscription`` (replaces one)."""
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO subscription VALUES (?, ?)",
                (system, subscription.model_dump_json()),
            )

    def subscription(self, system: SystemName = "wms") -> FeedbackSubscription | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT config FROM subscription WHERE system=?", (system,)
            ).fetchone()
        return None if row is None else FeedbackSubscription.model_validate_json(row["config"])

    def plan_feedback(self, reference: str, order: WmsTransferOrder) -> int:
        """Queue the story of a transfer order the WMS just created; returns how many events
        (none without a subscriber). A repeated reference queues nothing new."""
        subscription = self.subscription("wms")
        if subscription is None:
            return 0
        released_at = datetime.now(UTC).replace(microsecond=0)
        events = story(subscription, reference, order, released_at)
        return self._queue(
            subscription, [(hours, body["event_id"], body) for hours, body in events]
        )

    def plan_parcel_feedback(self, reference: str, parcel: OmsShipment) -> int:
        """Queue the story of a parcel the OMS just accepted (``oms_feedback.parcel_story``),
        unless a cancellation for it came first; returns how many events."""
        subscription = self.subscription("oms")
        if subscription is None:
            return 0
        if self._cancellation_of(parcel.shipment_ref) is not None:
            return 0  # withdrawn before it arrived: it will never ship
        released_at = datetime.now(UTC).replace(microsecond=0)
        return self._queue(subscription, parcel_story(subscription, reference, parcel, released_at))

    def _queue(self, subscription: FeedbackSubscription, events: list[Planned]) -> int:
        arrived = time.time()
        with self._write() as conn:
            for hours, key, body in events:
                conn.execute(
                    "INSERT OR IGNORE INTO outgoing_event "
                    "(event_id, url, sender, secret, body, due_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        key,
                        subscription.url,
                        subscription.sender,
                        subscription.secret,
                        json.dumps(body, sort_keys=True),
                        arrived + hours * subscription.seconds_per_hour,
                    ),
                )
        return len(events)

    # -- parcels the OMS accepted, and their cancellation --------------------------------------

    def _parcel_reference(self, conn: sqlite3.Connection, shipment_ref: str) -> str | None:
        row = conn.execute(
            "SELECT reference FROM received WHERE system='oms' "
            "AND json_extract(payload, '$.shipment_ref')=? "
            "AND json_extract(payload, '$.lines') IS NOT NULL",
            (shipment_ref,),
        ).fetchone()
        return None if row is None else row["reference"]

    def _cancellation_of(self, shipment_ref: str) -> str | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT reference FROM received WHERE system='oms' "
                "AND json_extract(payload, '$.shipment_ref')=? "
                "AND json_extract(payload, '$.lines') IS NULL",
                (shipment_ref,),
            ).fetchone()
        return None if row is None else row["reference"]

    def cancel_shipment(self, idempotency_key: str, cancel: OmsShipmentCancel) -> Ack:
        """Withdraw a parcel: its pending events are dropped and ``cancelled`` is reported.

        A parcel not (yet) held is cancelled ahead (it will never ship when it arrives).

        Raises:
            ParcelShipped: the parcel's ``shipped`` event is due or sent (too late).
            IdempotencyConflict: the key was used for another body.
        """
        now = time.time()
        with self._lock:
            reference = self._parcel_reference(self._conn, cancel.shipment_ref)
            shipped = None
            if reference is not None:
                shipped = self._conn.execute(
                    "SELECT body FROM outgoing_event WHERE json_extract(body, '$.order_ref')=? "
                    "AND json_extract(body, '$.type')='shipped' AND status!='withdrawn' "
                    "AND (status!='pending' OR due_at<=?) LIMIT 1",
                    (reference, now),
                ).fetchone()
        if shipped is not None:
            body = json.loads(shipped["body"])
            with self._write() as conn:
                self._log(conn, "oms", "POST", idempotency_key, "refused:shipped")
            raise ParcelShipped(
                f"parcel {cancel.shipment_ref} ({reference}) already shipped from "
                f"{body['origin']} at {body['occurred_at']}; it cannot be cancelled"
            )
        ack = self.record("oms", idempotency_key, cancel.model_dump(mode="json"))
        if reference is None or ack.duplicate:
            return ack
        subscription = self.subscription("oms")
        with self._write() as conn:
            withdrawn = conn.execute(
                "UPDATE outgoing_event SET status='withdrawn' WHERE status='pending' "
                "AND json_extract(body, '$.order_ref')=?",
                (reference,),
            ).rowcount
            template = conn.execute(
                "SELECT body FROM outgoing_event WHERE json_extract(body, '$.order_ref')=? "
                "ORDER BY id LIMIT 1",
                (reference,),
            ).fetchone()
            if subscription is None or template is None or not withdrawn:
                return ack
            body = {
                key: value
                for key, value in json.loads(template["body"]).items()
                if key
                in ("system", "order_ref", "client_ref", "order_kind", "origin", "destination")
            } | {
                "event_id": f"{reference}:cancelled",
                "type": "cancelled",
                "occurred_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
                "reason": cancel.reason or "cancelled at the retailer's request",
            }
            conn.execute(
                "INSERT OR IGNORE INTO outgoing_event "
                "(event_id, url, sender, secret, body, due_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    body["event_id"] + "#withdrawn",
                    subscription.url,
                    subscription.sender,
                    subscription.secret,
                    json.dumps(body, sort_keys=True),
                    now,
                ),
            )
        return ack

    def due_events(self, now: float, limit: int = 100) -> list[OutgoingEvent]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM outgoing_event WHERE status='pending' AND due_at<=? "
                "ORDER BY due_at, id LIMIT ?",
                (now, limit),
            ).fetchall()
        return [self._event(row) for row in rows]

    def outgoing_events(self) -> list[OutgoingEvent]:
        with self._lock:
            rows = self._conn.execute("SELECT * FROM outgoing_event ORDER BY id").fetchall()
        return [self._event(row) for row in rows]

    def event_sent(self, event_row: int) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE outgoing_event SET status='sent', attempts=attempts+1, last_error=NULL "
                "WHERE id=?",
                (event_row,),
            )

    def event_failed(self, event_row: int, error: str, *, retry: bool) -> None:
        """Back off 1, 2, 4 … 60 s between attempts; a refused event is not sent again."""
        with self._write() as conn:
            conn.execute(
                "UPDATE outgoing_event SET attempts=attempts+1, last_error=?, status=?, "
                "due_at=? + MIN(60, 1 << MIN(attempts, 6)) WHERE id=?",
                (error, "pending" if retry else "rejected", time.time(), event_row),
            )

    @staticmethod
    def _event(row: sqlite3.Row) -> OutgoingEvent:
        return OutgoingEvent(
            id=row["id"],
            event_id=row["event_id"],
            url=row["url"],
            sender=row["sender"],
            secret=row["secret"],
            body=json.loads(row["body"]),
            due_at=row["due_at"],
            status=row["status"],
            attempts=row["attempts"],
            last_error=row["last_error"],
        )

    def reset(self) -> None:
        with self._write() as conn:
            for table in ("received", "fault", "request_log", "outgoing_event"):
                conn.execute(f"DELETE FROM {table}")

    @staticmethod
    def _log(
        conn: sqlite3.Connection,
        system: str,
        method: str,
        idempotency_key: str | None,
        outcome: str,
    ) -> None:
        conn.execute(
            "INSERT INTO request_log (system, method, idempotency_key, outcome, at) "
            "VALUES (?, ?, ?, ?, ?)",
            (system, method, idempotency_key, outcome, _now().isoformat()),
        )
