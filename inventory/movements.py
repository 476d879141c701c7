"""The only writer of stock positions: every change is one guarded UPDATE plus a movement row.

Why this shape: a position is changed by a single conditional ``UPDATE ... WHERE <guard>``, so the
check (ATP, reserved, in-transit) and the write are one atomic statement. On PostgreSQL the
UPDATE takes the row lock and re-evaluates the guard after waiting, so concurrent writers can
never oversell. On SQLite the write transaction is opened with ``BEGIN IMMEDIATE``, which
serialises writers for the whole transaction (queued by ``busy_timeout``). Every call runs in the
caller's transaction, so a refusal leaves the caller's other work intact and a caller's rollback
undoes the movement too: multi-leg moves (and keyed ones that may meet a concurrent same key) run
inside a savepoint; a single-leg move with no key or a freshly minted one needs none, because its
refused UPDATE wrote nothing (the hot path of a channel's hold, see ``movement_core.move``).

Idempotency: a movement carrying an ``idempotency_key`` is written once. A repeat with the same
key returns the first movement and changes nothing; a repeat that asks for something else
(another location, SKU, kind or qty) is refused, because silently returning the first result
would hide a caller bug.

Movements that touch two positions (dispatch, receive) write one row per position: the returned
row carries the caller's key, its counterpart leg carries ``<key>:source`` / ``<key>:dest``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

import sqlalchemy as sa
from sqlmodel import Session

from inventory import movement_core
from inventory.models import MovementKind, StockMovement
from inventory.movement_core import (
    POSITION,
    QTY,
    Hold,
    Leg,
    MovementRefused,
    as_utc,
    atp_expr,
    lock_positions,
    move,
)

__all__ = [
    "Hold",
    "MovementRefused",
    "adjust",
    "dispatch_transfer",
    "lock_positions",
    "receive_transfer",
    "record_sale",
    "release",
    "release_many",
    "reserve",
    "reserve_after_claim",
    "reserve_many",
    "set_safety",
]

# The guards, over the position's columns and the movement's quantity (``QTY``, bound per call).
_ATP_COVERS = atp_expr() >= QTY
_RESERVED_COVERS = POSITION.reserved >= QTY
_HELD_AND_ON_HAND = sa.and_(POSITION.reserved >= QTY, POSITION.on_hand >= QTY)
_IN_TRANSIT_IN_COVERS = POSITION.in_transit_in >= QTY
_IN_TRANSIT_OUT_COVERS = POSITION.in_transit_out >= QTY
_UNRESERVED_COVERS = POSITION.on_hand - POSITION.reserved >= QTY
_STAYS_ABOVE_RESERVED = POSITION.on_hand + QTY >= POSITION.reserved  # adjust: QTY is the delta


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
    fresh_key: bool = False,
) -> StockMovement:
    """Promise ``qty`` units at ``location``: reserved += qty, refused when qty > ATP.

    ``fresh_key``: ``idempotency_key`` was minted in this transaction (see ``move``).
    """
    _positive(qty, location, sku, "reserve")
    leg = Leg(
        location,
        {"reserved": qty},
        guard=_ATP_COVERS,
        refusal="reservation exceeds ATP",
    )
    return move(
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
        fresh_key=fresh_key,
    )


def reserve_after_claim(
    session: Session,
    claim: sa.Insert,
    params: Mapping[str, object],
    *,
    qty: int,
    sku: str,
    ref: str | None,
    idempotency_key: str,
    actor: str,
    reason: str = "",
    at: dt.datetime | None = None,
) -> tuple[str | None, StockMovement | None]:
    """PostgreSQL only: ``reserve`` at the location the caller's claiming INSERT returns, in
    the same statement as that INSERT (a channel's new hold: one round trip instead of two).

    The same guard and movement row as ``reserve``; ``idempotency_key`` must be fresh. Returns
    (claimed location or None, movement or None when the guard refused: the caller deletes
    its claim). See ``movement_core.reserve_after_claim``.
    """
    _positive(qty, "(claimed)", sku, "reserve")
    record = {
        "sku_code": sku,
        "kind": str(MovementKind.RESERVE),
        "qty": qty,
        "reason": reason,
        "ref": ref,
        "idempotency_key": idempotency_key,
        "actor": actor,
        "created_at": as_utc(at),
    }
    return movement_core.reserve_after_claim(
        session, claim, params, guard=_ATP_COVERS, qty=qty, record=record
    )


def reserve_many(
    session: Session, holds: list[Hold], *, actor: str, at: dt.datetime | None = None
) -> int:
    """``reserve`` for a batch: every hold's units promised, or ``MovementRefused`` when one
    (location, SKU)'s holds together exceed its ATP (run it in a savepoint: see below).

    The same guard as ``reserve`` (``on_hand − reserved − safety ≥ qty``), applied to each
    position's total in one set-based UPDATE, and one ``reserve`` movement row per hold with
    its own key, so a batch costs a few statements instead of two per hold. Returns how many
    movements it wrote. Every key must be
    fresh (minted in this transaction, like a new reservation's id): no look-up is made.
    Groups already moved when another is refused stay in the caller's transaction; the caller
    runs this in a savepoint and rolls it back on a refusal.
    """
    return _many(session, holds, MovementKind.RESERVE, movement_core.reserve_many, actor, at)


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
    fresh_key: bool = False,
) -> StockMovement:
    """Give back a promise: reserved -= qty, refused when fewer than qty units are reserved.

    ``fresh_key``: no earlier movement can hold ``idempotency_key`` (see ``move``).
    """
    _positive(qty, location, sku, "release")
    leg = Leg(
        location,
        {"reserved": -qty},
        guard=_RESERVED_COVERS,
        refusal="release exceeds reserved",
    )
    return move(
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
        fresh_key=fresh_key,
    )


def release_many(
    session: Session, holds: list[Hold], *, actor: str, at: dt.datetime | None = None
) -> int:
    """``release`` for a set of holds (the TTL sweep's lapsed reservations): every hold's units
    given back, or ``MovementRefused`` when one (location, SKU)'s holds together exceed what is
    reserved there (run it in a savepoint, as ``reserve_many``).

    The same guard as ``release`` on each position's total in one set-based UPDATE and one
    ``release`` movement row per hold with its own fresh key, so lapsed holds piling up cost a
    few statements instead of three per hold. Returns how many movements it wrote.
    """
    return _many(session, holds, MovementKind.RELEASE, movement_core.release_many, actor, at)


def _many(
    session: Session,
    holds: list[Hold],
    kind: MovementKind,
    apply: Callable[..., int],
    actor: str,
    at: dt.datetime | None,
) -> int:
    """Check each hold's quantity, then ``apply`` the set (``movement_core``'s set-based move)."""
    for hold in holds:
        _positive(hold.qty, hold.location, hold.sku, str(kind))
    if not holds:
        return 0
    return apply(session, holds, kind=str(kind), actor=actor, created_at=as_utc(at))


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
        Leg(
            source,
            {"on_hand": -qty, "reserved": -qty, "in_transit_out": qty},
            guard=_HELD_AND_ON_HAND,
            refusal=f"dispatch to {dest} exceeds the reservation at the source",
        ),
        Leg(dest, {"in_transit_in": qty}, create_if_missing=True),
    ]
    return move(
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
    received_at = as_utc(at)
    legs = [
        Leg(
            dest,
            {"on_hand": qty, "in_transit_in": -qty},
            guard=_IN_TRANSIT_IN_COVERS,
            refusal=f"receipt from {source} exceeds stock in transit to the destination",
            extra_values={"last_received_at": received_at},
        ),
        Leg(
            source,
            {"in_transit_out": -qty},
            guard=_IN_TRANSIT_OUT_COVERS,
            refusal=f"receipt at {dest} exceeds stock in transit out of the source",
        ),
    ]
    return move(
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
    fresh_key: bool = False,
) -> StockMovement:
    """A sale leaves the building: on_hand -= qty.

    A sale against a reservation (an online order picked in store) also consumes the
    reservation. A walk-in sale may dip into safety stock (the customer is at the till) but
    never into units promised to someone else.
    """
    _positive(qty, location, sku, "sale")
    if from_reservation:
        leg = Leg(
            location,
            {"on_hand": -qty, "reserved": -qty},
            guard=_HELD_AND_ON_HAND,
            refusal="sale exceeds the reservation it fulfils",
        )
    else:
        leg = Leg(
            location,
            {"on_hand": -qty},
            guard=_UNRESERVED_COVERS,
            refusal="sale exceeds unreserved on-hand",
        )
    return move(
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
        fresh_key=fresh_key,
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
    leg = Leg(
        location,
        {"on_hand": delta},
        guard=_STAYS_ABOVE_RESERVED,
        refusal=f"adjust by {delta} would leave on-hand below reserved",
        create_if_missing=delta > 0,
    )
    return move(
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
    leg = Leg(location, {}, extra_values=levels, create_if_missing=True)
    return move(
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
