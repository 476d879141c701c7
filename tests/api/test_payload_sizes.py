"""What agent-chat-ui downloads for a stock answer, a transfer plan and its thread list, on the
small demo world through the real assistants: summaries, not whole position tables."""

from __future__ import annotations

import json

import httpx
import pytest

from api.langgraph_compat.lean import SUMMARY_CHARS, lean_event
from tests.api.conftest import KEYS
from tests.api.test_real_assistants import service_url  # noqa: F401  (fixture)

#: Plain HTTP calls; generous timeouts: the shared test machine can be slow.
HTTP = httpx.Client(timeout=120)
UI_MODES = ["values", "messages-tuple", "custom"]
STOCK = "How many rain boots are in Shanghai?"
PLAN = "plan transfers for 60 mm of rain in Shanghai over 2 days"


def _stream_bytes(url: str, thread_id: str, question: str) -> tuple[int, list[str]]:
    """Bytes of the SSE stream exactly as the browser receives them, and its event names."""
    body = {
        "assistant_id": "ops_chat",
        "input": {"messages": [{"role": "user", "content": question}]},
        "stream_mode": UI_MODES,
        "stream_subgraphs": True,
        "stream_resumable": True,
    }
    headers = {"x-api-key": KEYS["demo-ops"]}
    with httpx.stream(
        "POST", f"{url}/threads/{thread_id}/runs/stream", json=body, headers=headers, timeout=300
    ) as response:
        raw = b"".join(response.iter_bytes())
    events = [line[7:] for line in raw.decode().splitlines() if line.startswith("event: ")]
    return len(raw), events


@pytest.mark.slow
def test_ui_payloads_stay_lean(service_url: str, capsys) -> None:  # noqa: F811
    headers = {"x-api-key": KEYS["demo-ops"]}
    sizes: dict[str, int] = {}
    threads = []
    for name, question in (("stock", STOCK), ("plan", PLAN)):
        thread_id = HTTP.post(f"{service_url}/threads", json={}, headers=headers).json()[
            "thread_id"
        ]
        threads.append(thread_id)
        sizes[f"{name}_stream"], events = _stream_bytes(service_url, thread_id, question)
        assert events[0] == "metadata" and events[-1] == "end" and "error" not in events
    search = HTTP.post(
        f"{service_url}/threads/search",
        json={"metadata": {"graph_id": "ops_chat"}, "limit": 100},
        headers=headers,
    )
    found = search.json()
    assert {t["thread_id"] for t in found} == set(threads)
    sizes["threads_search"] = len(search.content)
    state = HTTP.get(f"{service_url}/threads/{threads[1]}/state", headers=headers)
    sizes["plan_state"] = len(state.content)
    with capsys.disabled():
        print("\npayload bytes:", json.dumps(sizes))
    assert sizes["stock_stream"] < 40_000
    assert sizes["plan_stream"] < 120_000
    assert sizes["threads_search"] < 4_000


def test_a_large_tool_result_is_summarised_as_valid_json() -> None:
    positions = [{"location": f"S{i:03}", "sku": "RB001-BLK-38", "atp": i} for i in range(2000)]
    result = {"totals": {"atp": sum(range(2000))}, "positions": positions}
    tool = {"type": "tool", "name": "stock_lookup", "content": json.dumps(result)}
    call = {"name": "propose_transfer", "args": {"shipments": positions}, "id": "c1"}
    ai = {"type": "ai", "content": "", "tool_calls": [call]}
    human = {"type": "human", "content": "how many?"}
    values = {
        "messages": [human, ai, tool],
        "proposals": [{"subject_id": "TO-1", "action": result}],
    }
    lean = lean_event("values", values)
    shown = json.loads(lean["messages"][2]["content"])
    assert len(lean["messages"][2]["content"]) <= SUMMARY_CHARS * 1.2
    assert shown["totals"] == result["totals"]  # exact: computed over every match
    assert shown["positions"] == positions[: len(shown["positions"])]  # rows as the tool wrote
    assert shown["positions_page"]["shown"] == f"1-{len(shown['positions'])} of 2000"
    assert len(json.dumps(lean["messages"][1]["tool_calls"][0]["args"])) <= SUMMARY_CHARS * 1.2
    assert lean["messages"][0] == human and lean["proposals"] == [{"subject_id": "TO-1"}]
    (message, meta) = lean_event("messages", [tool, {"langgraph_node": "tools"}])
    assert (
        message["content"] == lean["messages"][2]["content"] and meta["langgraph_node"] == "tools"
    )
    assert values["messages"][2]["content"] == json.dumps(result)  # the state itself is untouched
