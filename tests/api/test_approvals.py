"""Approvals over REST on the test graphs: roles, 404 / 409, batches, the world clock.

Four-eyes, self-approval, expiry and withdrawal are tested on the real graphs, on both databases
(``test_authority_table.py``, ``test_attacks.py``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.worker import Worker
from inventory.models import Approval, Run
from tests.api.conftest import KEYS
from tests.api.test_alerts import knows_shanghai, post_alert, weather


@pytest.fixture(autouse=True)
def _pool_cities(sqlite_engine: Engine) -> None:
    """The alerts name Shanghai: the (otherwise empty) pool must know it."""
    knows_shanghai(sqlite_engine)


def key(name: str) -> dict[str, str]:
    return {"x-api-key": KEYS[name]}


def _pending_from_alert(client: TestClient, alert_id: str = "a-1", mm: float = 60) -> dict:
    post_alert(client, weather(alert_id, mm=mm))
    Worker(client.app.state.stockpilot.runner).run_pending()
    pending = client.get("/v1/approvals", headers=key("demo-viewer")).json()["items"]
    return next(a for a in pending if a["subject_id"] == f"TO-{alert_id}")


def _set_expiry(engine: Engine, approval_id: str, at: datetime) -> None:
    with Session(engine) as session:
        row = session.get(Approval, approval_id)
        row.expires_at = at
        session.add(row)
        session.commit()


def _approve(client: TestClient, approval_id: str, who: str = "demo-approver"):
    return client.post(
        f"/v1/approvals/{approval_id}/decision", json={"decision": "approve"}, headers=key(who)
    )


def test_approver_approves_and_is_recorded(client: TestClient, sqlite_engine: Engine) -> None:
    approval = _pending_from_alert(client)
    assert approval["status"] == "pending" and approval["requested_by"] == "stockpilot-worker"
    response = client.post(
        f"/v1/approvals/{approval['id']}/decision",
        json={"decision": "approve", "comment": "storm tomorrow"},
        headers=key("demo-approver"),
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "approved"
    assert response.json()["decided_by"] == "demo-approver"
    with Session(sqlite_engine) as session:
        assert session.get(Run, approval["run_id"]).status == "succeeded"
    again = client.post(
        f"/v1/approvals/{approval['id']}/decision",
        json={"decision": "reject"},
        headers=key("demo-approver-2"),
    )
    assert again.status_code == 409
    assert "already approved" in again.json()["error"]["message"]


def test_reject(client: TestClient) -> None:
    approval = _pending_from_alert(client, "a-rej")
    response = client.post(
        f"/v1/approvals/{approval['id']}/decision",
        json={"decision": "reject", "comment": "no trucks"},
        headers=key("demo-approver"),
    )
    assert response.json()["status"] == "rejected"


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"x-api-key": "sp-wrong"}, 401),
        (key("demo-viewer"), 403),
        (key("demo-ops"), 403),
    ],
)
def test_who_may_decide(client: TestClient, headers: dict, status: int) -> None:
    approval = _pending_from_alert(client)
    response = client.post(
        f"/v1/approvals/{approval['id']}/decision", json={"decision": "approve"}, headers=headers
    )
    assert response.status_code == status
    assert response.json()["error"]["status"] == status


def test_unknown_approval_is_404(client: TestClient) -> None:
    for method, path, body in [
        ("get", "/v1/approvals/AP-nope", None),
        ("post", "/v1/approvals/AP-nope/decision", {"decision": "approve"}),
    ]:
        response = client.request(method, path, json=body, headers=key("demo-approver"))
        assert response.status_code == 404
        assert response.json()["error"]["value"] == "AP-nope"


def test_bad_decision_body_names_the_field(client: TestClient) -> None:
    approval = _pending_from_alert(client)
    response = client.post(
        f"/v1/approvals/{approval['id']}/decision",
        json={"decision": "maybe"},
        headers=key("demo-approver"),
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "body.decision"
    assert response.json()["error"]["value"] == "maybe"


def test_one_interrupt_with_two_orders_is_decided_together(client: TestClient) -> None:
    post_alert(client, weather("big", mm=120))
    Worker(client.app.state.stockpilot.runner).run_pending()
    alone = client.post(
        "/v1/approvals/AP-TO-big-1/decision",
        json={"decision": "approve"},
        headers=key("demo-approver"),
    )
    assert alone.status_code == 409
    assert "/v1/approvals/decisions" in alone.json()["error"]["message"]
    assert alone.json()["error"]["value"] == ["AP-TO-big-2"]
    together = client.post(
        "/v1/approvals/decisions",
        json={
            "decisions": [
                {"approval_id": "AP-TO-big-2", "decision": "reject", "comment": "too far"},
                {"approval_id": "AP-TO-big-1", "decision": "approve"},
            ]
        },
        headers=key("demo-approver"),
    )
    assert together.status_code == 200, together.text
    assert {a["id"]: a["status"] for a in together.json()} == {
        "AP-TO-big-2": "rejected",
        "AP-TO-big-1": "approved",
    }
    assert {a["decided_by"] for a in together.json()} == {"demo-approver"}


def test_batch_with_an_unknown_approval_is_404(client: TestClient) -> None:
    response = client.post(
        "/v1/approvals/decisions",
        json={"decisions": [{"approval_id": "AP-nope", "decision": "approve"}]},
        headers=key("demo-approver"),
    )
    assert response.status_code == 404


def test_expiry_is_on_the_world_clock(world_client: TestClient, world_engine: Engine) -> None:
    """The demo world lives in 2015: an approval due three hours after its 'now' is still open."""
    approval = _pending_from_alert(world_client, "world-1")
    _set_expiry(world_engine, approval["id"], datetime(2015, 7, 1, 12, tzinfo=UTC))  # now: 09:00
    response = _approve(world_client, approval["id"])
    assert response.status_code == 200, response.text
