"""route_order's decision on a small two-city pool: score parts, protection, caps, strategies."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.engine import Engine
from sqlmodel import Session

from inventory.config import Settings
from inventory.db import session_scope
from inventory.models import Location, StockPosition
from tests.utils import factories
from tests.utils.routing_pool import NOW, SKU, seed_routing_pool
from tools.context import ToolContext, ToolError
from tools.registry import TOOLS
from tools.route_order.pool import stores_not_shipping_online
from tools.route_order.settings import (
    DEFAULT_ROUTING_FILE,
    RoutingSettingsError,
    load_routing_settings,
)


def ctx(engine: Engine, tmp_path: Path, **routing: object) -> ToolContext:
    path = None
    if routing:
        raw = yaml.safe_load(DEFAULT_ROUTING_FILE.read_text()) | routing
        path = tmp_path / "routing.yaml"
        path.write_text(yaml.safe_dump(raw))
    return ToolContext(engine=engine, now=NOW, settings=Settings(routing_file=path))


def route(context: ToolContext, **args: object):
    body = {"lines": [{"sku": SKU, "qty": 1}], "destination_city": "上海"} | args
    return TOOLS["route_order"].run(context, body)


def test_an_overstocked_store_beats_the_dc_and_the_decision_explains_itself(
    engine: Engine, tmp_path: Path
) -> None:
    seed_routing_pool(engine)
    decision = route(ctx(engine, tmp_path))
    assert decision.routable and decision.destination_city == "Shanghai"
    assert decision.chosen.nodes == ["SHA-A1"]
    parts = decision.chosen.parts
    assert parts.stock_health < 0  # no sales, 10 a size: the slow seller earns the credit
    assert parts.total == pytest.approx(
        parts.delivery_cost + parts.late_penalty + parts.stock_health + parts.split_penalty,
        abs=0.02,
    )
    runners = [option.nodes for option in decision.runners_up]
    assert runners == [["DC-SHA"], ["DC-BEI"]]
    assert decision.runners_up[1].parts.late_penalty > 0  # Beijing cannot make 48 h
    excluded = {item.node: item.reason for item in decision.excluded}
    assert "min display" in excluded["SHA-A2"]  # one unit a size: all of it protected
    assert "SHA-OUT" not in excluded  # outlet stock is never a candidate online


def test_the_core_size_run_and_own_sales_protect_a_store(engine: Engine, tmp_path: Path) -> None:
    seed_routing_pool(engine, stock={"SHA-A1": 1, "DC-SHA": 0})
    with session_scope(engine) as session:  # no min display: only the size run binds
        session.execute(
            sa.update(StockPosition)
            .where(StockPosition.location_code == "SHA-A1")
            .values(min_display=0)
        )
    decision = route(ctx(engine, tmp_path))
    assert decision.chosen.nodes == ["DC-BEI"]
    assert any(item.node == "SHA-A1" for item in decision.excluded)
    # Off-core sizes are not part of the run: size 36 may leave the store.
    assert route(ctx(engine, tmp_path), lines=[{"sku": "RB001-BLK-36", "qty": 1}]).chosen.nodes == [
        "SHA-A1"
    ]


def test_a_store_keeps_its_own_expected_sales(engine: Engine, tmp_path: Path) -> None:
    seed_routing_pool(engine, stock={"DC-SHA": 0})
    with session_scope(engine) as session:  # 3 a day: the 3-day protection keeps 9 of 10
        factories.add_daily_sales(session, "SHA-A1", SKU, end=NOW.date(), days=28, units=3)
    assert route(ctx(engine, tmp_path)).chosen.nodes == ["SHA-A1"]
    assert route(ctx(engine, tmp_path), lines=[{"sku": SKU, "qty": 2}]).chosen.nodes == ["DC-BEI"]


def test_ship_from_store_off_and_the_regional_dc_strategy(engine: Engine, tmp_path: Path) -> None:
    seed_routing_pool(engine)
    no_stores = route(ctx(engine, tmp_path), ship_from_store=False)
    assert no_stores.chosen.nodes == ["DC-SHA"]
    beijing = route(ctx(engine, tmp_path), destination_city="Beijing", strategy="regional_dc")
    assert beijing.chosen.nodes == ["DC-BEI"] and beijing.runners_up == []
    policy_off = route(ctx(engine, tmp_path, ship_from_store=False))
    assert policy_off.chosen.nodes == ["DC-SHA"]


def test_an_order_no_node_holds_whole_is_split_and_pays_the_split_penalty(
    engine: Engine, tmp_path: Path
) -> None:
    seed_routing_pool(engine)
    decision = route(ctx(engine, tmp_path), lines=[{"sku": SKU, "qty": 25}])
    assert decision.routable
    assert len(decision.chosen.nodes) >= 2
    assert decision.chosen.parts.split_penalty > 0
    assert sum(p.lines[0].qty for p in decision.chosen.parcels) == 25


def test_not_enough_stock_anywhere_says_why(engine: Engine, tmp_path: Path) -> None:
    seed_routing_pool(engine)
    decision = route(ctx(engine, tmp_path), lines=[{"sku": SKU, "qty": 100}])
    assert not decision.routable and decision.chosen is None
    assert "100 × RB001-BLK-38 asked" in decision.reason


def test_bad_input_is_a_tool_error_or_a_validation_error(engine: Engine, tmp_path: Path) -> None:
    seed_routing_pool(engine)
    context = ctx(engine, tmp_path)
    with pytest.raises(ToolError, match="unknown city"):
        route(context, destination_city="Atlantis")
    with pytest.raises(ToolError, match="unknown SKU"):
        route(context, lines=[{"sku": "NOPE-1", "qty": 1}])
    with pytest.raises(ValueError, match="strategy"):
        route(context, strategy="cheapest")
    with pytest.raises(ValueError, match="qty"):
        route(context, lines=[{"sku": SKU, "qty": 0}])


def test_a_broken_routing_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text("split_penalty: -1\n")
    with pytest.raises(RoutingSettingsError, match="split_penalty"):
        load_routing_settings(path)
    assert load_routing_settings().stores.max_share_per_day == 0.10


def test_ship_nodes_lists_the_stores_that_may_ship_to_a_city(
    engine: Engine, tmp_path: Path
) -> None:
    seed_routing_pool(engine)
    answer = TOOLS["ship_nodes"].run(ctx(engine, tmp_path), {"city": "上海"})
    assert [node.node for node in answer.nodes] == ["SHA-A1", "SHA-A2"]
    assert answer.nodes[0].capacity_per_day == 40 and answer.nodes[0].lead_time_hours > 0


@pytest.mark.parametrize("kind", ["store", "any"])
def test_ship_nodes_never_lists_a_store_that_does_not_ship_online(
    engine: Engine, tmp_path: Path, kind: str
) -> None:
    """Stores only or all nodes, the answer agrees with routing and availability: a store
    entitled online but not flagged ship-from-store is left out (its DCs are not)."""
    seed_routing_pool(engine)
    location = Location.__table__.c
    with engine.begin() as conn:
        conn.execute(
            sa.update(Location.__table__)
            .where(location.code == "SHA-A2")
            .values(ship_from_store=False)
        )
    answer = TOOLS["ship_nodes"].run(ctx(engine, tmp_path), {"city": "Shanghai", "kind": kind})
    listed = {node.node for node in answer.nodes}
    assert "SHA-A1" in listed and "SHA-A2" not in listed
    if kind == "any":
        assert {"DC-SHA", "DC-BEI"} <= listed
    with Session(engine) as session:
        closed = stores_not_shipping_online(session, NOW, load_routing_settings())
    stores = {node.node for node in answer.nodes if node.kind == "store"}
    assert "SHA-A2" in closed and not stores & set(closed)
