"""A client streaming ``messages-tuple`` sees the model's reply grow token by token, then the
checked message under the same id (as agent-chat-ui merges them); tool calls written as text
never show as raw markup; runs nobody streams make plain requests (the real openai client
against a respx-mocked provider, through the LangGraph-compatible API, on SQLite and
PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
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
from api.langgraph_compat.catalog import AssistantSpec, StaticCatalog
from connectors.base import ConnectorSet
from inventory.config import Settings
from tests.agents.provider import BASE, URL, completion, ok, streamed
from tests.api.conftest import KEYS

OPS = {"x-api-key": KEYS["demo-ops"]}


@pytest.fixture(scope="module")
def client(
    any_module_world: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """The real ops_chat graph over the small world, once on SQLite and once on PostgreSQL,
    its checkpoints where ``stockpilot serve`` keeps them for that pool; each test streams on a
    thread of its own."""
    settings = Settings(
        database_url=any_module_world.url.render_as_string(hide_password=False),
        data_dir=tmp_path_factory.mktemp("token-streaming"),
    )
    with ConnectorSet.simulated() as connectors, open_checkpointer(settings) as saver:
        runtime = AgentRuntime(
            engine=any_module_world,
            settings=settings,
            llm=OpenAIChatModel(base_url=BASE, model="small", sleep=lambda _s: None),
            connectors=connectors,
            clock=world_clock(any_module_world),
            policy=load_policy(),
        )
        graph = build_ops_chat(runtime, saver)
        catalog = StaticCatalog({"ops_chat": (AssistantSpec("ops_chat", "ops_chat"), graph)})
        app = create_app(settings, engine=any_module_world, catalog=catalog)
        with TestClient(app) as test:
            yield test


def run(client: TestClient, text: str, modes: list[str]) -> list[tuple[str, Any]]:
    thread = client.post("/threads", json={}, headers=OPS).json()["thread_id"]
    body = {
        "assistant_id": "ops_chat",
        "input": {"messages": [{"type": "human", "content": text}]},
        "stream_mode": modes,
    }
    with client.stream("POST", f"/threads/{thread}/runs/stream", json=body, headers=OPS) as sse:
        assert sse.status_code == 200
        raw = sse.read().decode()
    events, name = [], None
    for line in raw.splitlines():
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and name:
            events.append((name, json.loads(line.split(":", 1)[1])))
    return events


def chunks_and_finals(events: list[tuple[str, Any]]) -> tuple[list[dict], list[dict]]:
    messages = [data[0] for name, data in events if name == "messages"]
    chunks = [m for m in messages if m["type"] == "AIMessageChunk"]
    finals = [m for m in messages if m["type"] == "ai"]
    return chunks, finals


@respx.mock
def test_tokens_stream_then_the_checked_message_replaces_them(client: TestClient) -> None:
    route = respx.post(URL).mock(side_effect=[streamed(["上海", "门店", "有货。"])])
    events = run(client, "上海门店有货吗?", ["messages-tuple", "values"])
    chunks, finals = chunks_and_finals(events)
    assert [c["content"] for c in chunks] == ["上海", "门店", "有货。"]
    assert finals[-1]["content"] == "上海门店有货。"
    assert {c["id"] for c in chunks} == {finals[-1]["id"]}
    sent = json.loads(route.calls[0].request.content)
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    final_state = [data for name, data in events if name == "values"][-1]
    assert final_state["messages"][-1]["id"] == finals[-1]["id"]


@respx.mock
def test_streamed_tool_calls_run_and_text_calls_never_show_raw(client: TestClient) -> None:
    text_call = '<tool_call>{"name": "stock_lookup", "arguments": {"city": "上海"}}</tool_call>'
    respx.post(URL).mock(
        side_effect=[
            streamed(calls=[("c1", "stock_lookup", ['{"city"', ': "Shanghai"}'])]),
            streamed([text_call[:12], text_call[12:]]),
            streamed(["Shanghai ", "has stock."]),
        ]
    )
    chunks, finals = chunks_and_finals(run(client, "Stock in Shanghai?", ["messages-tuple"]))
    assert all("<tool_call" not in c["content"] for c in chunks)
    assert "".join(c["content"] for c in chunks) == "Shanghai has stock."
    assert any(f.get("tool_calls") for f in finals), "the streamed call ran as a tool call"
    # States none of the lookup's figures: the answer from the result replaces what streamed,
    # under the same id (agent-chat-ui swaps the chunks for it).
    streamed_ids = {c["id"] for c in chunks if c["content"]}
    assert finals[-1]["content"].startswith("The model's answer was replaced because it states")
    assert "available to promise" in finals[-1]["content"]
    assert streamed_ids == {finals[-1]["id"]}


@respx.mock
def test_a_server_that_refuses_streaming_is_asked_plainly(client: TestClient) -> None:
    refused = {"error": {"message": "stream not supported", "type": "invalid_request_error"}}
    route = respx.post(URL).mock(
        side_effect=[httpx.Response(400, json=refused), ok(completion("Shanghai has stock."))]
    )
    chunks, finals = chunks_and_finals(run(client, "Stock in Shanghai?", ["messages-tuple"]))
    assert chunks == [] and finals[-1]["content"] == "Shanghai has stock."
    assert "stream" in json.loads(route.calls[0].request.content)
    assert "stream" not in json.loads(route.calls[1].request.content)


@respx.mock
def test_runs_nobody_streams_make_plain_requests(client: TestClient) -> None:
    route = respx.post(URL).mock(side_effect=[ok(completion("Shanghai has stock."))])
    events = run(client, "Stock in Shanghai?", ["values"])
    assert all(name != "messages" for name, _ in events)
    assert "stream" not in json.loads(route.calls[0].request.content)
    values = [data for name, data in events if name == "values"]
    assert values[-1]["messages"][-1]["content"] == "Shanghai has stock."
