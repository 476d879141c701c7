"""The routing replay on the small demo world: the order stream, the peers, the scenario report."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from evals.order_stream import day_of_orders, online_demand
from evals.routing_replay import prepare_world, replay
from evals.routing_scenario import RoutingScenario, markdown, run
from inventory.clock import read_world_clock
from inventory.models import City, OnlineOrder, OnlineOrderLine, StockPosition

SCENARIO = Path(__file__).resolve().parents[2] / "evals/routing_scenarios/online-day.yaml"


def test_the_stream_is_the_worlds_online_demand_and_is_seeded(
    small_world_template: Path, tmp_path: Path
) -> None:
    engine = prepare_world(small_world_template, tmp_path, "stream")
    now = read_world_clock(engine)
    orders = day_of_orders(engine, now, seed=3)
    assert sum(order.units for order in orders) == sum(online_demand(engine, now.date()).values())
    assert orders == day_of_orders(engine, now, seed=3)
    assert {order.destination_city for order in orders} <= {"Shanghai", "Guangzhou", "Beijing"}
    assert orders[0].placed_at == now and orders[-1].placed_at < now.replace(day=now.day + 1)
    engine.dispose()


def test_replay_routes_every_order_it_can_and_keys_parcels_on_the_order(
    small_world_template: Path, tmp_path: Path
) -> None:
    engine = prepare_world(small_world_template, tmp_path, "replay")
    orders = day_of_orders(engine, read_world_clock(engine), seed=3)[:40]
    result = replay(engine, orders, "ship_from_store")
    assert orders and result.routed + result.lost_orders == len(orders)
    with Session(engine) as session:
        routed = session.exec(select(OnlineOrder)).all()
        lines = session.exec(select(OnlineOrderLine)).all()
    assert len(routed) == result.routed
    assert all(line.shipment_ref.startswith(line.order_id) for line in lines)
    engine.dispose()


@pytest.mark.slow
def test_the_scenario_judges_routing_against_the_regional_dc(
    small_world_template: Path, tmp_path: Path
) -> None:
    shipped = RoutingScenario.load(SCENARIO)  # the file validates; its world is the full one
    assert shipped.world["stores"] == 40 and shipped.expect.on_time_rate_at_least == 0.95
    scenario = RoutingScenario(id="small-world-day", expect={"on_time_rate_at_least": 0.9})
    report = run(scenario, template=small_world_template)
    peers = report["peers"]
    assert set(peers) == {"ship_from_store", "no_ship_from_store", "regional_dc"}
    assert peers["no_ship_from_store"]["share_from_stores"] == 0
    assert peers["regional_dc"]["store_units"] == 0
    assert report["summary"]["share_anchor"] == 0.35
    assert report["passed"], report["failures"]
    assert "| ship_from_store |" in markdown(report)


def test_a_regional_network_folds_city_dcs_into_their_hub(
    small_world_template: Path, tmp_path: Path
) -> None:
    hubs = {"Shanghai": ("Shanghai", "Guangzhou"), "Beijing": ("Beijing",)}
    city = prepare_world(small_world_template, tmp_path, "city")
    regional = prepare_world(
        small_world_template, tmp_path, "regional", network="regional", hubs=hubs
    )

    def dc_stock(engine) -> dict[str, int]:
        with Session(engine) as session:
            rows = session.execute(
                sa.select(StockPosition.location_code, sa.func.sum(StockPosition.on_hand))
                .where(StockPosition.location_code.like("DC-%"))  # type: ignore[attr-defined]
                .group_by(StockPosition.location_code)
            ).all()
        return dict(rows)

    before, after = dc_stock(city), dc_stock(regional)
    assert sum(before.values()) == sum(after.values())  # moved, not made
    assert after["DC-GUA"] == 0 and after["DC-SHA"] == before["DC-SHA"] + before["DC-GUA"]
    with Session(regional) as session:
        assert session.get(City, "Guangzhou").region == session.get(City, "Shanghai").region
    now = read_world_clock(regional)
    orders = [o for o in day_of_orders(regional, now, seed=3) if o.destination_city == "Guangzhou"]
    replay(regional, orders[:10], "regional_dc")
    with Session(regional) as session:
        nodes = {line.node_code for line in session.exec(select(OnlineOrderLine))}
    assert nodes == {"DC-SHA"}  # the DC-only peer ships Guangzhou's orders from the hub
    city.dispose()
    regional.dispose()


def test_the_regional_scenario_file_demands_routing_beat_the_dc_on_cost() -> None:
    regional = RoutingScenario.load(SCENARIO.with_name("online-day-regional.yaml"))
    assert regional.network == "regional" and regional.expect.delivery_cost_below_regional_dc
    assert RoutingScenario.load(SCENARIO).network == "city"
