"""Keys hashed at rest, 401 (who are you?) vs 403 (not allowed), and the uniform error body.

Tests that read or write the pool (keys, runs, threads, lookups by id) run on SQLite and on
PostgreSQL; those answered before any database read (no key, bad query, unknown route) on
SQLite only."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api.auth import KeyStore, Role, create_api_key, hash_key, seed_demo_keys
from inventory.models import ApiKey
from tests.api.conftest import KEYS


def test_keys_are_stored_hashed(engine: Engine) -> None:
    seeded = seed_demo_keys(engine)
    assert seeded == KEYS
    with Session(engine) as session:
        rows = session.exec(select(ApiKey)).all()
    stored = {row.key_hash for row in rows}
    assert not stored & set(KEYS.values())
    assert hash_key(KEYS["demo-ops"]) in stored
    assert seed_demo_keys(engine) == {}  # only into an empty table


def test_key_store_resolves_roles(any_module_engine: Engine) -> None:
    with Session(any_module_engine) as session:
        key = create_api_key(session, "planner-1", [Role.OPS])
        session.commit()
        with pytest.raises(ValueError, match="already exists"):
            create_api_key(session, "planner-1", [Role.OPS])
    store = KeyStore(any_module_engine)
    principal = store.resolve(key)
    assert principal is not None and principal.name == "planner-1"
    assert principal.has_any(Role.OPS) and not principal.has_any(Role.APPROVER)
    assert store.resolve("sp-unknown") is None


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/v1/runs", None),
        ("get", "/v1/audit", None),
        ("get", "/v1/policy", None),
        ("post", "/threads", {}),
        ("post", "/assistants/search", {}),
    ],
)
def test_no_key_is_401_with_a_reason(client: TestClient, method: str, path: str, body) -> None:
    response = client.request(method, path, json=body)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "unauthenticated" and error["field"] == "x-api-key"
    assert "x-api-key" in error["message"]


def test_known_key_without_the_role_is_403(any_module_client: TestClient) -> None:
    client = any_module_client
    response = client.post("/threads", json={}, headers={"x-api-key": KEYS["demo-viewer"]})
    assert response.status_code == 403
    assert "needs one of: ops" in response.json()["error"]["message"]
    admin = client.post("/threads", json={}, headers={"x-api-key": KEYS["demo-admin"]})
    assert admin.status_code == 200  # admin may do everything


def test_unknown_ids_are_404(any_module_client: TestClient) -> None:
    client = any_module_client
    headers = {"x-api-key": KEYS["demo-viewer"]}
    for path in [
        "/v1/runs/nope",
        "/v1/transfer-orders/nope",
        "/v1/promo-proposals/nope",
        "/threads/nope",
        "/assistants/nope",
    ]:
        response = client.get(path, headers=headers)
        assert response.status_code == 404, path
        assert response.json()["error"]["value"] == "nope"


def test_bad_query_parameter_names_field_and_value(client: TestClient) -> None:
    response = client.get(
        "/v1/runs",
        params={"limit": 0, "status": "sleeping"},
        headers={"x-api-key": KEYS["demo-viewer"]},
    )
    assert response.status_code == 422
    error = response.json()["error"]
    fields = {d["field"]: d["value"] for d in error["details"]}
    assert fields == {"query.limit": "0", "query.status": "sleeping"}


def test_unknown_endpoint_and_method(client: TestClient) -> None:
    assert client.get("/v1/nothing-here").json()["error"]["code"] == "not_found"
    assert client.delete("/v1/policy").status_code == 405


def test_busy_thread_is_409(any_module_client: TestClient, any_module_engine: Engine) -> None:
    from agents.runs import admit_run

    client = any_module_client
    ops = {"x-api-key": KEYS["demo-ops"]}
    thread_id = client.post("/threads", json={}, headers=ops).json()["thread_id"]
    admit_run(any_module_engine, thread_id=thread_id, assistant_id="tiny", trigger="chat")
    response = client.post(
        f"/threads/{thread_id}/runs/wait",
        json={"assistant_id": "tiny", "input": {"messages": [{"role": "user", "content": "x"}]}},
        headers=ops,
    )
    assert response.status_code == 409 and "busy" in response.json()["error"]["message"]


def test_thread_of_another_assistant_is_409(any_module_client: TestClient) -> None:
    client = any_module_client
    ops = {"x-api-key": KEYS["demo-ops"]}
    thread_id = client.post("/threads", json={}, headers=ops).json()["thread_id"]
    body = {"assistant_id": "tiny", "input": {"messages": [{"role": "user", "content": "x"}]}}
    assert client.post(f"/threads/{thread_id}/runs/wait", json=body, headers=ops).status_code == 200
    other = {**body, "assistant_id": "alert_response"}
    response = client.post(f"/threads/{thread_id}/runs/wait", json=other, headers=ops)
    assert response.status_code == 409


def test_unknown_stream_mode_is_422(client: TestClient) -> None:
    """Modes the SDKs know are all accepted (tests/api/test_sdk_contract.py); a typo is not."""
    ops = {"x-api-key": KEYS["demo-ops"]}
    thread_id = client.post("/threads", json={}, headers=ops).json()["thread_id"]
    response = client.post(
        f"/threads/{thread_id}/runs/stream",
        json={"assistant_id": "tiny", "input": {}, "stream_mode": "valuez"},
        headers=ops,
    )
    assert response.status_code == 422 and response.json()["error"]["value"] == "valuez"
