"""Lead time and cost from a node to a customer: the one place routing reads them.

They are each lane's *effective* figures from fulfilment feedback
(``inventory.fulfilment_stats.lane_figures``): the configured lead time and cost, shrunk towards
what realised deliveries showed as they accumulate. Transfer planning reads the same figures.

Then the node's own realised online parcels to the customer's delivery zone (the OMS's events,
``inventory.fulfilment_stats.parcel_figures``) move them the same credibility way: transit
(shipped → delivered) with ``Z = n / (n + LEAD_TIME_K)`` over delivered parcels, and the parcel
and per-unit cost by the realised ÷ predicted cost ratio, shrunk towards 1 with ``COST_K``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session

from inventory.fulfilment_stats import (
    COST_K,
    LEAD_TIME_K,
    ParcelLearnt,
    lane_figures,
    parcel_figures,
)
from inventory.models import Lane, Location
from inventory.online_fulfilment import delivery_zone

_LANE = Lane.__table__.c  # type: ignore[attr-defined]
_LOC = Location.__table__.c  # type: ignore[attr-defined]


@dataclass(frozen=True)
class LaneFigures:
    """What one parcel from a node to the destination takes: hours on the road and its cost."""

    lead_time_hours: float
    parcel_cost: float  # fixed per parcel, CNY
    cost_per_unit: float  # CNY
    basis: str  # where the figures come from, for the explanation


def _physical_origin(session: Session, origins: Sequence[str]) -> dict[str, str]:
    """A node without lanes of its own (the online pool) ships from the DC that serves it."""
    rows = session.execute(
        sa.select(_LOC.code, _LOC.serving_dc).where(_LOC.code.in_(list(origins)))
    ).all()
    with_lanes = set(
        session.execute(
            sa.select(_LANE.source_code).where(_LANE.source_code.in_(list(origins))).distinct()
        ).scalars()
    )
    return {
        code: code if code in with_lanes or serving is None else serving for code, serving in rows
    }


def node_lane_figures(
    session: Session,
    origins: Sequence[str],
    destination_city: str,
    destination_region: str,
    *,
    parcel_share_of_trip: float,
) -> dict[str, LaneFigures]:
    """Figures from each of ``origins`` to a customer in ``destination_city``.

    A customer is somewhere in the city, so a lane's figures are averaged over the lanes from
    the origin to the pool's locations in that city (to the region's when the city has none);
    a parcel pays ``parcel_share_of_trip`` of a lane's per-shipment cost plus its per-unit
    cost. Origins with no lane there are left out (they cannot ship to it).
    """
    physical = _physical_origin(session, origins)
    sources = sorted(set(physical.values()))
    dest = Location.__table__.alias("dest")  # type: ignore[attr-defined]
    found: dict[str, tuple[float, float, float, str, int]] = {}
    for column, value in ((dest.c.city, destination_city), (dest.c.region, destination_region)):
        missing = [s for s in sources if s not in found]
        if not missing:
            break
        stmt = (
            sa.select(_LANE.source_code, _LANE.dest_code)
            .join(dest, dest.c.code == _LANE.dest_code)
            .where(_LANE.source_code.in_(missing), column == value)
        )
        pairs = [(source, dest_code) for source, dest_code in session.execute(stmt)]
        by_source: dict[str, list[tuple[float, float, float, int]]] = {}
        for (source, _dest), lane in lane_figures(session, pairs).items():
            if lane.effective is not None:
                eff = lane.effective
                by_source.setdefault(source, []).append(
                    (
                        eff.lead_time_hours,
                        eff.cost_per_shipment,
                        eff.cost_per_unit,
                        lane.learnt.deliveries,
                    )
                )
        scope = "city" if column is dest.c.city else "region"
        for source, rows in by_source.items():
            n = len(rows)
            found[source] = (
                sum(r[0] for r in rows) / n,
                sum(r[1] for r in rows) / n,
                sum(r[2] for r in rows) / n,
                scope,
                sum(r[3] for r in rows),
            )
    zone = delivery_zone(destination_city)
    parcels = parcel_figures(session, [(origin, zone) for origin in physical])
    figures = {}
    for origin, source in physical.items():
        if source not in found:
            continue
        hours, per_trip, per_unit, scope, delivered = found[source]
        via = "" if source == origin else f" (ships from {source})"
        learnt = f", learnt from {delivered} deliveries" if delivered else ""
        prior = LaneFigures(
            lead_time_hours=round(hours, 2),
            parcel_cost=round(per_trip * parcel_share_of_trip, 2),
            cost_per_unit=round(per_unit, 2),
            basis=f"lanes to {value_of(scope, destination_city, destination_region)}"
            + (learnt or " (configured figures)")
            + via,
        )
        figures[origin] = _with_parcels(prior, parcels.get((origin, zone)), zone)
    return figures


def _with_parcels(prior: LaneFigures, seen: ParcelLearnt | None, zone: str) -> LaneFigures:
    """The prior moved towards the node's realised parcels to ``zone`` (credibility weights)."""
    if seen is None or (not seen.deliveries and not seen.costed):
        return prior
    lead = prior.lead_time_hours
    if seen.deliveries and seen.transit_hours is not None:
        z = seen.deliveries / (seen.deliveries + LEAD_TIME_K)
        lead = z * seen.transit_hours + (1 - z) * prior.lead_time_hours
    ratio = 1.0
    expected = prior.parcel_cost * seen.trips + prior.cost_per_unit * seen.units
    if seen.costed and expected > 0:
        z = seen.costed / (seen.costed + COST_K)
        ratio = z * (seen.cost / expected) + (1 - z)
    return LaneFigures(
        lead_time_hours=round(lead, 2),
        parcel_cost=round(prior.parcel_cost * ratio, 2),
        cost_per_unit=round(prior.cost_per_unit * ratio, 2),
        basis=f"{prior.basis}; parcels to {zone}: {seen.deliveries} delivered, "
        f"{seen.costed} costed (cost ×{ratio:.2f})",
    )


def value_of(scope: str, city: str, region: str) -> str:
    return f"{city} (city)" if scope == "city" else f"{region} (region)"


@dataclass(frozen=True)
class ParcelPlan:
    """Routing's configured figures for parcels from a node to a delivery zone, in the shape a
    simulated OMS plans with (``connectors.simulated.feedback.LanePlan``; per parcel as
    ``cost_per_shipment``)."""

    source: str
    dest: str
    lead_time_hours: float
    cost_per_unit: float
    cost_per_shipment: float


def parcel_plans(session: Session, parcel_share_of_trip: float) -> list[ParcelPlan]:
    """Routing's parcel figures from every node to every city's delivery zone: what the
    embedded simulated OMS plans with, both in the service (``api.fulfilment_feedback``) and in
    the realised-routing eval (``evals.routing_realised``)."""
    cities = session.execute(sa.select(_LOC.city, _LOC.region).distinct()).all()
    origins = list(session.execute(sa.select(_LOC.code)).scalars())
    plans = []
    for city, region in sorted(cities):
        figures = node_lane_figures(
            session, origins, city, region, parcel_share_of_trip=parcel_share_of_trip
        )
        plans += [
            ParcelPlan(
                source=node,
                dest=delivery_zone(city),
                lead_time_hours=max(fig.lead_time_hours, 0.1),
                cost_per_unit=fig.cost_per_unit,
                cost_per_shipment=fig.parcel_cost,
            )
            for node, fig in sorted(figures.items())
        ]
    return plans
