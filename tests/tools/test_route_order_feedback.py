"""Routing reads the same effective lane figures as transfer planning: realised deliveries from
fulfilment feedback move a node's lead time and say so in the parcel's basis (both databases)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from tests.tools.test_route_order import ctx, route
from tests.utils.fulfilment_events import deliver
from tests.utils.routing_pool import seed_routing_pool


def beijing_parcel(decision):  # type: ignore[no-untyped-def]
    options = [decision.chosen, *decision.runners_up]
    [option] = [o for o in options if o.nodes == ["DC-BEI"]]
    return option.parcels[0]


def test_deliveries_faster_than_configured_shorten_a_nodes_lead_time(
    engine: Engine, tmp_path: Path
) -> None:
    seed_routing_pool(engine)
    before = beijing_parcel(route(ctx(engine, tmp_path)))
    assert "configured figures" in before.figures_basis and not before.on_time
    for n in range(40):  # the WMS keeps delivering Beijing → Shanghai overnight
        for dest in ("SHA-A1", "SHA-A2", "SHA-OUT", "DC-SHA"):
            deliver(engine, f"WMS-{dest}-{n}", origin="DC-BEI", dest=dest, hours=8)
    after = beijing_parcel(route(ctx(engine, tmp_path)))
    assert after.lead_time_hours < before.lead_time_hours
    assert "learnt from" in after.figures_basis
