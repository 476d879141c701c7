"""The only writer of stock positions: every change is one guarded UPDATE plus a movement row.

Why this shape: a position is changed by a single conditional ``UPDATE ... WHERE <guard>``, so the
check (ATP, reserved, in-transit) and the write are one atomic statement. On PostgreSQL the
UPDATE takes the row lock and re-evaluates the guard after waiting, so concurrent writers can
never oversell. On SQLite the write transaction is opened with ``BEGIN IMMEDIATE``, which
serialises writers for the whole transaction (queued by ``busy_timeout``). Every call runs in the
caller's transaction (inside a savepoint), so a refusal leaves the caller's other work intact and
a caller's rollback undoes the movement too.

Idempotency: a movement carrying an ``idempotency_key`` is written once. A repeat with the same
key returns the first movement and changes nothing; a repeat that asks for something else
(another location, SKU, kind or qty) is refused, because silently returning the first result
would hide a caller bug.

Movements that touch two positions (dispatch, receive) write one row per position: the returned
row carries the caller's key, its counterpart leg carries ``<key>:source`` / ``<key>:dest``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from inventory.models import Location, MovementKind, Sku, StockMovement, StockPosition
from inventory.upsert import dialect_insert

__all__ = [
    "MovementRefused",
    "adjust",
    "dispatch_transfer",
    "receive_transfer",
    "record_sale",
    "release",
    "reserve",
    "set_safety",
]

_P = StockPosition.__table__.c  # type: ignore[attr-defined]


class MovementRefused(ValueError):
    """A movement that would break a stock invariant (ATP, reserved, in-transit) or is malformed.

    The message is written for an ops user: it names the location, SKU, the quantity asked and
    the quantity available.
    """

    def __init__(
        self, message: str, *, location: str, sku: str, qty: int, available: int | None = None
    ) -> None:
        super().__init__(message)
        self.location = location
        self.sku = sku
        self.qty = qty
        self.available = available


@dataclass(frozen=True)
class _Leg:
    """One position's change inside a movement: column deltas and the guard they must satisfy."""

    location: str
    deltas: Mapping[str, int]
    guard: sa.ColumnElement[bool] | None = None
    refusal: str = ""
    create_if_missing: bool = False
    extra_values: Mapping[str, object] = field(default_factory=dict)


def _as_utc(at: dt.datetime | None) -> dt.datetime:
    """Timestamps are stored timezone-aware; a naive one (the world clock) is read as UTC."""
    if at is None:
        return dt.datetime.now(dt.UTC)
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


def _atp_expr() -> sa.ColumnElement[int]:
    return _P.on_hand - _P.reserved - _P.safety


def _begin_write(session: Session) -> None:
    """On SQLite, open the transaction as a writer so concurrent writers queue instead of racing.

    pysqlite opens transactions lazily (only before DML), so a transaction may not exist yet;
    ``BEGIN IMMEDIATE`` takes the write lock now, and ``busy_timeout`` makes others wait for it.
    PostgreSQL needs nothing here: the guarded UPDATE's row lock does the job.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    dbapi_connection = connection.connection.dbapi_connection
    if dbapi_connection is not None and not dbapi_connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _position(session: Session, location: str, sku: str) -> StockPosition | None:
    stmt = (
        select(StockPosition)
        .where(StockPosition.location_code == location, StockPosition.sku_code == sku)
        .execution_options(populate_existing=True)
    )
    return session.exec(stmt).first()


def _require_known(session: Session, location: str, sku: str, qty: int) -> None:
    if session.get(Location, location) is None:
        raise MovementRefused(f"unknown location {location!r}", location=location, sku=sku, qty=qty)
    if session.get(Sku, sku) is None:
        raise MovementRefused(f"unknown SKU {sku!r}", location=location, sku=sku, qty=qty)


def _insert_missing_position(session: Session, location: str, sku: str) -> None:
    """Create an empty position if there is none; concurrent creators do not collide."""
    stmt = (
        dialect_insert(session, StockPosition.__table__)  # type: ignore[arg-type]
        .values(location_code=location, sku_code=sku)
        .on_conflict_do_nothing(index_elements=["location_code", "sku_code"])
    )
    session.execute(stmt)


def _apply_leg(session: Session, leg: _Leg, sku: str, qty: int) -> tuple[int, int]:
    """Run one guarded UPDATE; return (on_hand, reserved) after it, or raise MovementRefused."""
    if leg.create_if_missing:
        _require_known(session, leg.location, sku, qty)
        _insert_missing_position(session, leg.location, sku)
    values: dict[str, object] = {name: _P[name] + delta for name, delta in leg.deltas.items()}
    values.update(leg.extra_values)
    values["version"] = _P.version + 1
    stmt = (
        sa.update(StockPosition.__table__)  # type: ignore[attr-defined]
        .where(_P.location_code == leg.location, _P.sku_code == sku)
        .values(values)
        .returning(_P.on_hand, _P.reserved)
    )
    if leg.guard is not None:
        stmt = stmt.where(leg.guard)
    row = session.execute(stmt).first()
    if row is not None:
        return int(row.on_hand), int(row.reserved)
    position = _position(session, leg.location, sku)
    if position is None:
        _require_known(session, leg.location, sku, qty)
        raise MovementRefused(
            f"{leg.refusal}: {leg.location} holds no stock position for {sku} (asked {qty})",
            location=leg.location,
            sku=sku,
            qty=qty,
            available=0,
        )
    raise MovementRefused(
        _describe_refusal(leg.refusal, leg.location, sku, qty, position),
        location=leg.location,
        sku=sku,
        qty=qty,
        available=position.atp,
    )


def _describe_refusal(what: str, location: str, sku: str, qty: int, position: StockPosition) -> str:
    return (
        f"{what}: {location} / {sku} asked {qty}, ATP {position.atp} "
        f"(on_hand {position.on_hand}, reserved {position.reserved}, safety {position.safety}, "
        f"in_transit_in {position.in_transit_in}, in_transit_out {position.in_transit_out})"
    )


def _existing(session: Session, idempotency_key: str) -> StockMovement | None:
    stmt = select(StockMovement).where(StockMovement.idempotency_key == idempotency_key)
    return session.exec(stmt).first()


def _check_same_request(
    first: StockMovement, kind: MovementKind, location: str, sku: str, qty: int
) -> StockMovement:
    if (first.kind, first.location_code, first.sku_code, first.qty) != (kind, location, sku, qty):
        raise MovementRefused(
            f"idempotency key {first.idempotency_key!r} was already used for {first.kind} "
            f"{first.qty} × {first.sku_code} at {first.location_code}; "
            f"refusing {kind} {qty} × {sku} at {location} under the same key",
            location=location,
            sku=sku,
            qty=qty,
        )
    return first


def _move(
    session: Session,
    *,
    kind: MovementKind,
    sku: str,
    qty: int,
    legs: list[_Leg],
    ref: str | None,
    idempotency_key: str | None,
    actor: str,
    reason: str,
    at: dt.datetime | None,
    counterpart_suffix: str = "",
) -> StockMovement:
    """Apply ``legs`` atomically and write one movement row per leg; return the first leg's row."""
    primary = legs[0].location
    _begin_write(session)
    if idempotency_key is not None and (first := _existing(session, idempotency_key)):
        return _check_same_request(first, kind, primary, sku, qty)
    created_at = _as_utc(at)
    try:
        with session.begin_nested():
            after: dict[str, tuple[int, int]] = {}
            # Lock rows in a fixed order (location code) so two-leg movements cannot deadlock.
            for leg in sorted(legs, key=lambda item: item.location):
                after[leg.location] = _apply_leg(session, leg, sku, qty)
            rows = [
                StockMovement(
                    location_code=leg.location,
                    sku_code=sku,
                    kind=kind,
                    qty=qty,
                    on_hand_after=after[leg.location][0],
                    reserved_after=after[leg.location][1],
                    reason=reason,
                    ref=ref,
                    idempotency_key=(
                        idempotency_key
                        if index == 0 or idempotency_key is None
                        else f"{idempotency_key}:{counterpart_suffix}"
                    ),
                    actor=actor,
                    created_at=created_at,
                )
                for index, leg in enumerate(legs)
            ]
            session.add_all(rows)
            session.flush()
    except IntegrityError:
        # A concurrent caller (PostgreSQL) committed the same key between our check and insert.
        if idempotency_key is None or (first := _existing(session, idempotency_key)) is None:
            raise
        return _check_same_request(first, kind, primary, sku, qty)
    _expire_positions(session, [leg.location for leg in legs], sku)
    return rows[0]


def _expire_positions(session: Session, locations: list[str], sku: str) -> None:
    """Positions loaded earlier in this session are stale after a Core UPDATE; reload on access."""
    for obj in list(session.identity_map.values()):
        if (
            isinstance(obj, StockPosition)
            and obj.sku_code == sku
            and obj.location_code in locations
        ):
            session.expire(obj)


def _positive(qty: int, location: str, sku: str, what: str) -> int:
    if isinstance(qty, bool) or not isinstance(qty, int) or qty <= 0:
        raise MovementRefused(
            f"{what} qty must be a positive integer, got {qty!r} ({location} / {sku})",
            location=location,
            sku=sku,
            qty=qty if isinstance(qty, int) else 0,
        )
    return qty


def reserve(
    session: Session,
    location: str,
    sku: str,
    qty: int,
    *,
    ref: str | None,
    idempotency_key: str | None,
    actor: str,
    reason: str = "",
    at: dt.datetime | None = None,
) -> StockMovement:
    """Promise ``qty`` units at ``location``: reserved += qty, refused when qty > ATP."""
    _positive(qty, location, sku, "reserve")
    leg = _Leg(
        location,
        {"reserved": qty},
        guard=_atp_expr() >= qty,
        refusal="reservation exceeds ATP",
    )
    return _move(
        session,
        kind=MovementKind.RESERVE,
        sku=sku,
        qty=qty,
        legs=[leg],
        ref=ref,
        idempotency_key=idempotency_key,
        actor=actor,
        reason=reason,
        at=at,
    )


def release(
    session: Session,
    location: str,
    sku: str,
    qty: int,
    *,
    ref: str | None,
    idempotency_key: str | None,
    actor: str,
    reason: str = "",
    at: dt.datetime | None = None,
) -> StockMovement:
    """Give back a promise: reserved -= qty, refused when fewer than qty units are reserved."""
    _positive(qty, location, sku, "release")
    leg = _Leg(
        location,
        {"reserved": -qty},
        guard=_P.reserved >= qty,
        refusal="release exceeds reserved",
    )
    return _move(
        session,
        kind=MovementKind.RELEASE,
        sku=sku,
        qty=qty,
        legs=[leg],
        ref=ref,
        idempotency_key=idempotency_key,
        actor=actor,
        reason=reason,
        at=at,
    )


def dispatch_transfer(
    session: Session,
    source: str,
    dest: str,
    sku: str,
    qty: int,
    *,
    ref: str | None,
    idempotency_key: str | None,
    actor: str,
    reason: str = "",
    at: dt.datetime | None = None,
) -> StockMovement:
    """Ship reserved units: the source loses on-hand and the reservation, both sides gain
    in-transit. Refused unless ``qty`` units are reserved (and on hand) at the source."""
    _positive(qty, source, sku, "dispatch")
    if source == dest:
        raise MovementRefused(
            f"dispatch source and destination are both {source}", location=source, sku=sku, qty=qty
        )
    legs = [
        _Leg(
            source,
            {"on_hand": -qty, "reserved": -qty, "in_transit_out": qty},
            guard=sa.and_(_P.reserved >= qty, _P.on_hand >= qty),
            refusal=f"dispatch to {dest} exceeds the reservation at the source",
        ),
        _Leg(dest, {"in_transit_in": qty}, create_if_missing=True),
    ]
    return _move(
        session,
        kind=MovementKind.DISPATCH,
        sku=sku,
        qty=qty,
        legs=legs,
        ref=ref,
        idempotency_key=idempotency_key,
        actor=actor,
        reason=reason or f"transfer {source} → {dest}",
        at=at,
        counterpart_suffix="dest",
    )


def receive_transfer(
    session: Session,
    source: str,
    dest: str,
    sku: str,
    qty: int,
    *,
    ref: str | None,
    idempotency_key: str | None,
    actor: str,
    at: dt.datetime | None = None,
    reason: str = "",
) -> StockMovement:
    """Book a shipment in at the destination: dest on-hand += qty, both in-transit legs -= qty.

    Refused when more is received than is in transit on either side, so a duplicate or wrong
    receipt never creates stock out of nothing.
    """
    _positive(qty, dest, sku, "receive")
    received_at = _as_utc(at)
    legs = [
        _Leg(
            dest,
            {"on_hand": qty, "in_transit_in": -qty},
            guard=_P.in_transit_in >= qty,
            refusal=f"receipt from {source} exceeds stock in transit to the destination",
            extra_values={"last_received_at": received_at},
        ),
        _Leg(
            source,
            {"in_transit_out": -qty},
            guard=_P.in_transit_out >= qty,
            refusal=f"receipt at {dest} exceeds stock in transit out of the source",
        ),
    ]
    return _move(
        session,
        kind=MovementKind.RECEIVE,
        sku=sku,
        qty=qty,
        legs=legs,
        ref=ref,
        idempotency_key=idempotency_key,
        actor=actor,
        reason=reason or f"transfer {source} → {dest}",
        at=received_at,
        counterpart_suffix="source",
    )


def record_sale(
    session: Session,
    location: str,
    sku: str,
    qty: int,
    *,
    ref: str | None = None,
    idempotency_key: str | None = None,
    actor: str = "system",
    reason: str = "",
    from_reservation: bool = False,
    at: dt.datetime | None = None,
) -> StockMovement:
    """A sale leaves the building: on_hand -= qty.

    A sale against a reservation (an online order picked in store) also consumes the
    reservation. A walk-in sale may dip into safety stock (the customer is at the till) but
    never into units promised to someone else.
    """
    _positive(qty, location, sku, "sale")
    if from_reservation:
        leg = _Leg(
            location,
            {"on_hand": -qty, "reserved": -qty},
            guard=sa.and_(_P.reserved >= qty, _P.on_hand >= qty),
            refusal="sale exceeds the reservation it fulfils",
        )
    else:
        leg = _Leg(
            location,
            {"on_hand": -qty},
            guard=_P.on_hand - _P.reserved >= qty,
            refusal="sale exceeds unreserved on-hand",
        )
    return _move(
        session,
        kind=MovementKind.SALE,
        sku=sku,
        qty=qty,
        legs=[leg],
        ref=ref,
        idempotency_key=idempotency_key,
        actor=actor,
        reason=reason,
        at=at,
    )


def adjust(
    session: Session,
    location: str,
    sku: str,
    delta: int,
    *,
    reason: str,
    ref: str | None = None,
    idempotency_key: str | None = None,
    actor: str = "system",
    at: dt.datetime | None = None,
) -> StockMovement:
    """Correct on-hand (count, damage, opening balance) by ``delta``; the position is created if
    missing. Refused when on-hand would drop below what is reserved: release those first, so a
    promise is never silently broken."""
    if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0:
        raise MovementRefused(
            f"adjust delta must be a non-zero integer, got {delta!r} ({location} / {sku})",
            location=location,
            sku=sku,
            qty=delta if isinstance(delta, int) else 0,
        )
    if not reason.strip():
        raise MovementRefused(
            f"adjust needs a reason ({location} / {sku}, delta {delta})",
            location=location,
            sku=sku,
            qty=delta,
        )
    leg = _Leg(
        location,
        {"on_hand": delta},
        guard=_P.on_hand + delta >= _P.reserved,
        refusal=f"adjust by {delta} would leave on-hand below reserved",
        create_if_missing=delta > 0,
    )
    return _move(
        session,
        kind=MovementKind.ADJUST,
        sku=sku,
        qty=delta,
        legs=[leg],
        ref=ref,
        idempotency_key=idempotency_key,
        actor=actor,
        reason=reason,
        at=at,
    )


def set_safety(
    session: Session,
    location: str,
    sku: str,
    *,
    safety: int,
    min_display: int | None = None,
    reason: str,
    actor: str = "system",
    idempotency_key: str | None = None,
    at: dt.datetime | None = None,
) -> StockMovement:
    """Set the safety (and optionally min-display) level; ATP moves, so it is recorded too.

    The movement's ``qty`` is the new safety level. Existing reservations are kept even when the
    new safety pushes ATP to zero: safety limits new promises, it does not cancel old ones.
    """
    for name, value in (("safety", safety), ("min_display", min_display)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise MovementRefused(
                f"{name} must be a non-negative integer, got {value!r} ({location} / {sku})",
                location=location,
                sku=sku,
                qty=0,
            )
    levels: dict[str, object] = {"safety": safety}
    if min_display is not None:
        levels["min_display"] = min_display
    leg = _Leg(location, {}, extra_values=levels, create_if_missing=True)
    return _move(
        session,
        kind=MovementKind.SAFETY,
        sku=sku,
        qty=safety,
        legs=[leg],
        ref=None,
        idempotency_key=idempotency_key,
        actor=actor,
        reason=reason,
        at=at,
    )
