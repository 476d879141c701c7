"""How a movement is applied: guarded UPDATEs, the movement rows, idempotency, locking.

Private to ``inventory.movements`` (the public API, which says what each movement may do); this
module holds the mechanics they share, so the rules stay readable on their own.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import NoReturn

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, select

from inventory.db import begin_write
from inventory.models import Location, MovementKind, Sku, StockMovement, StockPosition
from inventory.rows import detached_row
from inventory.upsert import dialect_insert

POSITION = StockPosition.__table__.c  # type: ignore[attr-defined]
MOVEMENT_TABLE: sa.Table = StockMovement.__table__  # type: ignore[attr-defined]
MOVEMENT = MOVEMENT_TABLE.c


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


#: The movement's quantity inside a guard (``atp_expr() >= QTY``), bound when the statement runs.
#: Guards are written against it, never against a literal, so each kind of movement has one
#: statement shape that is built once and reused (building one costs more than running it).
QTY = sa.bindparam("qty", type_=sa.Integer)


@dataclass(frozen=True)
class Leg:
    """One position's change inside a movement: column deltas and the guard they must satisfy.

    ``guard`` is a module-level expression over ``POSITION`` and ``QTY`` (it keys the statement
    cache, so it must not be built per call).
    """

    location: str
    deltas: Mapping[str, int]
    guard: sa.ColumnElement[bool] | None = None
    refusal: str = ""
    create_if_missing: bool = False
    extra_values: Mapping[str, object] = field(default_factory=dict)


def lock_positions(session: Session, positions: Iterable[tuple[str, str]]) -> None:
    """Take the row locks of every (location, SKU) a transaction will change, in one fixed
    (location, SKU) order, before it changes them one by one.

    Two transactions that each move several positions (an order's reservation, a dispatch)
    then always queue on the first shared position instead of each holding one the other needs
    (a PostgreSQL deadlock). SQLite needs nothing: its writer lock serialises whole
    transactions. Positions that do not exist yet are created later without a conflict.
    """
    pairs = sorted(set(positions))
    if not pairs or session.get_bind().dialect.name != "postgresql":
        return
    session.execute(
        sa.select(POSITION.id)
        .where(sa.tuple_(POSITION.location_code, POSITION.sku_code).in_(pairs))
        .order_by(POSITION.location_code, POSITION.sku_code)
        .with_for_update()
    ).all()


def as_utc(at: dt.datetime | None) -> dt.datetime:
    """Timestamps are stored timezone-aware; a naive one (the world clock) is read as UTC."""
    if at is None:
        return dt.datetime.now(dt.UTC)
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


def atp_expr() -> sa.ColumnElement[int]:
    return POSITION.on_hand - POSITION.reserved - POSITION.safety


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


@dataclass(frozen=True)
class _After:
    position_id: int
    on_hand: int
    reserved: int


#: Statements by shape (dialect, kind of statement, columns changed, guard): see ``QTY``.
_STATEMENTS: dict[tuple[object, ...], tuple[sa.Executable, sa.ColumnElement[bool] | None]] = {}
_MAX_STATEMENTS = 256  # a guard built per call would otherwise grow the cache without end


def _shape(leg: Leg, *kind: object) -> tuple[object, ...]:
    return (*kind, tuple(leg.deltas), tuple(leg.extra_values), id(leg.guard))


def _cached(key: tuple[object, ...], leg: Leg, build: Callable[[], sa.Executable]) -> sa.Executable:
    if (found := _STATEMENTS.get(key)) is not None:
        return found[0]
    statement = build()
    if len(_STATEMENTS) < _MAX_STATEMENTS:
        _STATEMENTS[key] = (statement, leg.guard)  # the guard is kept so its id stays its own
    return statement


def _leg_params(leg: Leg, sku: str, qty: int) -> dict[str, object]:
    params: dict[str, object] = {"location": leg.location, "sku": sku, "qty": qty}
    params.update({f"delta_{name}": delta for name, delta in leg.deltas.items()})
    params.update({f"set_{name}": value for name, value in leg.extra_values.items()})
    return params


def _build_leg_update(leg: Leg) -> sa.Update:
    values: dict[str, object] = {
        name: POSITION[name] + sa.bindparam(f"delta_{name}", type_=sa.Integer)
        for name in leg.deltas
    }
    values.update(
        {name: sa.bindparam(f"set_{name}", type_=POSITION[name].type) for name in leg.extra_values}
    )
    values["version"] = POSITION.version + 1
    stmt = (
        sa.update(StockPosition.__table__)  # type: ignore[attr-defined]
        .where(
            POSITION.location_code == sa.bindparam("location", type_=POSITION.location_code.type),
            POSITION.sku_code == sa.bindparam("sku", type_=POSITION.sku_code.type),
        )
        .values(values)
        .returning(POSITION.id, POSITION.on_hand, POSITION.reserved)
    )
    if leg.guard is not None:
        stmt = stmt.where(leg.guard)
    return stmt


def _leg_update(session: Session, leg: Leg) -> sa.Update:
    """The leg's guarded ``UPDATE ... RETURNING id, on_hand, reserved`` (no row: refused);
    its values come from ``_leg_params``."""
    key = _shape(leg, session.get_bind().dialect.name, "update")
    return _cached(key, leg, lambda: _build_leg_update(leg))  # type: ignore[return-value]


def _apply_leg(session: Session, leg: Leg, sku: str, qty: int) -> _After:
    """Run one guarded UPDATE; return the levels after it, or raise MovementRefused.

    A leg that may create its position tries the UPDATE first: positions usually exist, and
    the existence checks are only paid for the first movement of a new one.
    """
    stmt = _leg_update(session, leg)
    params = _leg_params(leg, sku, qty)
    row = session.execute(stmt, params).first()
    position = None if row is not None else _position(session, leg.location, sku)
    if row is None and position is None and leg.create_if_missing:
        _require_known(session, leg.location, sku, qty)
        _insert_missing_position(session, leg.location, sku)
        row = session.execute(stmt, params).first()
        position = None if row is not None else _position(session, leg.location, sku)
    if row is not None:
        return _After(int(row.id), int(row.on_hand), int(row.reserved))
    _refuse(session, leg, sku, qty, position)


def _refuse(
    session: Session, leg: Leg, sku: str, qty: int, position: StockPosition | None
) -> NoReturn:
    """Raise the leg's refusal, naming the levels that made its guard fail."""
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


#: What a movement row records besides the levels after it (``move_one`` binds them typed).
_RECORDED = (
    "location_code",
    "sku_code",
    "kind",
    "qty",
    "reason",
    "ref",
    "idempotency_key",
    "actor",
    "created_at",
)


_INSERT_MOVEMENT = sa.insert(StockMovement.__table__).returning(  # type: ignore[arg-type]
    StockMovement.__table__.c.id  # type: ignore[attr-defined]
)


def _build_moved(leg: Leg) -> sa.Insert:
    """``WITH moved AS (<guarded UPDATE>) INSERT INTO stock_movement SELECT ... FROM moved``."""
    moved = _build_leg_update(leg).cte("moved")
    recorded = [sa.bindparam(f"record_{name}", type_=MOVEMENT[name].type) for name in _RECORDED]
    return (
        sa.insert(MOVEMENT_TABLE)
        .from_select(
            [*_RECORDED, "on_hand_after", "reserved_after"],
            sa.select(*recorded, moved.c.on_hand, moved.c.reserved),
        )
        .returning(
            MOVEMENT.id,
            MOVEMENT.on_hand_after,
            MOVEMENT.reserved_after,
            sa.select(moved.c.id).scalar_subquery(),
        )
    )


def _move_one(
    session: Session, leg: Leg, sku: str, qty: int, record: dict[str, object]
) -> StockMovement:
    """One position whose refusal writes nothing: the guarded UPDATE and the movement row in
    Core statements, without a savepoint or a unit-of-work flush.

    On PostgreSQL both are one statement (``WITH moved AS (UPDATE ... RETURNING) INSERT ...
    SELECT ... FROM moved``): no row moved, no row recorded, and the levels after the change
    come from the same row lock. SQLite cannot put an UPDATE in a CTE, so it runs the two
    statements (in-process, and already serialised by ``BEGIN IMMEDIATE``).
    """
    connection = session.connection()
    params = _leg_params(leg, sku, qty)
    if connection.dialect.name == "postgresql":
        statement = _cached(_shape(leg, "postgresql", "move_one"), leg, lambda: _build_moved(leg))
        params.update({f"record_{name}": record[name] for name in _RECORDED})
        found = connection.execute(statement, params).first()
        if found is None:
            _refuse(session, leg, sku, qty, _position(session, leg.location, sku))
        movement_id, on_hand, reserved, position_id = found
    else:
        levels = connection.execute(_leg_update(session, leg), params).first()
        if levels is None:
            _refuse(session, leg, sku, qty, _position(session, leg.location, sku))
        position_id, on_hand, reserved = levels
        movement_id = connection.execute(
            _INSERT_MOVEMENT, {**record, "on_hand_after": on_hand, "reserved_after": reserved}
        ).scalar_one()
    _expire_positions(session, [int(position_id)])
    return detached_row(
        StockMovement,
        {**record, "id": movement_id, "on_hand_after": on_hand, "reserved_after": reserved},
    )


#: The statements as the driver's SQL text: SQLAlchemy's compiled-statement cache asks for a
#: value of the claim's ``IS true`` literal once the INSERT sits in a CTE, so the text is
#: compiled once here and run with ``exec_driver_sql`` (every value is cast in the text).
_AFTER_CLAIM: dict[tuple[int, int], str] = {}


def reserve_after_claim(
    session: Session,
    claim: sa.Insert,
    params: Mapping[str, object],
    *,
    guard: sa.ColumnElement[bool],
    qty: int,
    record: Mapping[str, object],
) -> tuple[str | None, StockMovement | None]:
    """PostgreSQL: a caller's claiming INSERT and a reserve leg at the location it claimed, as
    one statement: ``WITH claimed AS (<claim> RETURNING location_code), moved AS (<guarded
    UPDATE> at that location RETURNING levels), recorded AS (<movement row> FROM moved)``.

    ``claim`` inserts at most one row and returns its ``location_code``; its parameters
    (``params``) must include ``sku_code`` and ``qty``, which the leg reuses. Returns the
    claimed location (None: nothing claimed, nothing moved) and the movement (None: claimed,
    but the guard refused; the caller deletes its claim). The UPDATE is the reserve leg's own:
    ``reserved += qty`` under ``guard``, re-checked under the row lock.
    """
    key = (id(claim), id(guard))
    statement = _AFTER_CLAIM.get(key)
    if statement is None:
        claimed = claim.cte("claimed")
        moved = (
            sa.update(StockPosition.__table__)  # type: ignore[arg-type]
            .where(
                POSITION.location_code == sa.select(claimed.c.location_code).scalar_subquery(),
                POSITION.sku_code == sa.bindparam("sku_code", type_=POSITION.sku_code.type),
                guard,
            )
            .values(
                reserved=POSITION.reserved + QTY,
                version=POSITION.version + sa.literal_column("1", sa.Integer),
            )
            .returning(POSITION.id, POSITION.location_code, POSITION.on_hand, POSITION.reserved)
            .cte("moved")
        )
        recorded_names = [name for name in _RECORDED if name != "location_code"]
        recorded = (
            sa.insert(MOVEMENT_TABLE)
            .from_select(
                [*recorded_names, "location_code", "on_hand_after", "reserved_after"],
                sa.select(
                    *[
                        sa.bindparam(f"record_{name}", type_=MOVEMENT[name].type)
                        for name in recorded_names
                    ],
                    moved.c.location_code,
                    moved.c.on_hand,
                    moved.c.reserved,
                ),
            )
            .returning(MOVEMENT.id, MOVEMENT.on_hand_after, MOVEMENT.reserved_after)
            .cte("recorded")
        )
        select = sa.select(
            claimed.c.location_code,
            recorded.c.id,
            recorded.c.on_hand_after,
            recorded.c.reserved_after,
            sa.select(moved.c.id).scalar_subquery(),
        ).select_from(claimed.outerjoin(recorded, sa.true()))
        connection = session.connection()
        statement = str(select.compile(dialect=connection.dialect))
        _AFTER_CLAIM[key] = statement
    values = {**params, "qty": qty}
    values.update({f"record_{name}": record[name] for name in _RECORDED if name != "location_code"})
    found = session.connection().exec_driver_sql(statement, values).first()
    if found is None:
        return None, None
    location, movement_id, on_hand, reserved, position_id = found
    if movement_id is None:
        return location, None
    _expire_positions(session, [int(position_id)])
    movement = detached_row(
        StockMovement,
        {
            **record,
            "location_code": location,
            "id": movement_id,
            "on_hand_after": on_hand,
            "reserved_after": reserved,
        },
    )
    return location, movement


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


def move(
    session: Session,
    *,
    kind: MovementKind,
    sku: str,
    qty: int,
    legs: list[Leg],
    ref: str | None,
    idempotency_key: str | None,
    actor: str,
    reason: str,
    at: dt.datetime | None,
    counterpart_suffix: str = "",
    fresh_key: bool = False,
) -> StockMovement:
    """Apply ``legs`` atomically and write one movement row per leg; return the first leg's row.

    ``fresh_key``: the caller minted ``idempotency_key`` in this very transaction (a new
    reservation's id), so no earlier movement can hold it and the look-up is skipped.
    """
    primary = legs[0].location
    begin_write(session)
    if (
        idempotency_key is not None
        and not fresh_key
        and (first := _existing(session, idempotency_key))
    ):
        return _check_same_request(first, kind, primary, sku, qty)
    created_at = as_utc(at)
    if len(legs) == 1 and not legs[0].create_if_missing and (idempotency_key is None or fresh_key):
        # The hot path (a channel's hold): one guarded UPDATE that wrote nothing when it refused,
        # and a row no concurrent caller can collide with, so no savepoint is needed to undo.
        record: dict[str, object] = {
            "location_code": primary,
            "sku_code": sku,
            "kind": str(kind),
            "qty": qty,
            "reason": reason,
            "ref": ref,
            "idempotency_key": idempotency_key,
            "actor": actor,
            "created_at": created_at,
        }
        return _move_one(session, legs[0], sku, qty, record)
    try:
        with session.begin_nested():
            after: dict[str, _After] = {}
            # Lock rows in a fixed order (location code) so two-leg movements cannot deadlock.
            for leg in sorted(legs, key=lambda item: item.location):
                after[leg.location] = _apply_leg(session, leg, sku, qty)
            rows = [
                StockMovement(
                    location_code=leg.location,
                    sku_code=sku,
                    kind=kind,
                    qty=qty,
                    on_hand_after=after[leg.location].on_hand,
                    reserved_after=after[leg.location].reserved,
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
    _expire_positions(session, [levels.position_id for levels in after.values()])
    return rows[0]


def _expire_positions(session: Session, position_ids: list[int]) -> None:
    """Positions loaded earlier in this session are stale after a Core UPDATE; reload on access."""
    for position_id in position_ids:
        loaded = session.identity_map.get(identity_key(StockPosition, (position_id,)))
        if loaded is not None:
            session.expire(loaded)


@dataclass(frozen=True)
class Hold:
    """One reservation's hold inside a batch (``reserve_many``): its own movement row and key."""

    location: str
    sku: str
    qty: int
    ref: str | None
    idempotency_key: str
    reason: str = ""


#: PostgreSQL: every group of a batch in one guarded UPDATE (the arrays carry the groups).
_RESERVE_GROUPS_PG = sa.text(
    "UPDATE stock_position AS p SET reserved = p.reserved + g.qty, version = p.version + 1 "
    "FROM unnest(CAST(:locations AS text[]), CAST(:skus AS text[]), CAST(:qtys AS integer[])) "
    "AS g(location_code, sku_code, qty) "
    "WHERE p.location_code = g.location_code AND p.sku_code = g.sku_code "
    "AND p.on_hand - p.reserved - p.safety >= g.qty "
    "RETURNING p.location_code, p.sku_code, p.on_hand, p.reserved, p.id"
)

#: SQLite: the same statement, the groups as one JSON parameter (the writer lock is held).
_RESERVE_GROUPS_SQLITE = sa.text(
    "UPDATE stock_position SET reserved = reserved + g.qty, version = version + 1 "
    "FROM (SELECT json_extract(value, '$[0]') AS location_code, "
    "json_extract(value, '$[1]') AS sku_code, json_extract(value, '$[2]') AS qty "
    "FROM json_each(:groups)) AS g "
    "WHERE stock_position.location_code = g.location_code "
    "AND stock_position.sku_code = g.sku_code "
    "AND stock_position.on_hand - stock_position.reserved - stock_position.safety >= g.qty "
    "RETURNING stock_position.location_code, stock_position.sku_code, "
    "stock_position.on_hand, stock_position.reserved, stock_position.id"
)

#: PostgreSQL: give back every group's holds in one guarded UPDATE. Its callers (the TTL sweep)
#: have not locked the positions first, as a batch of holds has (``_lock_picks``), so the rows
#: are locked here in the pool's one order (location, SKU): two sweeps, or a sweep and a batch,
#: queue instead of deadlocking.
_RELEASE_GROUPS_PG = sa.text(
    "WITH g AS MATERIALIZED (SELECT * FROM unnest(CAST(:locations AS text[]), "
    "CAST(:skus AS text[]), CAST(:qtys AS integer[])) AS g(location_code, sku_code, qty)), "
    "locked AS MATERIALIZED (SELECT p.id FROM stock_position AS p JOIN g "
    "ON p.location_code = g.location_code AND p.sku_code = g.sku_code "
    "ORDER BY p.location_code, p.sku_code FOR UPDATE OF p) "
    "UPDATE stock_position AS p SET reserved = p.reserved - g.qty, version = p.version + 1 "
    "FROM g WHERE p.id IN (SELECT id FROM locked) "
    "AND p.location_code = g.location_code AND p.sku_code = g.sku_code "
    "AND p.reserved >= g.qty "
    "RETURNING p.location_code, p.sku_code, p.on_hand, p.reserved, p.id"
)

_RELEASE_GROUPS_SQLITE = sa.text(
    "UPDATE stock_position SET reserved = reserved - g.qty, version = version + 1 "
    "FROM (SELECT json_extract(value, '$[0]') AS location_code, "
    "json_extract(value, '$[1]') AS sku_code, json_extract(value, '$[2]') AS qty "
    "FROM json_each(:groups)) AS g "
    "WHERE stock_position.location_code = g.location_code "
    "AND stock_position.sku_code = g.sku_code "
    "AND stock_position.reserved >= g.qty "
    "RETURNING stock_position.location_code, stock_position.sku_code, "
    "stock_position.on_hand, stock_position.reserved, stock_position.id"
)


@dataclass(frozen=True)
class _GroupMove:
    """How a set of holds moves ``reserved``: the statements, the sign, the refusal."""

    postgresql: sa.TextClause
    sqlite: sa.TextClause
    sign: int
    refusal: str
    level: Callable[[StockPosition], int]


_RESERVE_GROUPS = _GroupMove(
    _RESERVE_GROUPS_PG,
    _RESERVE_GROUPS_SQLITE,
    1,
    "reservation exceeds ATP",
    lambda position: position.atp,
)
_RELEASE_GROUPS = _GroupMove(
    _RELEASE_GROUPS_PG,
    _RELEASE_GROUPS_SQLITE,
    -1,
    "release exceeds reserved",
    lambda position: position.reserved,
)


def reserve_many(
    session: Session, holds: list[Hold], *, kind: str, actor: str, created_at: dt.datetime
) -> int:
    """Hold every one of ``holds`` or refuse: one guarded UPDATE for all (location, SKU)
    groups, each group's total checked against ATP in the same statement (the row lock on
    PostgreSQL, the writer lock on SQLite), then one movement row per hold (its own fresh key).

    When a group's guard fails, ``MovementRefused`` names it; the groups that did move are in
    the caller's transaction, so the caller runs this inside a savepoint (the batch does).
    """
    return _move_groups(session, holds, _RESERVE_GROUPS, kind=kind, actor=actor, at=created_at)


def release_many(
    session: Session, holds: list[Hold], *, kind: str, actor: str, created_at: dt.datetime
) -> int:
    """Give back every one of ``holds`` or refuse, as ``reserve_many`` holds them: one guarded
    UPDATE (``reserved ≥ the group's total``) and one movement row per hold."""
    return _move_groups(session, holds, _RELEASE_GROUPS, kind=kind, actor=actor, at=created_at)


def _move_groups(
    session: Session,
    holds: list[Hold],
    how: _GroupMove,
    *,
    kind: str,
    actor: str,
    at: dt.datetime,
) -> int:
    begin_write(session)
    groups: dict[tuple[str, str], int] = {}
    for hold in holds:
        groups[(hold.location, hold.sku)] = groups.get((hold.location, hold.sku), 0) + hold.qty
    pairs = sorted(groups)
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        params: dict[str, object] = {
            "locations": [location for location, _ in pairs],
            "skus": [sku for _, sku in pairs],
            "qtys": [groups[pair] for pair in pairs],
        }
        updated = connection.execute(how.postgresql, params)
    else:
        groups_json = json.dumps([[loc, sku, groups[(loc, sku)]] for loc, sku in pairs])
        updated = connection.execute(how.sqlite, {"groups": groups_json})
    after: dict[tuple[str, str], tuple[int, int]] = {}
    position_ids: list[int] = []
    for location, sku, on_hand, reserved, position_id in updated:
        after[(location, sku)] = (int(on_hand), int(reserved))
        position_ids.append(int(position_id))
    if missing := [pair for pair in pairs if pair not in after]:
        location, sku = missing[0]
        position = _position(session, location, sku)
        level = how.level(position) if position is not None else "0 (no stock position)"
        raise MovementRefused(
            f"{how.refusal}: {location} / {sku} asked {groups[missing[0]]} in this batch, "
            f"{'ATP' if how.sign > 0 else 'reserved'} {level}",
            location=location,
            sku=sku,
            qty=groups[missing[0]],
            available=how.level(position) if position is not None else 0,
        )
    # Each hold's levels after it, as if the group's holds had been applied one by one.
    reserved_so_far = {pair: after[pair][1] - how.sign * groups[pair] for pair in pairs}
    records: list[dict[str, object]] = []
    for hold in holds:
        pair = (hold.location, hold.sku)
        reserved_so_far[pair] += how.sign * hold.qty
        records.append(
            {
                "location_code": hold.location,
                "sku_code": hold.sku,
                "kind": kind,
                "qty": hold.qty,
                "reason": hold.reason,
                "ref": hold.ref,
                "idempotency_key": hold.idempotency_key,
                "actor": actor,
                "created_at": at,
                "on_hand_after": after[pair][0],
                "reserved_after": reserved_so_far[pair],
            }
        )
    connection.execute(sa.insert(MOVEMENT_TABLE), records)
    _expire_positions(session, position_ids)
    return len(records)
