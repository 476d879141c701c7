"""The TOOLS registry: what agents expose to LLMs."""

from __future__ import annotations

import datetime as dt
import importlib.util

import pytest
from sqlalchemy.engine import Engine

from inventory.db import session_scope
from tests.utils import factories
from tools.context import ToolContext
from tools.registry import TOOLS, LazyToolFn, get_tool
from tools.stock_lookup.models import StockLookupOutput
from tools.stock_lookup.tool import stock_lookup


def test_every_contract_tool_is_registered_as_read_only() -> None:
    contract = {"stock_lookup", "forecast_demand", "plan_transfers", "recommend_promos"}
    discovery = {"list_locations", "list_catalog"}
    routing = {"route_order", "ship_nodes", "explain_order"}
    assert set(TOOLS) == contract | discovery | routing
    for name, spec in TOOLS.items():
        assert spec.name == name and spec.kind == "read" and spec.description
        assert spec.input_model.model_json_schema()["type"] == "object"
        assert isinstance(spec.fn, LazyToolFn)
        package = "discover" if name in discovery else "route_order" if name in routing else name
        assert spec.fn.module == f"tools.{package}.tool" and spec.fn.function == name


def test_lazy_function_resolves_to_the_implementation() -> None:
    assert TOOLS["stock_lookup"].fn.resolve() is stock_lookup  # type: ignore[attr-defined]


def test_run_validates_arguments_and_calls_the_tool(sqlite_engine: Engine) -> None:
    with session_scope(sqlite_engine) as session:
        factories.add_location(session, "SHA-S01")
        skus = factories.add_skus(session, factories.add_style(session, "RB001"))
        factories.add_position(session, "SHA-S01", skus[0].code, on_hand=3)
    ctx = ToolContext(engine=sqlite_engine, now=dt.datetime(2015, 7, 1, 9))
    result = get_tool("stock_lookup").run(ctx, {"city": "Shanghai"})
    assert isinstance(result, StockLookupOutput) and result.totals.on_hand == 3


def test_unknown_tool_lists_known_ones() -> None:
    with pytest.raises(KeyError, match="known tools: stock_lookup"):
        get_tool("order_pizza")


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_registered_function_exists_where_the_tool_is_delivered(name: str) -> None:
    spec = TOOLS[name]
    assert isinstance(spec.fn, LazyToolFn)
    if importlib.util.find_spec(spec.fn.module) is None:
        pytest.skip(f"{spec.fn.module} is not written yet")
    assert callable(spec.fn.resolve())
