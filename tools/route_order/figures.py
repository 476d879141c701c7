"""Lead time and cost from a node to a customer: the one place routing reads them.

Today they come from the configured lanes. Fulfilment feedback (``inventory/fulfilment*``)
learns realised lead times and costs per node and lane; switching routing to those figures means
changing this function only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session

from inventory.models import Lane, Location

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
    found: dict[str, tuple[float, float, float, str]] = {}
    for column, value in ((dest.c.city, destination_city), (dest.c.region, destination_region)):
        missing = [s for s in sources if s not in found]
        if not missing:
            break
        stmt = (
            sa.select(
                _LANE.source_code,
                sa.func.avg(_LANE.lead_time_hours),
                sa.func.avg(_LANE.cost_per_shipment),
                sa.func.avg(_LANE.cost_per_unit),
            )
            .join(dest, dest.c.code == _LANE.dest_code)
            .where(_LANE.source_code.in_(missing), column == value)
            .group_by(_LANE.source_code)
        )
        scope = "city" if column is dest.c.city else "region"
        for source, hours, per_trip, per_unit in session.execute(stmt):
            found[source] = (float(hours), float(per_trip), float(per_unit), scope)
    figures = {}
    for origin, source in physical.items():
        if source not in found:
            continue
        hours, per_trip, per_unit, scope = found[source]
        via = "" if source == origin else f" (ships from {source})"
        figures[origin] = LaneFigures(
            lead_time_hours=round(hours, 2),
            parcel_cost=round(per_trip * parcel_share_of_trip, 2),
            cost_per_unit=round(per_unit, 2),
            basis=f"configured lanes to {value_of(scope, destination_city, destination_region)}"
            + via,
        )
    return figures


def value_of(scope: str, city: str, region: str) -> str:
    return f"{city} (city)" if scope == "city" else f"{region} (region)"
