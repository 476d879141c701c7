"""Closed vocabularies of the pool, stored as plain strings so SQLite and Postgres agree."""

from enum import StrEnum


class LocationKind(StrEnum):
    DC = "dc"
    STORE = "store"
    ONLINE = "online"


class Tier(StrEnum):
    A = "A"
    B = "B"
    OUTLET = "outlet"


class Channel(StrEnum):
    STORE = "store"
    ONLINE = "online"


class MovementKind(StrEnum):
    RESERVE = "reserve"
    RELEASE = "release"
    DISPATCH = "dispatch"
    RECEIVE = "receive"
    ADJUST = "adjust"
    SALE = "sale"
    SAFETY = "safety"  # safety / min-display levels changed: ATP moves without stock moving


class OrderStatus(StrEnum):
    PROPOSED = "proposed"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    DISPATCHED = "dispatched"
    RECEIVED = "received"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class PromoStatus(StrEnum):
    PROPOSED = "proposed"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    APPLIED = "applied"
    REJECTED = "rejected"
    EXPIRED = "expired"


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    AUTO_APPROVED = "auto_approved"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"  # taken back by its requester (or an approver) before a decision


class RunStatus(StrEnum):
    ADMITTED = "admitted"
    RUNNING = "running"
    INTERRUPTED = "interrupted"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"  # the decision was withdrawn before any send was attempted
    #: Not delivered within its route's retry bound (the system stayed unreachable): the
    #: dead-letter queue, re-sent or cancelled only by a person (``agents.executor.outbox_ops``).
    DEAD = "dead"
