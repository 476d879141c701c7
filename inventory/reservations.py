"""Channel reservations: hold, confirm (deduct) and release stock, and expire what is left open.

Every unit moves through ``inventory.movements`` (the single stock writer, which checks ATP in
the same statement), so no reservation can oversell; this module adds who holds what, the
channel's idempotency key, the entitlement check and the TTL.

A reservation changes state once: each transition is a guarded ``UPDATE ... WHERE status =
'open'`` in the same transaction as its movement, so a confirm racing a release (or the expiry
sweep) leaves exactly one of them applied. The movement's own idempotency key
(``reservation:<id>:<verb>``) makes a retried transition deduct or release at most once.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, select
from sqlmodel.sql.expression import SelectOfScalar

from inventory import movements
from inventory.availability import (
    availability_json,
    closed_parameter,
    entitled_atp,
    is_entitled,
    not_closed,
)
from inventory.clock import as_utc
from inventory.db import begin_write
from inventory.models import (
    ChannelEntitlement,
    ChannelReservation,
    ReservationStatus,
    Sku,
    StockPosition,
)
from inventory.movement_core import POSITION, atp_expr
from inventory.movements import MovementRefused
from inventory.refusals import PoolRefusal
from inventory.rows import detached_row
from inventory.upsert import dialect_insert

_RESERVATION = ChannelReservation.__table__.c  # type: ignore[attr-defined]
_ENTITLEMENT = ChannelEntitlement.__table__.c  # type: ignore[attr-defined]
log = logging.getLogger(__name__)


class ReservationError(PoolRefusal):
    """The pool refused a reservation (``kind``: which HTTP answer it deserves)."""


@dataclass(frozen=True)
class ReservationRequest:
    channel: str
    sku: str
    qty: int
    idempotency_key: str
    ttl_s: int
    location: str | None = None


def _scoped_key(channel: str, key: str) -> str:
    """Keys are the channel's own: two channels may use the same key without colliding."""
    return f"{channel}:{key}"


def _by_key(session: Session, scoped_key: str) -> ChannelReservation | None:
    stmt = (
        select(ChannelReservation)
        .where(ChannelReservation.idempotency_key == scoped_key)
        .execution_options(populate_existing=True)
    )
    return session.exec(stmt).first()


def _same_request(row: ChannelReservation, request: ReservationRequest) -> ChannelReservation:
    asked = (request.sku, request.qty, request.location, request.ttl_s)
    first = (row.sku_code, row.qty, row.requested_location, row.ttl_s)
    if asked != first:
        raise ReservationError(
            "conflict",
            f"idempotency key {request.idempotency_key!r} was already used for reservation "
            f"{row.id} ({row.qty} × {row.sku_code}, location {row.requested_location or 'auto'}, "
            f"ttl {row.ttl_s} s); refusing a different request under the same key",
            field="idempotency_key",
        )
    return row


def _closed_refusal(location: str, why: str) -> ReservationError:
    return ReservationError(
        "refused", f"{location} does not ship online orders: {why}", field="location"
    )


def _candidates(
    session: Session, request: ReservationRequest, closed: Mapping[str, str]
) -> list[str]:
    if request.location is not None:
        if (why := closed.get(request.location)) is not None:
            raise _closed_refusal(request.location, why)
        if not is_entitled(session, request.channel, request.location):
            raise ReservationError(
                "refused",
                f"{request.location} may not sell on channel {request.channel!r} "
                "(no channel_entitlement allows it)",
                field="location",
            )
        return [request.location]
    found = entitled_atp(session, request.channel, [request.sku], sorted(closed)).get(
        request.sku, []
    )
    able = [item.location for item in found if item.atp >= request.qty]
    if not able:
        sellable = sum(item.atp for item in found)
        best = found[0].atp if found else 0
        raise ReservationError(
            "refused",
            f"no location entitled to {request.channel!r} has {request.qty} × {request.sku} "
            f"available (sellable {sellable} in total, at most {best} at one location)",
            field="qty",
        )
    return able


def create(
    session: Session,
    request: ReservationRequest,
    *,
    actor: str,
    now: dt.datetime,
    closed: Mapping[str, str] | None = None,
) -> tuple[ChannelReservation, bool]:
    """Hold ``qty`` units for the channel; returns the reservation and whether it is new.

    Without a location the service tries the entitled locations with the most ATP first (a
    concurrent caller may take the first one's units between the read and the guarded write).
    ``closed`` (code → why) are the locations this hold may not take: the stores availability
    leaves out for the channel (the caller's policy: stores that ship no online order now).
    They are never picked, and one asked for by name is refused, as an unentitled one is.

    The common case (a new key, a location with enough ATP) takes one statement on PostgreSQL
    and three on SQLite (``_hold_fast``); a replay, a refusal or a lost race falls back to
    ``_hold_checked``, which reads first and says precisely why.
    """
    begin_write(session)
    scoped = _scoped_key(request.channel, request.idempotency_key)
    reservation_id = f"res-{uuid.uuid4().hex[:20]}"
    now = as_utc(now)
    closed = closed or {}
    # A closed location asked for by name goes to the checked path: a replay, else refused.
    if request.location not in closed and (
        row := _hold_fast(session, request, scoped, reservation_id, actor, now, closed)
    ):
        return row, True
    return _hold_checked(session, request, scoped, reservation_id, actor, now, closed)


#: The columns the claiming INSERT takes from its parameters (the location comes from the pick).
_CLAIMED = (
    "id",
    "channel",
    "sku_code",
    "qty",
    "status",
    "idempotency_key",
    "requested_location",
    "ttl_s",
    "created_by",
    "created_at",
    "expires_at",
    "updated_at",
)


def _row_values(
    request: ReservationRequest, scoped: str, reservation_id: str, actor: str, now: dt.datetime
) -> dict[str, object]:
    return {
        "id": reservation_id,
        "channel": request.channel,
        "sku_code": request.sku,
        "qty": request.qty,
        "status": ReservationStatus.OPEN.value,
        "idempotency_key": scoped,
        "requested_location": request.location,
        "ttl_s": request.ttl_s,
        "created_by": actor,
        "created_at": now,
        "expires_at": now + dt.timedelta(seconds=request.ttl_s),
        "updated_at": now,
    }


def _hold_fast(
    session: Session,
    request: ReservationRequest,
    scoped: str,
    reservation_id: str,
    actor: str,
    now: dt.datetime,
    closed: Mapping[str, str],
) -> ChannelReservation | None:
    """Claim the key and hold the units without reading first; None when that did not work.

    One ``INSERT ... SELECT ... ON CONFLICT (idempotency_key) DO NOTHING`` picks the entitled
    location with the most ATP outside ``closed`` (one array or JSON parameter, so the cached
    statement serves any list) or checks the one asked for, and claims the key together; the
    stock writer's guarded UPDATE then holds the units (on PostgreSQL in the same statement,
    ``movements.reserve_after_claim``). Nothing inserted means a replay, a
    refusal or an unknown SKU, and nothing was written; a guarded UPDATE lost to a concurrent
    hold deletes the claimed row again. Either way the checked path takes over.
    """
    values = _row_values(request, scoped, reservation_id, actor, now)
    claim = _claim_statement(session, located=request.location is not None)
    dialect = session.get_bind().dialect.name
    params = {**values, "closed": closed_parameter(dialect, sorted(closed))}
    if dialect == "postgresql":
        # One round trip: the stock writer's reserve leg runs at the claimed location in the
        # claiming statement itself.
        location, moved = movements.reserve_after_claim(
            session,
            claim,
            params,
            qty=request.qty,
            sku=request.sku,
            ref=reservation_id,
            idempotency_key=f"reservation:{reservation_id}:reserve",
            actor=actor,
            reason=f"{request.channel} reservation",
            at=now,
        )
        if location is None:
            return None
        if moved is None:
            _unclaim(session, reservation_id)
            return None
        return detached_row(ChannelReservation, {**values, "location_code": location})
    location = session.connection().execute(claim, params).scalar()
    if location is None:
        return None
    try:
        _reserve_at(session, location, request, reservation_id, actor, now, fresh_key=True)
    except MovementRefused:
        _unclaim(session, reservation_id)
        return None
    return detached_row(ChannelReservation, {**values, "location_code": location})


def _unclaim(session: Session, reservation_id: str) -> None:
    """The claimed key's row goes again: its hold lost to a concurrent one (checked path next)."""
    session.connection().execute(
        sa.delete(ChannelReservation.__table__).where(_RESERVATION.id == reservation_id)  # type: ignore[arg-type]
    )


def _reserve_at(
    session: Session,
    location: str,
    request: ReservationRequest,
    reservation_id: str,
    actor: str,
    now: dt.datetime,
    *,
    fresh_key: bool = False,
) -> None:
    """The hold itself, through the single stock writer (raises ``MovementRefused``)."""
    movements.reserve(
        session,
        location,
        request.sku,
        request.qty,
        ref=reservation_id,
        idempotency_key=f"reservation:{reservation_id}:reserve",
        actor=actor,
        reason=f"{request.channel} reservation",
        at=now,
        fresh_key=fresh_key,
    )


_CLAIMS: dict[tuple[str, bool], sa.Insert] = {}


def _claim_statement(session: Session, *, located: bool) -> sa.Insert:
    """The claiming INSERT, built once per dialect (bound parameters carry every value)."""
    dialect = session.get_bind().dialect.name
    if (cached := _CLAIMS.get((dialect, located))) is not None:
        return cached
    atp = atp_expr()
    best = (
        sa.select(
            *[sa.bindparam(name, type_=_RESERVATION[name].type) for name in _CLAIMED],
            POSITION.location_code,
        )
        .select_from(StockPosition.__table__)  # type: ignore[arg-type]
        .join(
            ChannelEntitlement.__table__,  # type: ignore[arg-type]
            sa.and_(
                _ENTITLEMENT.location_code == POSITION.location_code,
                _ENTITLEMENT.channel == sa.bindparam("channel"),
                _ENTITLEMENT.allowed.is_(True),
            ),
        )
        .where(
            POSITION.sku_code == sa.bindparam("sku_code"),
            atp >= sa.bindparam("qty"),
            not_closed(POSITION.location_code, dialect),
        )
        .order_by(atp.desc(), POSITION.location_code)
        .limit(sa.literal_column("1", sa.Integer))  # inline: the PostgreSQL text binds no LIMIT
    )
    if located:
        best = best.where(POSITION.location_code == sa.bindparam("requested_location"))
    statement = (
        dialect_insert(session, ChannelReservation.__table__)  # type: ignore[arg-type]
        .from_select([*_CLAIMED, "location_code"], best)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(_RESERVATION.location_code)
    )
    _CLAIMS[(dialect, located)] = statement
    return statement


def _hold_checked(
    session: Session,
    request: ReservationRequest,
    scoped: str,
    reservation_id: str,
    actor: str,
    now: dt.datetime,
    closed: Mapping[str, str],
) -> tuple[ChannelReservation, bool]:
    """Read first: answer a replay, refuse with the reason, or hold at the next best location."""
    if (existing := _by_key(session, scoped)) is not None:
        return _same_request(existing, request), False
    refusal: MovementRefused | None = None
    try:
        with session.begin_nested():
            for location in _candidates(session, request, closed):
                try:
                    _reserve_at(session, location, request, reservation_id, actor, now)
                    break
                except MovementRefused as exc:
                    refusal = exc
            else:
                raise ReservationError(
                    "refused", f"not enough stock: {refusal}", field="qty"
                ) from refusal
            row = ChannelReservation(
                id=reservation_id,
                channel=request.channel,
                sku_code=request.sku,
                location_code=location,
                qty=request.qty,
                status=ReservationStatus.OPEN,
                idempotency_key=scoped,
                requested_location=request.location,
                ttl_s=request.ttl_s,
                created_by=actor,
                created_at=now,
                expires_at=now + dt.timedelta(seconds=request.ttl_s),
                updated_at=now,
            )
            session.add(row)
            session.flush()
    except ReservationError:
        # An unknown SKU is a 404, not a lack of stock; asked only when refused (hot path).
        if session.get(Sku, request.sku) is None:
            raise ReservationError(
                "not_found", f"unknown SKU {request.sku!r}", field="sku"
            ) from None
        raise
    except IntegrityError:
        # A concurrent request (PostgreSQL) committed the same key first: answer as its replay.
        if (existing := _by_key(session, scoped)) is None:
            raise
        return _same_request(existing, request), False
    return row, True


# -- a batch of holds (``create_batch``) -------------------------------------------------------

#: How many lines one batch may carry (the API's limit, and the size the statements are sized for).
MAX_BATCH = 500


@dataclass(frozen=True)
class BatchLine:
    """One line's answer: ``reserved`` (new), ``replayed`` (its key's first reservation) or
    ``refused`` (``error`` says why: ``refused`` / ``not_found`` / ``conflict``)."""

    outcome: str
    reservation: ChannelReservation | None = None
    error: ReservationError | None = None


def create_batch(
    session: Session,
    channel: str,
    requests: Sequence[ReservationRequest],
    *,
    actor: str,
    now: dt.datetime,
    closed: Mapping[str, str] | None = None,
) -> list[BatchLine]:
    """Hold a batch of lines for one channel; one answer per line, in the order asked.

    Lines are independent (partial success): each is reserved, replayed or refused on its own,
    with the single call's rules (entitlement, ``closed`` locations never picked and refused by
    name, most-ATP location, key per channel, same key and
    body → the first reservation, another body → conflict), and served in order as if sent one
    by one, so two lines for the last units: the first wins. Stock moves only through
    ``movements.reserve_many`` (the single stock writer's guard, per position), in a few
    set-based statements: the keys' look-up, the entitled ATP, (PostgreSQL) the chosen
    positions locked in a fixed order and read again, the reservation rows, the guarded UPDATE
    and the movement rows. The whole batch commits or rolls back with the caller's transaction,
    so a kill -9 leaves every key with 0 or 1 reservation.
    """
    if not all(request.channel == channel for request in requests):
        raise ValueError("every line of a batch acts for the batch's channel")
    scoped = [_scoped_key(channel, request.idempotency_key) for request in requests]
    if len(set(scoped)) != len(scoped):
        raise ValueError("a batch may use each idempotency key once")
    begin_write(session)
    now = as_utc(now)
    answers: dict[int, BatchLine] = {}
    existing = _by_keys(session, scoped)
    pending: list[int] = []
    for index, request in enumerate(requests):
        if (row := existing.get(scoped[index])) is None:
            pending.append(index)
            continue
        try:
            answers[index] = BatchLine("replayed", _same_request(row, request))
        except ReservationError as conflict:
            answers[index] = BatchLine("refused", error=conflict)
    if pending:
        answers.update(
            _hold_batch(session, channel, requests, scoped, pending, actor, now, closed or {})
        )
    return [answers[index] for index in range(len(requests))]


def _by_keys(session: Session, scoped: Sequence[str]) -> dict[str, ChannelReservation]:
    """The reservations already holding any of ``scoped`` keys, in one statement."""
    stmt = sa.select(ChannelReservation.__table__).where(  # type: ignore[call-overload]
        _RESERVATION.idempotency_key.in_(list(scoped))
    )
    return {
        row.idempotency_key: detached_row(ChannelReservation, dict(row._mapping))
        for row in session.connection().execute(stmt)
    }


_DEADLOCK = "40P01"
_ATTEMPTS = 4


def _hold_batch(
    session: Session,
    channel: str,
    requests: Sequence[ReservationRequest],
    scoped: list[str],
    pending: list[int],
    actor: str,
    now: dt.datetime,
    closed: Mapping[str, str],
) -> dict[int, BatchLine]:
    """The new lines, in a savepoint that is tried again when PostgreSQL breaks a deadlock (a
    batch's locks meeting a single call's, or keys claimed in another order) or the writer
    refuses; a batch still failing is a 409 that asks to send it again (nothing was held)."""
    for attempt in range(_ATTEMPTS):
        try:
            with session.begin_nested():
                return _allocate_and_hold(
                    session, channel, requests, scoped, pending, actor, now, closed
                )
        except OperationalError as error:
            if getattr(error.orig, "sqlstate", None) != _DEADLOCK:
                raise
            if attempt == _ATTEMPTS - 1:
                raise ReservationError(
                    "conflict", "the batch met concurrent holds on the same stock; send it again"
                ) from error
        except MovementRefused as refused:
            if attempt == _ATTEMPTS - 1:
                raise ReservationError(
                    "conflict", f"the batch could not be held, try again: {refused}"
                ) from refused
    raise AssertionError("unreachable")


def _allocate_and_hold(
    session: Session,
    channel: str,
    requests: Sequence[ReservationRequest],
    scoped: list[str],
    pending: list[int],
    actor: str,
    now: dt.datetime,
    closed: Mapping[str, str],
) -> dict[int, BatchLine]:
    answers: dict[int, BatchLine] = {}
    asked = {requests[i].location for i in pending if requests[i].location is not None}
    entitled = _entitled_among(session, channel, asked) if asked else set()
    lines: list[int] = []
    for index in pending:
        location = requests[index].location
        if location is not None and (why := closed.get(location)) is not None:
            answers[index] = BatchLine("refused", error=_closed_refusal(location, why))
        elif location is not None and location not in entitled:
            answers[index] = BatchLine(
                "refused",
                error=ReservationError(
                    "refused",
                    f"{location} may not sell on channel {channel!r} "
                    "(no channel_entitlement allows it)",
                    field="location",
                ),
            )
        else:
            lines.append(index)
    view = _entitled_view(session, channel, sorted({requests[i].sku for i in lines}), closed)
    picks, refusals = _allocate(requests, lines, view)
    if session.get_bind().dialect.name == "postgresql":
        picks, refusals = _lock_picks(session, requests, lines, view, picks, refusals)
    if refusals:
        known = _known_skus(session, {requests[i].sku for i in refusals})
        for index, error in refusals.items():
            if requests[index].sku not in known:
                error = ReservationError(
                    "not_found", f"unknown SKU {requests[index].sku!r}", field="sku"
                )
            answers[index] = BatchLine("refused", error=error)
    if not picks:
        return answers
    values = {
        index: {
            **_row_values(requests[index], scoped[index], _new_id(), actor, now),
            "location_code": picks[index],
        }
        for index in picks
    }
    claimed = _claim_rows(session, list(values.values()))
    holds = [
        movements.Hold(
            location=row["location_code"],  # type: ignore[arg-type]
            sku=row["sku_code"],  # type: ignore[arg-type]
            qty=row["qty"],  # type: ignore[arg-type]
            ref=row["id"],  # type: ignore[arg-type]
            idempotency_key=f"reservation:{row['id']}:reserve",
            reason=f"{channel} reservation",
        )
        for row in values.values()
        if row["idempotency_key"] in claimed
    ]
    movements.reserve_many(session, holds, actor=actor, at=now)
    raced = [index for index in picks if scoped[index] not in claimed]
    # A concurrent request (PostgreSQL) claimed these keys first: answer as their replays.
    won = _by_keys(session, [scoped[index] for index in raced]) if raced else {}
    for index in picks:
        if scoped[index] in claimed:
            answers[index] = BatchLine("reserved", detached_row(ChannelReservation, values[index]))
            continue
        try:
            answers[index] = BatchLine(
                "replayed", _same_request(won[scoped[index]], requests[index])
            )
        except ReservationError as conflict:
            answers[index] = BatchLine("refused", error=conflict)
    return answers


def _entitled_view(
    session: Session, channel: str, skus: list[str], closed: Mapping[str, str]
) -> dict[str, dict[str, int]]:
    """``entitled_atp`` as plain dicts (SKU → location → ATP > 0), filled straight from the
    rows: a batch of 500 SKUs reads some 20,000 of them. ``closed`` locations are skipped here,
    a dict look-up per row, so the statement stays the same for every list."""
    view: dict[str, dict[str, int]] = {}
    params = {"channel": channel, "skus": skus}
    for sku, location, atp in session.connection().execute(_entitled_statement(), params).all():
        if location not in closed:
            view.setdefault(sku, {})[location] = atp
    return view


_ENTITLED: list[sa.Select] = []


def _entitled_statement() -> sa.Select:
    if not _ENTITLED:
        atp = atp_expr()
        _ENTITLED.append(
            sa.select(POSITION.sku_code, POSITION.location_code, atp)
            .select_from(StockPosition.__table__)  # type: ignore[arg-type]
            .join(
                ChannelEntitlement.__table__,  # type: ignore[arg-type]
                sa.and_(
                    _ENTITLEMENT.location_code == POSITION.location_code,
                    _ENTITLEMENT.channel == sa.bindparam("channel"),
                    _ENTITLEMENT.allowed.is_(True),
                ),
            )
            .where(POSITION.sku_code.in_(sa.bindparam("skus", expanding=True)), atp > 0)
        )
    return _ENTITLED[0]


_CLAIM_ROWS_PG = sa.text(
    "INSERT INTO channel_reservation (id, channel, sku_code, qty, status, idempotency_key, "
    "requested_location, ttl_s, created_by, created_at, expires_at, updated_at, location_code) "
    "SELECT * FROM unnest(CAST(:id AS text[]), CAST(:channel AS text[]), "
    "CAST(:sku_code AS text[]), CAST(:qty AS integer[]), CAST(:status AS text[]), "
    "CAST(:idempotency_key AS text[]), CAST(:requested_location AS text[]), "
    "CAST(:ttl_s AS integer[]), CAST(:created_by AS text[]), "
    "CAST(:created_at AS timestamptz[]), CAST(:expires_at AS timestamptz[]), "
    "CAST(:updated_at AS timestamptz[]), CAST(:location_code AS text[])) "
    "ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key"
)


def _claim_rows(session: Session, rows: list[dict[str, object]]) -> set[str]:
    """Insert the batch's reservation rows, claiming their keys; returns the keys claimed (a
    key another request holds already is skipped). PostgreSQL: one statement over arrays (a
    500-row VALUES list costs the driver more to parse than the database to run)."""
    if session.get_bind().dialect.name == "postgresql":
        columns = {name: [row[name] for row in rows] for name in rows[0]}
        return set(session.connection().execute(_CLAIM_ROWS_PG, columns).scalars())
    return {key for (key,) in session.connection().execute(_claim_many(session), rows)}


def _new_id() -> str:
    return f"res-{uuid.uuid4().hex[:20]}"


def _entitled_among(session: Session, channel: str, locations: set[str]) -> set[str]:
    stmt = sa.select(_ENTITLEMENT.location_code).where(
        _ENTITLEMENT.channel == channel,
        _ENTITLEMENT.allowed.is_(True),
        _ENTITLEMENT.location_code.in_(sorted(locations)),
    )
    return set(session.connection().execute(stmt).scalars())


def _known_skus(session: Session, skus: set[str]) -> set[str]:
    stmt = sa.select(Sku.__table__.c.code).where(Sku.__table__.c.code.in_(sorted(skus)))  # type: ignore[attr-defined]
    return set(session.connection().execute(stmt).scalars())


def _allocate(
    requests: Sequence[ReservationRequest],
    lines: list[int],
    view: dict[str, dict[str, int]],
    keep: dict[int, str] | None = None,
) -> tuple[dict[int, str], dict[int, ReservationError]]:
    """Each line's location, in line order, from the ATP in ``view`` (left untouched): the one
    asked for, or the entitled location with the most ATP that covers the whole line. A line
    whose location in ``keep`` (an earlier round's, now locked) still covers it stays there,
    so a further round only moves the lines that lost their units."""
    left = {sku: dict(atp) for sku, atp in view.items()}
    picks: dict[int, str] = {}
    refusals: dict[int, ReservationError] = {}
    for index in lines:
        request = requests[index]
        atp = left.get(request.sku, {})
        kept = keep.get(index) if keep is not None else None
        if request.location is not None:
            have = atp.get(request.location, 0)
            if have < request.qty:
                refusals[index] = ReservationError(
                    "refused",
                    f"not enough stock: {request.location} / {request.sku} asked {request.qty}, "
                    f"ATP {have} on channel {request.channel!r}",
                    field="qty",
                )
                continue
            pick = request.location
        elif kept is not None and atp.get(kept, 0) >= request.qty:
            pick = kept
        else:
            able = [(-have, code) for code, have in atp.items() if have >= request.qty]
            if not able:
                refusals[index] = ReservationError(
                    "refused",
                    f"no location entitled to {request.channel!r} has {request.qty} × "
                    f"{request.sku} available (sellable {sum(atp.values())} in total, at most "
                    f"{max(atp.values(), default=0)} at one location)",
                    field="qty",
                )
                continue
            pick = min(able)[1]
        atp[pick] -= request.qty
        picks[index] = pick
    return picks, refusals


_LOCK_ROUNDS = 3
_LOCK_SQL = (
    "SELECT location_code, sku_code, on_hand - reserved - safety FROM stock_position "
    "WHERE (location_code, sku_code) IN (SELECT * FROM unnest(CAST(:locations AS text[]), "
    "CAST(:skus AS text[]))) ORDER BY location_code, sku_code FOR UPDATE"
)
#: The first round waits for each lock (taken in one fixed order, so batches queue instead of
#: deadlocking); later rounds take only what is free now (``SKIP LOCKED``), so a lock taken out
#: of that order never waits either, and a position busy this instant counts as empty.
_LOCK_WAIT = sa.text(_LOCK_SQL)
_LOCK_FREE = sa.text(_LOCK_SQL + " SKIP LOCKED")


def _lock_picks(
    session: Session,
    requests: Sequence[ReservationRequest],
    lines: list[int],
    view: dict[str, dict[str, int]],
    picks: dict[int, str],
    refusals: dict[int, ReservationError],
) -> tuple[dict[int, str], dict[int, ReservationError]]:
    """PostgreSQL: lock the chosen positions and allocate again from their ATP as it is under
    the lock; a line whose position lost units to a concurrent hold moves to the next best,
    locked in a further round. After the last round only locked positions are used, so the
    guarded UPDATE that follows cannot be refused."""
    locked: set[tuple[str, str]] = set()
    for round_ in range(_LOCK_ROUNDS):
        new = sorted({(pick, requests[index].sku) for index, pick in picks.items()} - locked)
        if not new:
            return picks, refusals
        found = {
            (location, sku): int(atp)
            for location, sku, atp in session.connection().execute(
                _LOCK_WAIT if round_ == 0 else _LOCK_FREE,
                {"locations": [loc for loc, _ in new], "skus": [sku for _, sku in new]},
            )
        }
        for location, sku in new:
            view.setdefault(sku, {})[location] = max(found.get((location, sku), 0), 0)
        locked.update(found)
        picks, refusals = _allocate(requests, lines, view, keep=picks)
    only_locked = {
        sku: {loc: atp for loc, atp in atps.items() if (loc, sku) in locked}
        for sku, atps in view.items()
    }
    return _allocate(requests, lines, only_locked, keep=picks)


_CLAIM_MANY: dict[str, sa.Insert] = {}


def _claim_many(session: Session) -> sa.Insert:
    """The batch's reservation rows, claiming their keys (``ON CONFLICT DO NOTHING``)."""
    dialect = session.get_bind().dialect.name
    if (cached := _CLAIM_MANY.get(dialect)) is None:
        cached = (
            dialect_insert(session, ChannelReservation.__table__)  # type: ignore[arg-type]
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(_RESERVATION.idempotency_key)
        )
        _CLAIM_MANY[dialect] = cached
    return cached


def _load(session: Session, reservation_id: str, channel: str | None) -> ChannelReservation:
    row = session.get(ChannelReservation, reservation_id, populate_existing=True)
    if row is None:
        raise ReservationError("not_found", f"no reservation with id {reservation_id!r}")
    if channel is not None and row.channel != channel:
        raise ReservationError(
            "forbidden",
            f"reservation {reservation_id} belongs to channel {row.channel!r}, not {channel!r}",
        )
    return row


def _transition(
    session: Session,
    row: ChannelReservation,
    to: ReservationStatus,
    *,
    actor: str,
    now: dt.datetime,
) -> bool:
    """Move an open reservation to ``to`` with its stock movement; False if it was not open.

    Both run in one savepoint: when the stock writer refuses (the position was changed behind
    the pool's back), the reservation stays open and the refusal is a 409, never half a change.
    """
    try:
        with session.begin_nested():
            claimed = session.execute(
                sa.update(ChannelReservation.__table__)  # type: ignore[arg-type]
                .where(_RESERVATION.id == row.id, _RESERVATION.status == ReservationStatus.OPEN)
                .values(status=to, updated_at=now)
            )
            if claimed.rowcount == 0:  # type: ignore[attr-defined]
                return False
            _move_stock(session, row, to, actor=actor, now=now)
    except MovementRefused as refused:
        raise ReservationError(
            "conflict", f"reservation {row.id} cannot be {to}: {refused}", field="status"
        ) from refused
    session.expire(row)
    return True


def _move_stock(
    session: Session,
    row: ChannelReservation,
    to: ReservationStatus,
    *,
    actor: str,
    now: dt.datetime,
) -> None:
    """The transition's movement. Its key (``reservation:<id>:<verb>``) is fresh: the guarded
    claim just took the reservation out of ``open`` under the row's lock, which happens once."""
    if to is ReservationStatus.CONFIRMED:
        movements.record_sale(
            session,
            row.location_code,
            row.sku_code,
            row.qty,
            from_reservation=True,
            ref=row.id,
            idempotency_key=f"reservation:{row.id}:confirm",
            actor=actor,
            reason=f"{row.channel} reservation confirmed",
            at=now,
            fresh_key=True,
        )
        return
    movements.release(
        session,
        row.location_code,
        row.sku_code,
        row.qty,
        ref=row.id,
        idempotency_key=f"reservation:{row.id}:release",
        actor=actor,
        reason=f"{row.channel} reservation {to}",
        at=now,
        fresh_key=True,
    )


def _is_due(row: ChannelReservation, now: dt.datetime) -> bool:
    return row.status == ReservationStatus.OPEN and as_utc(row.expires_at) <= as_utc(now)


def get(
    session: Session, reservation_id: str, *, channel: str | None, now: dt.datetime
) -> ChannelReservation:
    """Read one reservation; one past its TTL is expired first (the sweep may not have run)."""
    row = _load(session, reservation_id, channel)
    if _is_due(row, now):
        begin_write(session)
        _transition(session, row, ReservationStatus.EXPIRED, actor="ttl", now=as_utc(now))
        row = _load(session, reservation_id, channel)
    return row


def _finish(
    session: Session,
    reservation_id: str,
    to: ReservationStatus,
    *,
    channel: str | None,
    actor: str,
    now: dt.datetime,
) -> ChannelReservation:
    begin_write(session)
    now = as_utc(now)
    row = get(session, reservation_id, channel=channel, now=now)
    if row.status == to:
        return row  # a retry: the first call already did it
    if row.status != ReservationStatus.OPEN or not _transition(
        session, row, to, actor=actor, now=now
    ):
        row = _load(session, reservation_id, channel)
        if row.status == to:
            return row
        raise ReservationError(
            "conflict",
            f"reservation {reservation_id} is {row.status}; it can no longer be {to}",
            field="status",
        )
    return _load(session, reservation_id, channel)


def confirm(
    session: Session, reservation_id: str, *, channel: str | None, actor: str, now: dt.datetime
) -> ChannelReservation:
    """The order is taken: the units leave on-hand once, however often confirm is retried."""
    return _finish(
        session, reservation_id, ReservationStatus.CONFIRMED, channel=channel, actor=actor, now=now
    )


def release(
    session: Session, reservation_id: str, *, channel: str | None, actor: str, now: dt.datetime
) -> ChannelReservation:
    """Give the units back to the pool (ATP rises again); a retry changes nothing."""
    return _finish(
        session, reservation_id, ReservationStatus.RELEASED, channel=channel, actor=actor, now=now
    )


def sweep_expired(
    session: Session,
    *,
    now: dt.datetime,
    skus: Sequence[str] | None = None,
    limit: int = 500,
    probe: bool = True,
) -> int:
    """Expire open reservations past their TTL (all, or only for ``skus``); returns how many.

    The worker calls it every pass; availability calls it for the SKUs it is asked about, so a
    lapsed hold never hides stock even when the worker is behind (or absent: ``--no-worker``).

    Set-based, however many holds lapsed: one guarded UPDATE takes them out of ``open``
    (``_claim_lapsed``) and the stock writer gives their units back in one more
    (``movements.release_many``), with the same movement row per hold as a single expiry (key
    ``reservation:<id>:release``, actor ``ttl``). On PostgreSQL a hold a concurrent confirm,
    release or sweep has locked is skipped, not waited for; the guard (``status = 'open'``)
    lets each hold lapse once. ``probe=False``: the caller already knows a hold lapsed (the
    availability statement said so), so the probe is not asked again.
    """
    now = as_utc(now)
    if skus is not None and probe and not _any_due(session, now):
        return 0  # the common case, answered by one probe of ix_channel_reservation_due
    begin_write(session)
    lapsed: list[sa.Row] = []
    try:
        with session.begin_nested():
            lapsed = _claim_lapsed(session, now, skus, limit)
            movements.release_many(
                session,
                [
                    movements.Hold(
                        location=row.location_code,
                        sku=row.sku_code,
                        qty=row.qty,
                        ref=row.id,
                        idempotency_key=f"reservation:{row.id}:release",
                        reason=f"{row.channel} reservation {ReservationStatus.EXPIRED}",
                    )
                    for row in lapsed
                ],
                actor="ttl",
                at=now,
            )
    except MovementRefused:
        # A position changed behind the pool's back refuses its whole group: expire the holds
        # one by one instead, so one broken hold does not keep the others from lapsing.
        return _expire_one_by_one(session, [row.id for row in lapsed], now)
    for row in lapsed:
        if (
            loaded := session.identity_map.get(identity_key(ChannelReservation, (row.id,)))
        ) is not None:
            session.expire(loaded)
    return len(lapsed)


def available_json(
    session: Session, channel: str, skus: Sequence[str], closed: Sequence[str], *, now: dt.datetime
) -> list[str]:
    """``/v1/availability``'s items, after lapsed holds on ``skus`` gave their units back (even
    when the worker is behind): the availability statement itself says whether any hold lapsed
    (``availability_json(due_at=now)``), so the common case costs no probe of its own; only
    then are they swept (committed, so their units are back for everyone) and the answer read
    again."""
    answer = availability_json(session, channel, skus, closed, due_at=now)
    if answer.holds_due and sweep_expired(session, now=now, skus=skus, probe=False):
        session.commit()
        answer = availability_json(session, channel, skus, closed)
    return answer.items


def _claim_lapsed(
    session: Session, now: dt.datetime, skus: Sequence[str] | None, limit: int
) -> list[sa.Row]:
    """Take up to ``limit`` lapsed holds out of ``open`` in one statement; returns them.

    On PostgreSQL the holds are picked ``FOR UPDATE SKIP LOCKED``: one that a concurrent
    transaction is confirming, releasing or expiring is left to it, and a sweep never queues
    behind another; the outer ``status = 'open'`` guard is re-checked under the row lock.
    """
    due = (
        sa.select(_RESERVATION.id)
        .where(
            _RESERVATION.status == ReservationStatus.OPEN.value,
            _RESERVATION.expires_at <= now,
        )
        .order_by(_RESERVATION.expires_at, _RESERVATION.id)
        .limit(limit)
    )
    if skus is not None:
        due = due.where(_RESERVATION.sku_code.in_(list(skus)))
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    claim = (
        sa.update(ChannelReservation.__table__)  # type: ignore[arg-type]
        .where(
            _RESERVATION.id.in_(due.scalar_subquery()),
            _RESERVATION.status == ReservationStatus.OPEN.value,
        )
        .values(status=ReservationStatus.EXPIRED.value, updated_at=now)
        .returning(
            _RESERVATION.id,
            _RESERVATION.channel,
            _RESERVATION.location_code,
            _RESERVATION.sku_code,
            _RESERVATION.qty,
        )
    )
    return list(session.connection().execute(claim))


def _expire_one_by_one(session: Session, reservation_ids: list[str], now: dt.datetime) -> int:
    """The slow path of ``sweep_expired``: each hold with its own transition; one the stock
    writer refuses stays open and visible (logged), the others lapse."""
    expired = 0
    for reservation_id in reservation_ids:
        row = session.get(ChannelReservation, reservation_id, populate_existing=True)
        if row is None:
            continue
        try:
            expired += _transition(session, row, ReservationStatus.EXPIRED, actor="ttl", now=now)
        except ReservationError:
            log.exception("could not expire reservation %s", reservation_id)
    return expired


_ANY_DUE = (
    sa.select(_RESERVATION.id)
    .where(
        _RESERVATION.status == ReservationStatus.OPEN.value,
        _RESERVATION.expires_at <= sa.bindparam("now", type_=_RESERVATION.expires_at.type),
    )
    .limit(1)
)


def _any_due(session: Session, now: dt.datetime) -> bool:
    """Whether any open hold at all is past its TTL: a batch's 500 SKUs are only looked up
    (a 500-value IN list, dearer to build than to run) when one is."""
    return session.connection().execute(_ANY_DUE, {"now": now}).first() is not None


def query_for(
    *, channel: str | None, status: ReservationStatus | None, sku: str | None
) -> SelectOfScalar[ChannelReservation]:
    """Reservations newest first, narrowed to one channel's (``channel``) and the filters."""
    stmt = select(ChannelReservation).order_by(
        ChannelReservation.created_at.desc(),  # type: ignore[attr-defined]
        ChannelReservation.id,
    )
    if channel is not None:
        stmt = stmt.where(ChannelReservation.channel == channel)
    if status is not None:
        stmt = stmt.where(ChannelReservation.status == status)
    if sku is not None:
        stmt = stmt.where(ChannelReservation.sku_code == sku)
    return stmt
