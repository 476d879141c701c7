"""/v1/runs/{id}/tool-calls shows what the adapter repaired: invalid calls and calls written as
text, next to the calls that ran (the real openai client against a respx-mocked provider)."""

from __future__ import annotations

import pytest
import respx
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from agents.graphs.ops_chat import build_ops_chat
from agents.llm.openai_adapter import OpenAIChatModel
from agents.persistence import open_checkpointer
from agents.policy import load_policy
from agents.runtime import AgentRuntime, world_clock
from api.app import create_app
from api.auth import seed_demo_keys
from api.langgraph_compat.catalog import AssistantSpec, StaticCatalog
from connectors.base import ConnectorSet
from inventory.config import Settings
from tests.agents.helpers import chat
from tests.agents.provider import BASE, URL, completion, ok
from tests.api.conftest import KEYS


@pytest.fixture
def connectors():
    with ConnectorSet.simulated() as connector_set:
        yield connector_set


@respx.mock
def test_invalid_and_text_tool_calls_are_listed_with_the_run(
    any_world_engine: Engine, api_settings: Settings, connectors: ConnectorSet
) -> None:
    respx.post(URL).mock(
        side_effect=[
            ok(completion(calls=[("bad", "stock_lookup", '{"city": "Shang')])),
            ok(completion('<tool_call>{"name": "stock_lookup", "arguments": {"city": "上海"}}')),
            ok(completion("上海有货。")),
        ]
    )
    world_engine = any_world_engine  # the small world on SQLite or PostgreSQL
    url = world_engine.url.render_as_string(hide_password=False)
    settings = api_settings.model_copy(update={"database_url": url})
    runtime = AgentRuntime(
        engine=world_engine,
        settings=settings,
        llm=OpenAIChatModel(base_url=BASE, model="small", sleep=lambda _s: None),
        connectors=connectors,
        clock=world_clock(world_engine),
        policy=load_policy(),
    )
    seed_demo_keys(world_engine)
    with open_checkpointer(settings) as saver:
        graph = build_ops_chat(runtime, saver)
        catalog = StaticCatalog({"ops_chat": (AssistantSpec("ops_chat", "ops_chat"), graph)})
        result = chat(runtime, graph, "t-1", "上海有多少库存?")
        with TestClient(create_app(settings, engine=world_engine, catalog=catalog)) as client:
            calls = client.get(
                f"/v1/runs/{result.run_id}/tool-calls",
                headers={"x-api-key": KEYS["demo-viewer"]},
            ).json()
    invalid, ran = calls[0], calls[1]
    assert invalid["status"] == "invalid" and invalid["id"] == "bad"
    assert "not valid JSON" in invalid["error"] and invalid["args"] == {"raw": '{"city": "Shang'}
    assert ran["status"] == "ok" and ran["args"] == {"city": "上海"}
    assert any(r.startswith("text_tool_call") for r in ran["repairs"])
    assert '"resolved_names"' in ran["result"]
    # "上海有货。" states none of the lookup's figures: replaced, and the run's record says why
    [reply] = [c for c in calls if c["name"] == "(model reply)"]
    assert any(
        r.startswith("ungrounded_answer: it states none of the figures") for r in reply["repairs"]
    )
