"""The service as ``stockpilot serve`` wires it: the agents' registry, the checkpointer beside the
pool, the offline planner — driven by langgraph-sdk over real HTTP on the small demo world, on
SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from langgraph_sdk import get_sync_client
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.app import create_app
from api.auth import seed_demo_keys
from inventory.config import Settings
from inventory.models import Approval, TransferOrder
from tests.api.conftest import KEYS, free_port
from tests.api.test_service_flows import ASK_ABOVE, FOUR_EYES_ABOVE, shipment_worth


@pytest.fixture
def service_url(any_world_engine: Engine, any_service_settings: Settings) -> Iterator[str]:
    """The service on the small world with the low-limits policy and the shared forecaster."""
    seed_demo_keys(any_world_engine)
    app = create_app(any_service_settings, engine=any_world_engine, run_worker=True)
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


def _ai_texts(values: dict) -> list[str]:
    return [m["content"] for m in values["messages"] if m["type"] == "ai" and m["content"]]


@pytest.mark.parametrize(
    ("decision", "order_status"),
    [({"type": "approve"}, "dispatched"), ({"type": "reject", "message": "no"}, "rejected")],
)
def test_sdk_flow_for_a_large_transfer_asked_in_chat(
    service_url: str, any_world_engine: Engine, decision: dict, order_status: str
) -> None:
    """ops asks in chat; the policy stops the transfer at an interrupt; an approver answers it."""
    sku, qty, _ = shipment_worth(any_world_engine, ASK_ABOVE, FOUR_EYES_ABOVE)
    ops = get_sync_client(url=service_url, api_key=KEYS["demo-ops"])
    approver = get_sync_client(url=service_url, api_key=KEYS["demo-approver"])
    thread_id = ops.threads.create()["thread_id"]
    ask = {
        "messages": [
            {"role": "user", "content": f"ship {qty} pairs of {sku} from DC-SHA to SHA-S01"}
        ]
    }
    parts = list(ops.runs.stream(thread_id, "ops_chat", input=ask, stream_mode="updates"))
    assert parts[0].event == "metadata" and parts[-1].event == "end"
    assert parts[-1].data["status"] == "interrupted", parts[-1].data

    state = ops.threads.get_state(thread_id)
    (interrupt,) = state["interrupts"]
    (request,) = interrupt["value"]["action_requests"]
    assert request["name"] == "transfer_order"
    assert request["args"]["lines"] == [{"sku": sku, "qty": qty}]
    order_id = request["args"]["subject_id"]
    with pytest.raises(httpx.HTTPStatusError) as refused:  # ops may ask, not approve
        ops.runs.wait(thread_id, "ops_chat", command={"resume": {"decisions": [decision]}})
    assert refused.value.response.status_code == 403

    result = approver.runs.wait(
        thread_id, "ops_chat", command={"resume": {"decisions": [decision]}}
    )
    assert "__interrupt__" not in result and _ai_texts(result)
    assert not approver.threads.get_state(thread_id)["interrupts"]
    assert approver.threads.get(thread_id)["status"] == "idle"
    history = approver.threads.get_history(thread_id, limit=50)
    assert history[0]["next"] == [] and any(h["interrupts"] for h in history)
    deadline = time.monotonic() + 30  # the service's dispatcher sends it, not the decision
    while True:
        with Session(any_world_engine) as session:
            order = session.get(TransferOrder, order_id)
            approval = session.get(Approval, f"AP-{order_id}")
        if order.status == order_status or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert order.status == order_status and order.requested_by == "demo-ops"
    assert approval.decided_by == "demo-approver"
