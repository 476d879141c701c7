"""The MCP server with the official ``mcp`` client: in-process (list and call every tool), over
Streamable HTTP at ``/mcp`` with the API keys, and over stdio as ``stockpilot mcp``; every tool
reads the pool, so all of it runs on the small world on SQLite and on PostgreSQL (one read-only
copy per backend for the module, ``any_module_world``)."""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import httpx2
import pytest
import uvicorn
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from sqlalchemy.engine import Engine

from api.app import create_app
from api.auth import KeyStore
from api.mcp_tools import TOOL_ROLES, build_mcp_server, current_principal
from inventory.config import Settings
from tests.api.conftest import KEYS, free_port, tiny_catalog
from tools.context import ToolContext

CALLS = {
    "stock_lookup": {"city": "Shanghai", "category": "rain_boots", "limit": 5},
    "forecast_demand": {"city": "Shanghai", "category": "rain_boots", "horizon_days": 3},
    "plan_transfers": {"city": "Shanghai", "categories": ["rain_boots"], "window_days": 3},
    "recommend_promos": {"city": "Shanghai"},
    "route_order": {"lines": [{"sku": "RB001-BLK-38", "qty": 1}], "destination_city": "上海"},
    "ship_nodes": {"city": "Shanghai"},
}

#: Plain HTTP calls; generous timeouts: the shared test machine can be slow.
HTTP = httpx.Client(timeout=60)


@pytest.fixture
def world_engine(any_module_world: Engine) -> Engine:
    return any_module_world


@pytest.fixture
def service_settings(any_module_world_settings: Settings) -> Settings:
    return any_module_world_settings


@pytest.fixture
def keyed(world_engine: Engine) -> KeyStore:
    return KeyStore(world_engine)  # the demo keys are in (any_module_world)


def _call_all(server, principal) -> dict:
    async def main() -> dict:
        current_principal.set(principal)
        async with Client(server) as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            results = {name: await client.call_tool(name, args) for name, args in CALLS.items()}
        return {"tools": tools, "results": results}

    return anyio.run(main)


def test_every_read_tool_is_typed_and_answers(
    world_engine: Engine, service_settings: Settings, keyed: KeyStore
) -> None:
    server = build_mcp_server(lambda: ToolContext.for_world(world_engine, service_settings))
    out = _call_all(server, keyed.resolve(KEYS["demo-ops"]))
    assert set(out["tools"]) == set(TOOL_ROLES) == set(CALLS)
    for name, tool in out["tools"].items():
        assert tool.input_schema["type"] == "object" and tool.output_schema, name
        result = out["results"][name]
        assert not result.is_error, (name, result.content)
        assert set(result.structured_content) >= set(tool.output_schema["required"]), name
    stock = out["results"]["stock_lookup"].structured_content
    assert stock["totals"]["atp"] >= 0 and len(stock["positions"]) <= 5
    assert out["results"]["forecast_demand"].structured_content["horizon_days"] == 3
    assert "shipments" in out["results"]["plan_transfers"].structured_content


def test_roles_and_bad_input_are_tool_errors(
    world_engine: Engine, service_settings: Settings, keyed: KeyStore
) -> None:
    server = build_mcp_server(lambda: ToolContext.for_world(world_engine, service_settings))

    async def main() -> tuple:
        current_principal.set(keyed.resolve(KEYS["demo-viewer"]))
        async with Client(server) as client:
            refused = await client.call_tool("plan_transfers", CALLS["plan_transfers"])
            allowed = await client.call_tool("stock_lookup", {"sku": "RB001-BLK-38"})
            bad = await client.call_tool("stock_lookup", {"city": "Atlantis"})
        return refused, allowed, bad

    refused, allowed, bad = anyio.run(main)
    assert refused.is_error and "needs one of: ops" in refused.content[0].text
    assert not allowed.is_error
    assert bad.is_error and "Atlantis" in bad.content[0].text


@pytest.fixture
def mcp_url(world_engine: Engine, service_settings: Settings, keyed: KeyStore) -> Iterator[str]:
    app = create_app(service_settings, engine=world_engine, catalog=tiny_catalog(world_engine))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the service did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/mcp"
    server.should_exit = True
    thread.join(timeout=10)


def test_streamable_http_with_the_service_keys(mcp_url: str) -> None:
    async def main(key: str) -> tuple:
        async with (
            httpx2.AsyncClient(headers={"x-api-key": key}, timeout=60) as http,
            Client(streamable_http_client(mcp_url, http_client=http)) as client,
        ):
            names = sorted(tool.name for tool in (await client.list_tools()).tools)
            stock = await client.call_tool("stock_lookup", CALLS["stock_lookup"])
            plan = await client.call_tool("plan_transfers", {"styles": ["NO-SUCH-STYLE"]})
        return names, stock, plan

    names, stock, plan = anyio.run(main, KEYS["demo-viewer"])
    assert names == sorted(TOOL_ROLES)
    assert not stock.is_error and stock.structured_content["totals"]["atp"] >= 0
    assert plan.is_error and "needs one of: ops" in plan.content[0].text  # a viewer
    assert HTTP.post(mcp_url, json={}).status_code == 401
    assert HTTP.post(mcp_url, json={}, headers={"x-api-key": "nope"}).status_code == 401


def test_stdio_command(world_engine: Engine, keyed: KeyStore, tmp_path: Path) -> None:
    command = shutil.which("stockpilot", path=str(Path(sys.executable).parent))
    assert command is not None
    params = StdioServerParameters(
        command=command,
        args=["mcp", "--db", world_engine.url.render_as_string(hide_password=False)],
        env={"STOCKPILOT_API_KEY": KEYS["demo-viewer"], "STOCKPILOT_DATA_DIR": str(tmp_path)},
    )

    async def main():
        async with Client(params) as client:
            return await client.call_tool("stock_lookup", {"sku": "RB001-BLK-38"})

    result = anyio.run(main)
    assert not result.is_error and result.structured_content["totals"]["atp"] >= 0
