"""Bad input to the real service: a 4xx that says what is wrong, never a 500 or a 200 carrying an
exception — and nothing one caller sends breaks the shared listings for everyone. The tests
share one service per database (``any_module_service``), each on threads of its own."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from tests.api.real_service import as_, new_thread

OPS = as_("demo-ops")


def _run(client: TestClient, thread_id: str, body: dict) -> tuple[int, dict]:
    response = client.post(
        f"/threads/{thread_id}/runs/wait",
        content=json.dumps({"assistant_id": "ops_chat", **body}),
        headers={**OPS, "content-type": "application/json"},
    )
    return response.status_code, response.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"input": {"messages": 42}}, "body.input.messages"),
        ({"input": {"messages": [{"role": "wizard", "content": "hi"}]}}, "body.input.messages"),
        ({"input": {"messages": [{"role": "user", "content": 7}]}}, "body.input.messages"),
        ({"input": {"messages": []}}, "body.input.messages"),
        ({"input": {}}, "body.input.messages"),
        ({"command": {}}, "body.command"),
        ({"command": {"resume": "yes"}}, None),
        ({"command": {"goto": ["agent", "tools"]}}, "body.command.goto"),
        ({"input": {"messages": [{"role": "user", "content": "x" * 20_001}]}}, None),
    ],
)
def test_bad_run_input_is_a_clear_4xx(
    any_module_service: TestClient, body: dict, field: str
) -> None:
    thread_id = new_thread(any_module_service, "demo-ops")
    status, answer = _run(any_module_service, thread_id, body)
    assert status in (403, 409, 422), answer
    assert "__error__" not in answer and answer["error"]["message"]
    if field is not None:
        assert answer["error"]["field"].startswith(field), answer


def test_a_lone_surrogate_is_refused_and_listings_stay_readable(
    any_module_service: TestClient,
) -> None:
    thread_id = new_thread(any_module_service, "demo-ops")
    raw = (
        '{"assistant_id": "ops_chat", "input": {"messages": '
        '[{"role": "user", "content": "rain boots \\ud800 in Shanghai"}]}}'
    )
    response = any_module_service.post(
        f"/threads/{thread_id}/runs/wait",
        content=raw,
        headers={**OPS, "content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert "surrogate" in response.json()["error"]["message"]
    metadata = '{"metadata": {"name": "\\udfff"}}'
    thread = any_module_service.post(
        "/threads", content=metadata, headers={**OPS, "content-type": "application/json"}
    )
    assert thread.status_code == 422
    # A proper pair is fine.
    ok = _run(
        any_module_service,
        thread_id,
        {"input": {"messages": [{"role": "user", "content": "☔😀"}]}},
    )
    assert ok[0] == 200, ok
    viewer = as_("demo-viewer")
    assert any_module_service.get("/v1/runs", headers=viewer).status_code == 200
    assert any_module_service.post("/threads/search", json={}, headers=viewer).status_code == 200


def test_request_bodies_are_limited(any_module_service: TestClient) -> None:
    thread_id = new_thread(any_module_service, "demo-ops")
    huge = {"messages": [{"role": "user", "content": "x" * (2 << 20)}]}
    status, answer = _run(any_module_service, thread_id, {"input": huge})
    assert status == 413 and "STOCKPILOT_MAX_REQUEST_BYTES" in answer["error"]["message"]

    def chunks():
        body = json.dumps({"assistant_id": "ops_chat", "input": huge}).encode()
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    streamed = any_module_service.post(
        f"/threads/{thread_id}/runs/wait",
        content=chunks(),
        headers={**OPS, "content-type": "application/json"},
    )
    assert streamed.status_code == 413
