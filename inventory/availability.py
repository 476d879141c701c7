"""What a channel may sell: ATP after entitlements, per SKU and entitled location.

ATP is the pool's one definition (``inventory.movement_core.atp_expr``: on-hand less reserved,
which holds every open reservation, less safety), floored at zero. A location's stock counts
for a channel only where a ``channel_entitlement`` row allows it (outlet stock never online):
a location without a row for the channel does not sell on it, so a new channel sells nothing
until the pool says where it may.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from inventory.models import (
    ChannelEntitlement,
    ChannelReservation,
    ReservationStatus,
    Sku,
    StockPosition,
)
from inventory.movement_core import POSITION, atp_expr

_ENTITLEMENT = ChannelEntitlement.__table__.c  # type: ignore[attr-defined]
_SKU = Sku.__table__.c  # type: ignore[attr-defined]


class LocationAtp(NamedTuple):
    """A tuple, not a dataclass: a batch of 500 SKUs builds tens of thousands of them."""

    location: str
    atp: int


@dataclass(frozen=True)
class SkuAvailability:
    sku: str
    known: bool
    locations: tuple[LocationAtp, ...]  # most ATP first; only entitled locations with ATP > 0

    @property
    def sellable(self) -> int:
        return sum(item.atp for item in self.locations)


def entitled_atp(
    session: Session, channel: str, skus: Sequence[str], closed: Sequence[str] = ()
) -> dict[str, list[LocationAtp]]:
    """ATP > 0 of every entitled location for each of ``skus``, most ATP first; ``closed``
    locations (stores that can ship nothing more today) are left out."""
    atp = atp_expr()
    stmt = (
        sa.select(POSITION.sku_code, POSITION.location_code, atp.label("atp"))
        .select_from(StockPosition.__table__)  # type: ignore[arg-type]
        .join(
            ChannelEntitlement.__table__,  # type: ignore[arg-type]
            sa.and_(
                _ENTITLEMENT.location_code == POSITION.location_code,
                _ENTITLEMENT.channel == channel,
                _ENTITLEMENT.allowed.is_(True),
            ),
        )
        .where(POSITION.sku_code.in_(list(skus)), atp > 0)
        .where(POSITION.location_code.not_in(list(closed)))
        .order_by(POSITION.sku_code, atp.desc(), POSITION.location_code)
    )
    found: dict[str, list[LocationAtp]] = {}
    # One fetch of plain tuples: per-row result objects were most of a batch's cost.
    for sku, location, atp in session.execute(stmt).tuples().all():
        found.setdefault(sku, []).append(LocationAtp(location, atp))
    return found


def availability(
    session: Session, channel: str, skus: Sequence[str], closed: Sequence[str] = ()
) -> list[SkuAvailability]:
    """Sellable quantity of each of ``skus`` on ``channel``, in the order asked, once each
    (``closed``: locations left out, see ``entitled_atp``)."""
    unique = list(dict.fromkeys(skus))
    found = entitled_atp(session, channel, unique, closed)
    # A SKU with sellable stock is known; only the others need the catalogue (one query fewer
    # on the hot path, where most SKUs asked about are on sale).
    unseen = [sku for sku in unique if sku not in found]
    known = set(found)
    if unseen:
        known |= set(session.execute(sa.select(_SKU.code).where(_SKU.code.in_(unseen))).scalars())
    return [SkuAvailability(sku, sku in known, tuple(found.get(sku, ()))) for sku in unique]


def is_entitled(session: Session, channel: str, location: str) -> bool:
    stmt = sa.select(_ENTITLEMENT.allowed).where(
        _ENTITLEMENT.location_code == location, _ENTITLEMENT.channel == channel
    )
    return bool(session.execute(stmt).scalar())


def not_closed(location: sa.ColumnElement[str], dialect: str) -> sa.ColumnElement[bool]:
    """``location`` is not among the ``:closed`` parameter (``closed_parameter``): one array
    (PostgreSQL) or JSON (SQLite) value, so a cached statement serves any list, empty too (an
    expanding IN would be a new statement for every length)."""
    closed = sa.bindparam("closed")
    if dialect == "postgresql":
        return sa.not_(location == sa.any_(sa.cast(closed, postgresql.ARRAY(sa.Text))))
    listed = sa.func.json_each(closed).table_valued("value")
    return location.not_in(sa.select(listed.c.value))


def closed_parameter(dialect: str, closed: Iterable[str]) -> object:
    """The value of ``:closed`` for ``not_closed`` and ``_answer_sql``."""
    return list(closed) if dialect == "postgresql" else json.dumps(list(closed))


def _answer_sql(dialect: str) -> sa.TextClause:
    """One statement for a whole batch, one JSON object per SKU asked, in the order asked.

    The database aggregates each SKU's entitled locations (most ATP first) into JSON, so a
    batch of 500 SKUs (about 20,000 locations) becomes 500 strings instead of 20,000 rows for
    Python to build objects from and serialise again. The SKUs go in as one array parameter.
    ``sellable`` and ``locations`` mean exactly what ``availability`` returns.
    """
    position = StockPosition.__table__.name  # type: ignore[attr-defined]
    entitlement = ChannelEntitlement.__table__.name  # type: ignore[attr-defined]
    atp = str(atp_expr().compile(dialect=_DIALECTS[dialect]))
    entitled = (
        f"FROM {position} JOIN {entitlement} ON {entitlement}.location_code = "
        f"{position}.location_code AND {entitlement}.channel = :channel AND {entitlement}.allowed "
        f"WHERE {position}.sku_code = asked.value AND {atp} > 0"
    )
    if dialect == "postgresql":
        entitled += f" AND NOT ({position}.location_code = ANY(CAST(:closed AS text[])))"
    else:
        entitled += f" AND {position}.location_code NOT IN (SELECT value FROM json_each(:closed))"
    known = "EXISTS (SELECT 1 FROM sku WHERE sku.code = asked.value)"
    reservation = ChannelReservation.__table__.name  # type: ignore[attr-defined]
    # Uncorrelated: both databases evaluate it once per statement, not once per SKU.
    holds_due = (
        f"EXISTS (SELECT 1 FROM {reservation} WHERE {reservation}.status = "
        f"'{ReservationStatus.OPEN.value}' AND {reservation}.expires_at <= :due_at)"
    )
    due_at = sa.bindparam("due_at", type_=ChannelReservation.__table__.c.expires_at.type)  # type: ignore[attr-defined]
    if dialect == "postgresql":
        return sa.text(
            "SELECT (SELECT json_build_object('sku', asked.value, 'known', "
            f"{known}, 'sellable', coalesce(sum({atp}), 0), 'locations', coalesce(json_agg("
            f"json_build_object('location', {position}.location_code, 'atp', {atp}) "
            f"ORDER BY {atp} DESC, {position}.location_code), '[]'::json)) {entitled})::text, "
            f"{holds_due} "
            "FROM unnest(CAST(:skus AS text[])) WITH ORDINALITY AS asked(value, n) "
            "ORDER BY asked.n"
        ).bindparams(due_at)
    # SQLite (3.40 has no ORDER BY inside an aggregate): the aggregate reads an ordered
    # subquery, which SQLite never flattens into an aggregate query, so the order holds.
    return sa.text(
        "SELECT (SELECT json_object('sku', asked.value, 'known', json(CASE WHEN "
        f"{known} THEN 'true' ELSE 'false' END), 'sellable', coalesce(sum(atp), 0), "
        "'locations', json_group_array(json_object('location', location_code, 'atp', atp))) "
        f"FROM (SELECT {position}.location_code AS location_code, {atp} AS atp {entitled} "
        f"ORDER BY atp DESC, {position}.location_code)), {holds_due} "
        "FROM json_each(:skus) AS asked ORDER BY asked.key"
    ).bindparams(due_at)


_DIALECTS = {"postgresql": postgresql.dialect(), "sqlite": sqlite.dialect()}
_ANSWERS: dict[str, sa.TextClause] = {}


class JsonAnswer(NamedTuple):
    """``availability_json``'s items, and whether an open hold was past its TTL at ``due_at``."""

    items: list[str]
    holds_due: bool


def availability_json(
    session: Session,
    channel: str,
    skus: Sequence[str],
    closed: Sequence[str] = (),
    *,
    due_at: dt.datetime | None = None,
) -> JsonAnswer:
    """``availability`` as JSON objects (``sku``, ``known``, ``sellable``, ``locations``), one
    per SKU in the order asked, once each: the API's answer without a Python object per
    location. ``closed`` locations are left out (stores that can ship nothing more today).

    ``due_at``: the same statement also says whether any open hold at all is past its TTL then
    (one probe of ``ix_channel_reservation_due``, evaluated once), so the request path needs no
    round trip of its own to learn whether lapsed holds must give their units back first
    (``inventory.reservations.available_json``)."""
    unique = list(dict.fromkeys(skus))
    dialect = session.get_bind().dialect.name
    if (statement := _ANSWERS.get(dialect)) is None:
        statement = _ANSWERS[dialect] = _answer_sql(dialect)
    asked = unique if dialect == "postgresql" else json.dumps(unique)
    parameters = {
        "channel": channel,
        "skus": asked,
        "closed": closed_parameter(dialect, closed),
        "due_at": due_at,  # None: ``expires_at <= NULL`` is never true
    }
    rows = session.connection().execute(statement, parameters).all()
    return JsonAnswer([row[0] for row in rows], bool(rows) and bool(rows[0][1]))
