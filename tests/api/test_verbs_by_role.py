"""Every LangGraph-compatible verb (and the REST decision) × every role: the expected status,
on the real service on both databases. Failing roles go first, on the same thread; each role
expected to succeed at a decision gets its own fresh pending order."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tests.api.real_service import (
    ASK_ABOVE,
    FOUR_EYES_ABOVE,
    add_people,
    as_,
    ask_transfer,
    new_thread,
    shipment_worth,
)

ROLES = ["no key", "demo-viewer", "demo-ops", "demo-approver", "demo-admin"]
MESSAGE = {"messages": [{"role": "user", "content": "what is rain boots stock in Shanghai?"}]}
APPROVE = {"resume": {"decisions": [{"type": "approve"}]}}

#: verb → expected status for ROLES, in order.
EXPECTED: dict[str, list[int]] = {
    "create thread": [401, 403, 200, 403, 200],
    "search threads": [401, 200, 200, 200, 200],
    "get state": [401, 200, 200, 200, 200],
    "history": [401, 200, 200, 200, 200],
    "write state (messages)": [401, 403, 403, 403, 200],
    "write state (proposals)": [401, 403, 403, 403, 422],
    "run with input": [401, 403, 200, 403, 200],
    "run with extra input keys": [401, 403, 422, 403, 422],
    "start alert_response": [401, 403, 403, 403, 403],
    "command.update (messages)": [401, 403, 403, 403, 200],
    "command.goto a node": [401, 403, 403, 403, 403],
    "command.resume approve": [401, 403, 403, 200, 200],
    "command.goto __end__ (withdraw)": [401, 403, 200, 200, 200],
    "REST approve": [401, 403, 403, 200, 200],
    "REST withdraw": [401, 403, 200, 200, 200],
}


# Every verb by every role through the real service: 7-11 s of CPU per backend. Marked slow
# so the scheduler hands it out first (tests/conftest.py) instead of last.
@pytest.mark.slow
def test_every_verb_by_every_role(any_service: TestClient, any_world_engine: Engine) -> None:
    svc, engine = any_service, any_world_engine
    add_people(engine)
    ops_thread = new_thread(svc, "demo-ops")
    assert svc.post(
        f"/threads/{ops_thread}/runs/wait",
        json={"assistant_id": "ops_chat", "input": MESSAGE},
        headers=as_("demo-ops"),
    ).is_success

    def pending() -> tuple[str, dict]:
        sku, qty, _ = shipment_worth(engine, ASK_ABOVE, FOUR_EYES_ABOVE)  # ATP left after approvals
        return ask_transfer(svc, "demo-ops", sku, qty)

    def key(role: str) -> dict[str, str]:
        return {} if role == "no key" else as_(role)

    def run(thread: str, body: dict, role: str) -> httpx.Response:
        return svc.post(
            f"/threads/{thread}/runs/wait",
            json={"assistant_id": "ops_chat", **body},
            headers=key(role),
        )

    stateless: dict[str, Callable[[str], httpx.Response]] = {
        "create thread": lambda r: svc.post("/threads", json={}, headers=key(r)),
        "search threads": lambda r: svc.post("/threads/search", json={}, headers=key(r)),
        "get state": lambda r: svc.get(f"/threads/{ops_thread}/state", headers=key(r)),
        "history": lambda r: svc.post(f"/threads/{ops_thread}/history", json={}, headers=key(r)),
        "write state (messages)": lambda r: svc.post(
            f"/threads/{ops_thread}/state", json={"values": MESSAGE}, headers=key(r)
        ),
        "write state (proposals)": lambda r: svc.post(
            f"/threads/{ops_thread}/state", json={"values": {"proposals": []}}, headers=key(r)
        ),
        "run with input": lambda r: run(ops_thread, {"input": MESSAGE}, r),
        "run with extra input keys": lambda r: run(
            ops_thread, {"input": {**MESSAGE, "judged": {}}}, r
        ),
        "start alert_response": lambda r: svc.post(
            "/runs/wait",
            json={"assistant_id": "alert_response", "input": {"alert": {"city": "Shanghai"}}},
            headers=key(r),
        ),
        "command.update (messages)": lambda r: run(ops_thread, {"command": {"update": MESSAGE}}, r),
        "command.goto a node": lambda r: run(ops_thread, {"command": {"goto": "agent"}}, r),
    }
    deciding: dict[str, Callable[[str, str, dict], httpx.Response]] = {
        "command.resume approve": lambda r, t, a: run(t, {"command": APPROVE}, r),
        "command.goto __end__ (withdraw)": lambda r, t, a: run(
            t, {"command": {"goto": "__end__"}}, r
        ),
        "REST approve": lambda r, t, a: svc.post(
            f"/v1/approvals/{a['id']}/decision", json={"decision": "approve"}, headers=key(r)
        ),
        "REST withdraw": lambda r, t, a: svc.post(
            f"/v1/approvals/{a['id']}/decision", json={"decision": "withdraw"}, headers=key(r)
        ),
    }
    got: dict[str, list[int]] = {}
    for verb, call in stateless.items():
        got[verb] = [call(role).status_code for role in ROLES]
    for verb, decide in deciding.items():
        shared_thread, shared = pending()
        statuses = []
        for role, expected in zip(ROLES, EXPECTED[verb], strict=True):
            thread, approval = pending() if expected == 200 else (shared_thread, shared)
            statuses.append(decide(role, thread, approval).status_code)
        got[verb] = statuses
    assert got == EXPECTED


@pytest.mark.parametrize("who", ["demo-approver", "demo-admin"])
def test_four_eyes_needs_a_second_person_whatever_the_role(
    any_service: TestClient, any_world_engine: Engine, who: str
) -> None:
    """An admin is an approver like any other: one approval of a four-eyes order is a first."""
    sku, qty, _ = shipment_worth(any_world_engine, FOUR_EYES_ABOVE, 3 * FOUR_EYES_ABOVE)
    _, approval = ask_transfer(any_service, "demo-ops", sku, qty)
    first = any_service.post(
        f"/v1/approvals/{approval['id']}/decision", json={"decision": "approve"}, headers=as_(who)
    )
    assert first.status_code == 200 and first.json()["status"] == "pending", first.text
    again = any_service.post(
        f"/v1/approvals/{approval['id']}/decision", json={"decision": "approve"}, headers=as_(who)
    )
    assert again.status_code == 403
