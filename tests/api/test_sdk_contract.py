"""The Agent Server contract as the official ``langgraph-sdk`` client uses it, one behaviour per
test, over real HTTP and SSE against the served app (tiny graphs; ``slow`` runs tick for ~3 s),
on SQLite and on PostgreSQL: runs, their events and leases live in the pool, checkpoints in that
database's checkpointer. One server per backend serves the whole module (``any_served``).

A test that needs a slow run in flight while it acts (is refused behind it, listens to it,
reconnects to it) releases the run once that is done (``release_slow_runs``) rather than
waiting out the rest of its ticks: ~3 s of idle wall time per test and backend.

What we serve and what we refuse is listed in docs/api.md; each refusal here is a clear 4xx.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.schema import StreamPart

from tests.api.conftest import KEYS, Served
from tests.api.tiny_graph import SLOW_TICKS, hold_slow_runs, release_slow_runs

ASK = {"messages": [{"role": "user", "content": "hello"}]}
SLOW = {"messages": [{"role": "user", "content": "slow please"}]}
LARGE = {"messages": [{"role": "user", "content": "move a large batch"}]}

#: Plain HTTP calls; generous timeouts: the shared test machine can be slow.
HTTP = httpx.Client(timeout=60)


@pytest.fixture
def live_url(any_served: Served) -> Iterator[str]:
    """The module's server; each test starts with slow runs held (ticking ``TICK_S`` apart)."""
    hold_slow_runs()
    yield any_served.url
    hold_slow_runs()


def _ops(url: str):
    return get_sync_client(url=url, api_key=KEYS["demo-ops"])


def _status_code(call) -> int:
    with pytest.raises(httpx.HTTPStatusError) as err:
        call()
    return err.value.response.status_code


def _error(call) -> dict:
    with pytest.raises(httpx.HTTPStatusError) as err:
        call()
    return err.value.response.json()["error"]


def _wait_until(predicate, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


# -- stream modes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "event"),
    [
        ("values", "values"),
        ("updates", "updates"),
        ("messages-tuple", "messages"),
        ("custom", "custom"),
        ("debug", "debug"),
        ("checkpoints", "checkpoints"),
        ("tasks", "tasks"),
    ],
)
def test_served_stream_modes_stream_their_events(live_url: str, mode: str, event: str) -> None:
    client = _ops(live_url)
    thread_id = client.threads.create()["thread_id"]
    parts = list(client.runs.stream(thread_id, "tiny", input=ASK, stream_mode=mode))
    assert parts[0].event == "metadata" and parts[-1].event == "end"
    assert parts[-1].data["status"] == "success"
    assert event in {p.event for p in parts}
    if mode == "custom":
        assert {"progress": "planning", "chars": 5} in [p.data for p in parts if p.event == event]


@pytest.mark.parametrize("mode", ["messages", "events", "tools", "lifecycle"])
def test_modes_with_nothing_to_stream_stream_nothing(live_url: str, mode: str) -> None:
    client = _ops(live_url)
    thread_id = client.threads.create()["thread_id"]
    parts = list(client.runs.stream(thread_id, "tiny", input=ASK, stream_mode=mode))
    assert [p.event for p in parts] == ["metadata", "end"]
    assert parts[-1].data["status"] == "success"
    assert client.threads.get_state(thread_id)["values"]["messages"][-1]["content"] == "echo: hello"


def test_agent_chat_ui_stream_request(live_url: str) -> None:
    """What agent-chat-ui sends on every submit: three modes, subgraphs, resumable."""
    client = _ops(live_url)
    thread_id = client.threads.create()["thread_id"]
    parts = list(
        client.runs.stream(
            thread_id,
            "tiny",
            input=ASK,
            stream_mode=["values", "messages-tuple", "custom"],
            stream_subgraphs=True,
            stream_resumable=True,
        )
    )
    assert {"metadata", "values", "messages", "custom", "end"} <= {p.event for p in parts}
    assert [int(p.id) for p in parts] == list(range(len(parts)))  # ids to resume from


# -- background runs, join, reconnect, cancel ---------------------------------------------------


def test_background_run_and_join(live_url: str) -> None:
    client = _ops(live_url)
    thread_id = client.threads.create()["thread_id"]
    run = client.runs.create(thread_id, "tiny", input=SLOW)
    assert run["status"] in ("pending", "running") and run["thread_id"] == thread_id
    values = client.runs.join(thread_id, run["run_id"])
    assert (
        values["ticks"] == SLOW_TICKS and values["messages"][-1]["content"] == "echo: slow please"
    )
    assert client.runs.get(thread_id, run["run_id"])["status"] == "success"
    assert [r["run_id"] for r in client.runs.list(thread_id)] == [run["run_id"]]


def test_reconnect_with_last_event_id_replays_what_was_missed(live_url: str) -> None:
    client = _ops(live_url)
    thread_id = client.threads.create()["thread_id"]
    first: list[StreamPart] = []
    for part in client.runs.stream(
        thread_id, "tiny", input=SLOW, stream_mode="updates", stream_resumable=True
    ):
        first.append(part)
        if len(first) == 3:  # the listener drops mid-run
            break
    run_id = first[0].data["run_id"]
    rest: list[StreamPart] = []
    for part in client.runs.join_stream(thread_id, run_id, last_event_id=first[-1].id):
        if not rest:  # reconnected mid-run (slow runs are held): let it finish now
            release_slow_runs()
        rest.append(part)
    assert int(rest[0].id) == int(first[-1].id) + 1 and rest[-1].event == "end"
    assert rest[-1].data["status"] == "success"
    ticks = [p for p in first + rest if p.event == "updates" and "tick" in p.data]
    assert len(ticks) == SLOW_TICKS  # nothing lost, nothing twice
    everything = list(client.runs.join_stream(thread_id, run_id))
    assert [p.id for p in everything] == [p.id for p in first + rest]
    from_start = list(client.runs.join_stream(thread_id, run_id, last_event_id="-1"))  # JS SDK
    assert [p.id for p in from_start] == [p.id for p in everything]


def test_cancel_stops_the_run_and_frees_the_thread(live_url: str) -> None:
    client = _ops(live_url)
    thread_id = client.threads.create()["thread_id"]
    run = client.runs.create(thread_id, "tiny", input=SLOW)
    time.sleep(0.5)
    client.runs.cancel(thread_id, run["run_id"], wait=True)
    assert client.runs.get(thread_id, run["run_id"])["status"] == "error"
    assert client.threads.get_state(thread_id)["values"].get("ticks", 0) < SLOW_TICKS
    assert client.threads.get(thread_id)["status"] != "busy"
    error = _error(lambda: client.runs.cancel(thread_id, run["run_id"], action="rollback"))
    assert error["status"] == 422 and "rollback" in error["message"]


# -- multitask strategies ----------------------------------------------------------------------


def _start_slow(client, thread_id: str) -> str:
    run = client.runs.create(thread_id, "tiny", input=SLOW)
    _wait_until(lambda: client.threads.get(thread_id)["status"] == "busy")
    return run["run_id"]


def test_multitask_reject_is_409_and_rollback_is_refused(live_url: str) -> None:
    client = _ops(live_url)
    thread_id = client.threads.create()["thread_id"]
    first = _start_slow(client, thread_id)
    for strategy in (None, "reject"):
        error = _error(
            lambda s=strategy: client.runs.wait(thread_id, "tiny", input=ASK, multitask_strategy=s)
        )
        assert error["status"] == 409 and "busy" in error["message"]
    error = _error(
        lambda: client.runs.wait(thread_id, "tiny", input=ASK, multitask_strategy="rollback")
    )
    assert error["status"] == 422 and error["field"] == "body.multitask_strategy"
    release_slow_runs()  # refused while the first run was held in flight; let it end
    client.runs.join(thread_id, first)


def test_multitask_enqueue_runs_after_the_current_run(live_url: str) -> None:
    client = _ops(live_url)
    thread_id = client.threads.create()["thread_id"]
    first = _start_slow(client, thread_id)
    values = client.runs.wait(thread_id, "tiny", input=ASK, multitask_strategy="enqueue")
    assert client.runs.get(thread_id, first)["status"] == "success"
    texts = [m["content"] for m in values["messages"] if m["type"] == "ai"]
    assert texts == ["echo: slow please", "echo: hello"] and values["ticks"] == SLOW_TICKS


def test_multitask_interrupt_cancels_the_current_run(live_url: str) -> None:
    client = _ops(live_url)
    thread_id = client.threads.create()["thread_id"]
    first = _start_slow(client, thread_id)
    values = client.runs.wait(thread_id, "tiny", input=ASK, multitask_strategy="interrupt")
    assert client.runs.get(thread_id, first)["status"] == "error"
    assert values["messages"][-1]["content"] == "echo: hello"
    assert values.get("ticks", 0) < SLOW_TICKS  # none yet if it was cut before its first


# -- threads -----------------------------------------------------------------------------------


def test_thread_search_finds_ui_threads_by_graph_id_and_is_lean(live_url: str) -> None:
    client = _ops(live_url)
    thread_id = client.threads.create()["thread_id"]  # as agent-chat-ui does: no metadata
    client.runs.wait(thread_id, "tiny", input=ASK)
    client.runs.wait(thread_id, "tiny", input={"messages": [{"role": "user", "content": "more"}]})
    stored = client.threads.get(thread_id)["metadata"]
    assert stored["graph_id"] == "tiny" and stored["assistant_id"] == "tiny"
    tiny_threads = client.threads.search(metadata={"graph_id": "tiny"}, limit=1000)
    assert all(t["metadata"]["graph_id"] == "tiny" for t in tiny_threads)  # a shared server
    (found,) = [t for t in tiny_threads if t["thread_id"] == thread_id]
    assert [m["content"] for m in found["values"]["messages"]] == ["hello"]  # the title only
    assert client.threads.search(metadata={"graph_id": "alert_response"}) == []
    (picked,) = client.threads.search(ids=[thread_id], select=["thread_id", "status"])
    assert picked == {"thread_id": thread_id, "status": "idle"}
    (whole,) = client.threads.search(ids=[thread_id], select=["values"])
    assert len(whole["values"]["messages"]) == 4
    waiting = client.threads.create()["thread_id"]
    client.runs.wait(waiting, "tiny", input=LARGE)
    (listed,) = client.threads.search(ids=[waiting])
    (ids,) = listed["interrupts"].values()
    assert listed["status"] == "interrupted" and ids == [{"id": ids[0]["id"]}]
    (full,) = client.threads.search(ids=[waiting], select=["interrupts"])
    assert next(iter(full["interrupts"].values()))[0]["value"]["action_requests"]


def test_thread_update_copy_and_delete(live_url: str) -> None:
    client = _ops(live_url)
    thread_id = client.threads.create(metadata={"owner": "me", "tmp": 1})["thread_id"]
    client.runs.wait(thread_id, "tiny", input=ASK)
    updated = client.threads.update(thread_id, metadata={"title": "boots", "tmp": None})
    assert updated["metadata"]["title"] == "boots" and "tmp" not in updated["metadata"]
    copy = client.threads.copy(thread_id)
    assert copy["thread_id"] != thread_id and copy["metadata"]["title"] == "boots"
    assert (
        client.threads.get_state(copy["thread_id"])["values"]
        == (client.threads.get_state(thread_id)["values"])
    )
    again = client.runs.wait(copy["thread_id"], "tiny", input=ASK)  # the copy runs on its own
    assert len(again["messages"]) == 4
    assert len(client.threads.get_state(thread_id)["values"]["messages"]) == 2
    client.threads.delete(thread_id)
    assert _status_code(lambda: client.threads.get(thread_id)) == 404
    assert client.threads.get(copy["thread_id"])["status"] == "idle"


def test_a_thread_waiting_for_approval_is_not_deleted_or_copied(live_url: str) -> None:
    client = _ops(live_url)
    thread_id = client.threads.create()["thread_id"]
    client.runs.wait(thread_id, "tiny", input=LARGE)
    assert client.threads.get(thread_id)["status"] == "interrupted"
    for call in (client.threads.delete, client.threads.copy):
        error = _error(lambda c=call: c(thread_id))
        assert error["status"] == 409 and "approval" in error["message"]


def test_viewer_may_not_change_threads(live_url: str) -> None:
    ops = _ops(live_url)
    thread_id = ops.threads.create()["thread_id"]
    viewer = get_sync_client(url=live_url, api_key=KEYS["demo-viewer"])
    assert _status_code(lambda: viewer.threads.update(thread_id, metadata={"x": 1})) == 403
    assert _status_code(lambda: viewer.threads.delete(thread_id)) == 403
    assert _status_code(lambda: viewer.runs.create(thread_id, "tiny", input=ASK)) == 403


# -- the server itself ---------------------------------------------------------------------------


def test_ok_needs_no_key(live_url: str) -> None:
    assert HTTP.get(f"{live_url}/ok").json() == {"ok": True}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/info"),
        ("POST", "/threads/search"),
        ("POST", "/threads"),
        ("POST", "/threads/some-id/runs/stream"),
        ("GET", "/threads/some-id/history"),
        ("POST", "/v1/transfer-plans"),
    ],
)
def test_cors_preflight_on_every_route(live_url: str, method: str, path: str) -> None:
    asked = {
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "content-type,x-api-key",
    }
    allowed = HTTP.options(live_url + path, headers={"Origin": "http://localhost:3000", **asked})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "x-api-key" in allowed.headers["access-control-allow-headers"].lower()
    foreign = HTTP.options(live_url + path, headers={"Origin": "https://evil.example", **asked})
    assert "access-control-allow-origin" not in foreign.headers


def test_cors_headers_on_answers_and_errors(live_url: str) -> None:
    origin = {"Origin": "http://127.0.0.1:5173"}
    answer = HTTP.get(f"{live_url}/info", headers={**origin, "x-api-key": KEYS["demo-viewer"]})
    assert answer.headers["access-control-allow-origin"] == origin["Origin"]
    refused = HTTP.post(f"{live_url}/threads/search", json={}, headers=origin)
    assert refused.status_code == 401  # the page can read why
    assert refused.headers["access-control-allow-origin"] == origin["Origin"]
    assert "content-location" in answer.headers["access-control-expose-headers"].lower()


def test_concurrent_listeners_see_the_same_run(live_url: str) -> None:
    """Two listeners of one run (a second tab joining) get the same events."""
    client = _ops(live_url)
    thread_id = client.threads.create()["thread_id"]
    run = client.runs.create(thread_id, "tiny", input=SLOW, stream_mode="updates")
    seen: dict[int, list[str | None]] = {}
    attached = [threading.Event() for _ in range(2)]

    def listen(index: int) -> None:
        ids: list[str | None] = []
        for part in _ops(live_url).runs.join_stream(thread_id, run["run_id"]):
            ids.append(part.id)
            attached[index].set()
        seen[index] = ids

    listeners = [threading.Thread(target=listen, args=(i,)) for i in range(2)]
    for listener in listeners:
        listener.start()
    # Both listen to the run while it is held in flight; then let it end.
    for event in attached:
        event.wait(timeout=30)
    release_slow_runs()
    for listener in listeners:
        listener.join(timeout=30)
    assert seen[0] == seen[1] and len(seen[0]) == SLOW_TICKS + 4  # metadata, plan, gate, end


# -- checkpoints in the run body (agent-chat-ui: the head with each message; edit / regenerate) ---


def test_checkpoint_in_the_run_body_forks_from_it(live_url: str) -> None:
    client = _ops(live_url)
    thread_id = client.threads.create()["thread_id"]
    client.runs.wait(thread_id, "tiny", input=ASK)
    after_first = client.threads.get_state(thread_id)["checkpoint"]
    more = {"messages": [{"role": "user", "content": "more"}]}
    head = client.threads.get_state(thread_id)["checkpoint"]
    values = client.runs.wait(thread_id, "tiny", input=more, checkpoint=head)  # the usual case
    assert [m["content"] for m in values["messages"]][-1] == "echo: more"
    edited = {"messages": [{"role": "user", "content": "instead"}]}
    forked = client.runs.wait(thread_id, "tiny", input=edited, checkpoint=after_first)
    assert [m["content"] for m in forked["messages"]] == [
        "hello",
        "echo: hello",
        "instead",
        "echo: instead",
    ]
    error = _error(
        lambda: client.runs.wait(thread_id, "tiny", input=edited, checkpoint_id="no-such")
    )
    assert error["status"] == 404


def test_a_thread_with_proposals_is_not_forked(live_url: str, any_served: Served) -> None:
    from sqlmodel import Session

    from agents.approvals import open_approval
    from api.run_store import utcnow
    from inventory.models import ApprovalStatus

    client = _ops(live_url)
    thread_id = client.threads.create()["thread_id"]
    client.runs.wait(thread_id, "tiny", input=ASK)
    first = client.threads.get_state(thread_id)["checkpoint"]
    client.runs.wait(thread_id, "tiny", input=ASK)
    with Session(any_served.engine) as session:  # as the gate records one
        open_approval(
            session,
            subject_type="transfer_order",
            subject_id="TO-X",
            run_id=None,
            thread_id=thread_id,
            requested_by="demo-ops",
            policy_rule="test",
            at=utcnow(),
            status=ApprovalStatus.REJECTED,
        )
        session.commit()
    error = _error(lambda: client.runs.wait(thread_id, "tiny", input=ASK, checkpoint=first))
    assert error["status"] == 409 and "recorded proposals" in error["message"]
