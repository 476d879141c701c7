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


def store_parcel(decision):  # type: ignore[no-untyped-def]
    options = [decision.chosen, *decision.runners_up]
    [option] = [o for o in options if o.nodes == ["SHA-A1"]]
    return option.parcels[0]


def test_a_stores_realised_parcels_move_its_lead_time_and_cost(
    engine: Engine, tmp_path: Path
) -> None:
    """The OMS's parcels from SHA-A1 to Shanghai's delivery zone took 40 h in transit and cost
    twice the prior: routing's figures for that store move towards them (credibility: 20
    parcels weigh 80 %), and the parcel's basis says why."""
    seed_routing_pool(engine)
    before = store_parcel(route(ctx(engine, tmp_path)))
    handling, pick_pack = 4.0, 6.0  # a store's, in the shipped routing.yaml
    freight = before.cost - pick_pack
    for n in range(20):  # shipped 2 h after release, delivered at 42 h: 40 h in transit
        deliver(
            engine,
            f"OMS-{n:06d}",
            origin="SHA-A1",
            dest="zone-Shanghai",
            hours=42,
            shipped=[(1, 1)],
            cost=round(2 * freight, 2),
            units=1,
        )
    after = store_parcel(route(ctx(engine, tmp_path)))
    expected_lead = handling + 0.8 * 40 + 0.2 * (before.lead_time_hours - handling)
    assert abs(after.lead_time_hours - expected_lead) < 0.1
    assert abs((after.cost - pick_pack) - 1.8 * freight) < 0.05  # ratio 2, shrunk: 1 + 0.8
    assert "parcels to zone-Shanghai: 20 delivered, 20 costed" in after.figures_basis
    # Another node's figures are untouched by SHA-A1's parcels.
    assert beijing_parcel(route(ctx(engine, tmp_path))).figures_basis.endswith(
        "(configured figures)"
    )
