"""What the pool has learnt about its lanes and nodes from realised fulfilment, and the figures
planning should use: the configured lane figures, shrunk towards what actually happened as the
evidence grows.

The one entry point is ``lane_figures`` (every lane, or the pairs asked); transfer planning,
the approval card and ``GET /v1/fulfilment/lanes`` all read it, so they never disagree.

How the learnt and configured figures are combined (credibility weighting, Bühlmann style):
the effective value is ``Z · observed + (1 − Z) · configured`` with ``Z = n / (n + k)``, where
``n`` is the number of observations on the lane and ``k`` says how many observations are worth
as much as the configured figure. With ``k = 5``, one delivery moves a lane's lead time a sixth
of the way to what it saw, five deliveries half way, fifty deliveries 91 % of the way.

- **Lead time** (hours): observed = mean of ``delivered_at − released_at`` over delivered,
  not-cancelled orders on the lane; ``k = LEAD_TIME_K``.
- **Cost**: observed = the lane's cost ratio, ``Σ realised cost / Σ (cost_per_shipment × trips
  + cost_per_unit × units)`` over its costed orders (a ratio of sums, so a big order weighs more
  than a small one); the effective ratio is shrunk towards 1 with ``k = COST_K``, and both the
  per-unit and per-trip cost are the configured ones times it. The realised cost per trip and
  per unit are shown beside it.
- **Pick-short rate** (share of lines shipped short): a Beta prior with mean ``p0`` and strength
  ``PICK_SHORT_M`` pseudo-lines, ``(shorts + M·p0) / (lines + M)``; ``p0`` is the rate over the
  whole network (empirical Bayes), or ``DEFAULT_PICK_SHORT`` before any line has shipped.

A lane nobody configured (a routed online order from a store to a delivery zone) has no prior:
its effective figures are the observed ones. A configured lane whose effective figure is more
than ``MATERIAL_CHANGE`` away from the configured one, on at least ``MIN_EVIDENCE``
observations, carries a sentence in ``deviations`` for the approval card.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session

from inventory.models import FulfilmentOutcome, Lane
from inventory.models.fulfilment import ORDER_LINE

LEAD_TIME_K = 5.0
COST_K = 5.0
PICK_SHORT_M = 20.0
DEFAULT_PICK_SHORT = 0.02
MATERIAL_CHANGE = 0.20
MIN_EVIDENCE = 3

_OUT = FulfilmentOutcome.__table__.c  # type: ignore[attr-defined]
_LANE = Lane.__table__.c  # type: ignore[attr-defined]

Pair = tuple[str, str]


@dataclass(frozen=True)
class Figures:
    """Lead time and cost of one lane (configured, or effective)."""

    lead_time_hours: float
    cost_per_unit: float
    cost_per_shipment: float


@dataclass(frozen=True)
class Learnt:
    """What realised orders on a lane showed (None where nothing was observed)."""

    deliveries: int = 0
    lead_time_hours: float | None = None
    costed: int = 0
    cost_ratio: float | None = None  # realised ÷ configured cost (None: no prior or no costs)
    cost_per_trip: float | None = None
    cost_per_unit: float | None = None
    lines: int = 0
    picked_short: int = 0
    cancelled: int = 0


@dataclass(frozen=True)
class LaneFigures:
    origin: str
    destination: str
    configured: Figures | None
    learnt: Learnt
    effective: Figures | None  # None: neither configured nor observed enough to say
    pick_short_rate: float  # effective (shrunk) share of lines picked short
    weights: dict[str, float] = field(default_factory=dict)  # credibility Z of each figure
    deviations: tuple[str, ...] = ()

    @property
    def differs(self) -> bool:
        return bool(self.deviations)


@dataclass(frozen=True)
class NodeFigures:
    node: str
    orders: int
    lines: int
    picked_short: int
    pick_short_rate: float  # effective (shrunk)
    handling_hours: float | None  # mean released → shipped
    cancelled: int


def _weight(n: int, k: float) -> float:
    return n / (n + k) if n > 0 else 0.0


def _hours(later: sa.ColumnElement, earlier: sa.ColumnElement, dialect: str) -> sa.ColumnElement:
    if dialect == "postgresql":
        return sa.func.extract("epoch", later - earlier) / 3600.0
    return (sa.func.julianday(later) - sa.func.julianday(earlier)) * 24.0


def _dialect(bind: Connection | Session) -> str:
    return bind.get_bind().dialect.name if isinstance(bind, Session) else bind.dialect.name


def _lane_rows(
    bind: Connection | Session,
    start: sa.Column,
    pairs: list[Pair] | None,
    order_kind: str | None = None,
) -> dict[Pair, dict]:
    """Realised orders per ``(origin, destination)``: deliveries and their mean span from
    ``start`` (``released_at`` for a lane's lead time, ``shipped_at`` for a parcel's transit) to
    delivery, and the costed sums. One query for both, so the two figures count a delivery,
    a cost and a cancellation the same way."""
    delivered = sa.and_(
        _OUT.delivered_at.is_not(None), start.is_not(None), _OUT.cancelled_at.is_(None)
    )
    span = _hours(_OUT.delivered_at, start, _dialect(bind))
    costed = _OUT.cost.is_not(None)
    stmt = (
        sa.select(
            _OUT.origin,
            _OUT.destination,
            sa.func.sum(sa.case((delivered, 1), else_=0)).label("deliveries"),
            sa.func.avg(sa.case((delivered, span), else_=None)).label("span"),
            sa.func.sum(sa.case((costed, 1), else_=0)).label("costed"),
            sa.func.sum(sa.case((costed, _OUT.cost), else_=0.0)).label("cost"),
            sa.func.sum(sa.case((costed, _OUT.trips), else_=0)).label("trips"),
            sa.func.sum(sa.case((costed, _OUT.units), else_=0)).label("units"),
            sa.func.sum(sa.case((_OUT.cancelled_at.is_not(None), 1), else_=0)).label("cancelled"),
        )
        .where(_OUT.line == ORDER_LINE)
        .group_by(_OUT.origin, _OUT.destination)
    )
    if order_kind is not None:
        stmt = stmt.where(_OUT.order_kind == order_kind)
    if pairs is not None:
        stmt = stmt.where(sa.tuple_(_OUT.origin, _OUT.destination).in_(pairs))
    return {(r.origin, r.destination): r._asdict() for r in bind.execute(stmt)}


def _line_rows(bind: Connection | Session, by: Iterable[sa.ColumnElement]) -> list:
    shipped = _OUT.qty_shipped.is_not(None)
    short = sa.and_(shipped, _OUT.qty_shipped < _OUT.qty_ordered)
    columns = list(by)
    stmt = (
        sa.select(
            *columns,
            sa.func.sum(sa.case((shipped, 1), else_=0)).label("lines"),
            sa.func.sum(sa.case((short, 1), else_=0)).label("short"),
        )
        .where(_OUT.line != ORDER_LINE)
        .group_by(*columns)
    )
    return list(bind.execute(stmt))


def network_pick_short_prior(bind: Connection | Session) -> float:
    """The rate every lane and node is shrunk towards: the network's, or the default."""
    ((lines, short),) = [(r.lines, r.short) for r in _line_rows(bind, [])] or [(0, 0)]
    return (short or 0) / lines if lines else DEFAULT_PICK_SHORT


def lane_figures(
    bind: Connection | Session, pairs: Iterable[Pair] | None = None
) -> dict[Pair, LaneFigures]:
    """Configured, learnt and effective figures of every lane (configured or observed), or of
    the ``(origin, destination)`` pairs asked (an unknown pair is left out)."""
    asked = None if pairs is None else sorted(set(pairs))
    lanes_stmt = sa.select(
        _LANE.source_code,
        _LANE.dest_code,
        _LANE.lead_time_hours,
        _LANE.cost_per_unit,
        _LANE.cost_per_shipment,
    ).order_by(_LANE.id)
    if asked is not None:
        lanes_stmt = lanes_stmt.where(sa.tuple_(_LANE.source_code, _LANE.dest_code).in_(asked))
    configured = {
        (r.source_code, r.dest_code): Figures(
            float(r.lead_time_hours), float(r.cost_per_unit), float(r.cost_per_shipment)
        )
        for r in bind.execute(lanes_stmt)
    }
    observed = _lane_rows(bind, _OUT.released_at, asked) if asked is None or asked else {}
    if not observed:  # nothing realised yet: every lane is what was configured (the fast path)
        prior = DEFAULT_PICK_SHORT
        return {
            pair: LaneFigures(pair[0], pair[1], figures, Learnt(), figures, prior)
            for pair, figures in configured.items()
        }
    prior = network_pick_short_prior(bind)
    lines = {
        (r.origin, r.destination): (int(r.lines or 0), int(r.short or 0))
        for r in _line_rows(bind, [_OUT.origin, _OUT.destination])
    }
    return {
        pair: _combine(pair, configured.get(pair), observed.get(pair), lines.get(pair), prior)
        for pair in [*configured, *(pair for pair in observed if pair not in configured)]
    }


def lane_figures_for(session: Session, origin: str, destination: str) -> LaneFigures | None:
    """One lane's figures (None: neither configured nor ever observed)."""
    return lane_figures(session, [(origin, destination)]).get((origin, destination))


def _combine(
    pair: Pair,
    configured: Figures | None,
    row: dict | None,
    lines: tuple[int, int] | None,
    prior: float,
) -> LaneFigures:
    row = row or {}
    deliveries, costed = int(row.get("deliveries") or 0), int(row.get("costed") or 0)
    n_lines, n_short = lines or (0, 0)
    lead = float(row["span"]) if deliveries and row.get("span") is not None else None
    cost, trips, units = (float(row.get(k) or 0) for k in ("cost", "trips", "units"))
    expected = (
        configured.cost_per_shipment * trips + configured.cost_per_unit * units
        if configured and costed
        else 0.0
    )
    learnt = Learnt(
        deliveries=deliveries,
        lead_time_hours=lead,
        costed=costed,
        cost_ratio=cost / expected if expected > 0 else None,
        cost_per_trip=cost / trips if trips else None,
        cost_per_unit=cost / units if units else None,
        lines=n_lines,
        picked_short=n_short,
        cancelled=int(row.get("cancelled") or 0),
    )
    z_lead, z_cost = _weight(deliveries, LEAD_TIME_K), _weight(costed, COST_K)
    z_pick = n_lines / (n_lines + PICK_SHORT_M)
    pick = (n_short + PICK_SHORT_M * prior) / (n_lines + PICK_SHORT_M)
    effective = _effective(configured, learnt, z_lead, z_cost)
    return LaneFigures(
        origin=pair[0],
        destination=pair[1],
        configured=configured,
        learnt=learnt,
        effective=effective,
        pick_short_rate=pick,
        weights={"lead_time": z_lead, "cost": z_cost, "pick_short": z_pick},
        deviations=_deviations(configured, effective, learnt),
    )


def _effective(
    configured: Figures | None, learnt: Learnt, z_lead: float, z_cost: float
) -> Figures | None:
    if configured is None:  # no prior: what was seen is all there is
        if learnt.lead_time_hours is None:
            return None
        return Figures(
            learnt.lead_time_hours, learnt.cost_per_unit or 0.0, learnt.cost_per_trip or 0.0
        )
    lead = configured.lead_time_hours
    if learnt.lead_time_hours is not None:
        lead = z_lead * learnt.lead_time_hours + (1 - z_lead) * configured.lead_time_hours
    ratio = 1.0 if learnt.cost_ratio is None else z_cost * learnt.cost_ratio + (1 - z_cost)
    return Figures(lead, configured.cost_per_unit * ratio, configured.cost_per_shipment * ratio)


def _deviations(
    configured: Figures | None, effective: Figures | None, learnt: Learnt
) -> tuple[str, ...]:
    """Sentences for the figures that moved materially on enough evidence."""
    if configured is None or effective is None:
        return ()
    notes: list[str] = []
    if learnt.deliveries >= MIN_EVIDENCE and configured.lead_time_hours > 0:
        change = effective.lead_time_hours / configured.lead_time_hours - 1
        if abs(change) >= MATERIAL_CHANGE:
            notes.append(
                f"lead time {effective.lead_time_hours:.0f} h vs {configured.lead_time_hours:.0f} h"
                f" configured ({change:+.0%}; realised mean {learnt.lead_time_hours:.0f} h over "
                f"{learnt.deliveries} deliveries)"
            )
    if learnt.costed >= MIN_EVIDENCE and learnt.cost_ratio is not None:
        change = (
            effective.cost_per_unit / configured.cost_per_unit - 1
            if configured.cost_per_unit
            else 0.0
        )
        if abs(change) >= MATERIAL_CHANGE:
            notes.append(
                f"cost {change:+.0%} vs configured (realised ×{learnt.cost_ratio:.2f} of the "
                f"configured cost over {learnt.costed} orders)"
            )
    return tuple(notes)


def node_figures(bind: Connection | Session) -> list[NodeFigures]:
    """Per fulfilling node: pick-short rate (shrunk like a lane's), handling time, cancellations."""
    dialect = _dialect(bind)
    prior = network_pick_short_prior(bind)
    handled = sa.and_(_OUT.shipped_at.is_not(None), _OUT.released_at.is_not(None))
    orders = {
        r.origin: r
        for r in bind.execute(
            sa.select(
                _OUT.origin,
                sa.func.count().label("orders"),
                sa.func.avg(
                    sa.case((handled, _hours(_OUT.shipped_at, _OUT.released_at, dialect)))
                ).label("handling"),
                sa.func.sum(sa.case((_OUT.cancelled_at.is_not(None), 1), else_=0)).label(
                    "cancelled"
                ),
            )
            .where(_OUT.line == ORDER_LINE)
            .group_by(_OUT.origin)
        )
    }
    lines = {
        r.origin: (int(r.lines or 0), int(r.short or 0)) for r in _line_rows(bind, [_OUT.origin])
    }
    figures = []
    for node in sorted(orders):
        n_lines, n_short = lines.get(node, (0, 0))
        row = orders[node]
        figures.append(
            NodeFigures(
                node=node,
                orders=int(row.orders),
                lines=n_lines,
                picked_short=n_short,
                pick_short_rate=(n_short + PICK_SHORT_M * prior) / (n_lines + PICK_SHORT_M),
                handling_hours=None if row.handling is None else float(row.handling),
                cancelled=int(row.cancelled or 0),
            )
        )
    return figures


def planning_lanes(bind: Connection | Session) -> list[tuple[str, str, float, float, float]]:
    """``(source, dest, lead_time_hours, cost_per_unit, cost_per_shipment)`` of every configured
    lane, with the effective figures: what transfer planning reads."""
    return [
        (
            f.origin,
            f.destination,
            f.effective.lead_time_hours,
            f.effective.cost_per_unit,
            f.effective.cost_per_shipment,
        )
        for f in lane_figures(bind).values()
        if f.configured is not None and f.effective is not None
    ]


@dataclass(frozen=True)
class ParcelLearnt:
    """What realised online parcels from a node to a delivery zone showed (sums, for blending
    with routing's prior): transit = shipped → delivered; cost for ``trips`` parcels, ``units``."""

    deliveries: int
    transit_hours: float | None
    costed: int
    cost: float
    trips: int
    units: int


def parcel_figures(bind: Connection | Session, pairs: Iterable[Pair]) -> dict[Pair, ParcelLearnt]:
    """Realised online parcels per ``(node, delivery zone)`` asked (pairs never seen are left
    out). Routing blends them with its prior (``tools.route_order.figures``); the transit span
    leaves the node's handling out, as routing adds its own handling hours."""
    asked = sorted(set(pairs))
    if not asked:
        return {}
    rows = _lane_rows(bind, _OUT.shipped_at, asked, order_kind="online")
    return {
        pair: ParcelLearnt(
            deliveries=int(r["deliveries"] or 0),
            transit_hours=None if r["span"] is None else float(r["span"]),
            costed=int(r["costed"] or 0),
            cost=float(r["cost"] or 0.0),
            trips=int(r["trips"] or 0),
            units=int(r["units"] or 0),
        )
        for pair, r in rows.items()
    }
