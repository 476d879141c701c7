"""The service as ``stockpilot serve`` wires it: the agents' registry, the checkpointer beside the
pool, the offline planner — driven by langgraph-sdk over real HTTP on the small demo world."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from langgraph_sdk import get_sync_client
from sqlalchemy.engine import Engine

from api.app import create_app
from api.auth import seed_demo_keys
from inventory.config import Settings
from tests.api.conftest import KEYS, free_port


@pytest.fixture
def service_url(world_engine: Engine, tmp_path) -> Iterator[str]:
    seed_demo_keys(world_engine)
    settings = Settings(database_url=str(world_engine.url), data_dir=tmp_path)
    app = create_app(settings, engine=world_engine, run_worker=True)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline, "the service did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


def test_ops_chat_answers_a_stock_question(service_url: str) -> None:
    client = get_sync_client(url=service_url, api_key=KEYS["demo-ops"])
    assert {a["assistant_id"] for a in client.assistants.search()} == {"ops_chat", "alert_response"}
    thread_id = client.threads.create()["thread_id"]
    ask = {"messages": [{"role": "user", "content": "How many rain boots are in Shanghai?"}]}
    parts = list(
        client.runs.stream(thread_id, "ops_chat", input=ask, stream_mode=["updates", "values"])
    )
    assert parts[0].event == "metadata" and parts[-1].event == "end"
    assert parts[-1].data["status"] == "success", parts[-1].data
    tool_calls = [
        call["name"]
        for p in parts
        if p.event == "values"
        for m in p.data["messages"]
        for call in m.get("tool_calls") or []
    ]
    assert "stock_lookup" in tool_calls
    state = client.threads.get_state(thread_id)
    assert state["values"]["messages"][-1]["type"] == "ai"
    assert client.threads.get_history(thread_id, limit=50)
