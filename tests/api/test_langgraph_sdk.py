"""The official langgraph-sdk client against our compatible surface, over real HTTP and SSE, on
SQLite and on PostgreSQL (one server per backend for the module, ``any_served``)."""

from __future__ import annotations

import httpx
import pytest
from langgraph_sdk import get_sync_client

from tests.api.conftest import KEYS, Served


@pytest.fixture
def live_url(any_served: Served) -> str:
    return any_served.url


def _client(url: str, key: str):
    return get_sync_client(url=url, api_key=key)


def _ai_texts(values: dict) -> list[str]:
    return [m["content"] for m in values["messages"] if m["type"] == "ai"]


def test_info_and_assistants(live_url: str) -> None:
    client = _client(live_url, KEYS["demo-viewer"])
    assistants = client.assistants.search()
    assert [a["assistant_id"] for a in assistants] == ["alert_response", "tiny"]
    assert client.assistants.get("tiny")["graph_id"] == "tiny"
    with pytest.raises(httpx.HTTPStatusError) as err:
        client.assistants.get("nope")
    assert err.value.response.status_code == 404


def test_stream_chat_run_events_in_order(live_url: str) -> None:
    client = _client(live_url, KEYS["demo-ops"])
    thread = client.threads.create(metadata={"user": "ops"})
    parts = list(
        client.runs.stream(
            thread["thread_id"],
            "tiny",
            input={"messages": [{"role": "user", "content": "hello"}]},
            stream_mode=["values", "updates", "messages-tuple"],
        )
    )
    events = [p.event for p in parts]
    assert events[0] == "metadata" and "run_id" in parts[0].data
    assert events[-1] == "end" and parts[-1].data["status"] == "success"
    assert {"values", "updates", "messages"} <= set(events)
    message, meta = next(p.data for p in parts if p.event == "messages")
    assert message["type"] == "ai" and message["content"] == "echo: hello"
    assert meta["langgraph_node"] == "plan"
    state = client.threads.get_state(thread["thread_id"])
    assert _ai_texts(state["values"]) == ["echo: hello"]
    assert client.threads.get(thread["thread_id"])["status"] == "idle"


@pytest.mark.parametrize(
    ("decision", "expected"),
    [
        ({"type": "approve"}, "approved by demo-approver"),
        ({"type": "reject", "message": "too many"}, "rejected by demo-approver: too many"),
    ],
)
def test_interrupt_then_resume(live_url: str, decision: dict, expected: str) -> None:
    ops = _client(live_url, KEYS["demo-ops"])
    approver = _client(live_url, KEYS["demo-approver"])
    thread_id = ops.threads.create()["thread_id"]
    parts = list(
        ops.runs.stream(
            thread_id,
            "tiny",
            input={"messages": [{"role": "user", "content": "move a large batch"}]},
            stream_mode="values",
        )
    )
    assert parts[-1].data["status"] == "interrupted"
    interrupt_values = [p.data["__interrupt__"] for p in parts if "__interrupt__" in (p.data or {})]
    request = interrupt_values[-1][0]["value"]
    assert request["action_requests"][0]["name"] == "transfer_order"
    assert request["review_configs"][0]["allowed_decisions"] == ["approve", "edit", "reject"]

    thread = ops.threads.get(thread_id)
    assert thread["status"] == "interrupted" and thread["interrupts"]
    state = ops.threads.get_state(thread_id)
    assert state["next"] == ["gate"] and state["interrupts"][0]["value"] == request

    # an ops key may chat but may not answer the approval
    with pytest.raises(httpx.HTTPStatusError) as err:
        ops.runs.wait(thread_id, "tiny", command={"resume": {"decisions": [decision]}})
    assert err.value.response.status_code == 403

    result = approver.runs.wait(thread_id, "tiny", command={"resume": {"decisions": [decision]}})
    assert _ai_texts(result)[-1] == expected
    assert "__interrupt__" not in result
    history = approver.threads.get_history(thread_id, limit=20)
    assert len(history) >= 4
    assert history[0]["next"] == [] and history[-1]["next"] == ["__start__"]
    assert approver.threads.get(thread_id)["status"] == "idle"


def test_stateless_wait_and_thread_search(live_url: str) -> None:
    client = _client(live_url, KEYS["demo-ops"])
    values = client.runs.wait(None, "tiny", input={"messages": [{"role": "user", "content": "hi"}]})
    assert _ai_texts(values) == ["echo: hi"]
    mine = client.threads.create(metadata={"tag": "mine"})
    found = client.threads.search(metadata={"tag": "mine"})
    assert [t["thread_id"] for t in found] == [mine["thread_id"]]


def test_sdk_errors_are_http_errors(live_url: str) -> None:
    viewer = _client(live_url, KEYS["demo-viewer"])
    with pytest.raises(httpx.HTTPStatusError) as err:
        viewer.threads.create()
    assert err.value.response.status_code == 403
    anonymous = get_sync_client(url=live_url, api_key=None)
    with pytest.raises(httpx.HTTPStatusError) as err:
        anonymous.assistants.search()
    assert err.value.response.status_code == 401
    ops = _client(live_url, KEYS["demo-ops"])
    with pytest.raises(httpx.HTTPStatusError) as err:
        ops.threads.get_state("no-such-thread")
    assert err.value.response.status_code == 404
