"""Approvals over REST on the real graphs (ops_chat, alert_response) of the real service, on SQLite
and PostgreSQL: roles, 404 / 409, batches, the world clock.

Four-eyes, self-approval, expiry and withdrawal are tested in ``test_authority_table.py``,
``test_attacks.py`` and ``test_expiry.py``."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.signatures import signed_headers
from connectors.base import ConnectorSet
from inventory.models import Approval, Run
from tests.agents.helpers import drain
from tests.api.real_service import (
    ASK_ABOVE,
    FOUR_EYES_ABOVE,
    as_,
    ask_transfer,
    executed_without_a_decision,
    order_status,
    shipment_worth,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def low_limits_policy(low_limits_policy: Path) -> Path:
    """The service's low limits, and every transfer asks a person (units: 0), so a rain alert's
    shipments all wait in one interrupt."""
    text = low_limits_policy.read_text()
    assert "max_units_per_order: 60" in text
    low_limits_policy.write_text(text.replace("max_units_per_order: 60", "max_units_per_order: 0"))
    return low_limits_policy


@pytest.fixture
def svc(any_service: TestClient) -> TestClient:
    return any_service


@pytest.fixture
def engine(any_world_engine: Engine) -> Engine:
    return any_world_engine


def _pending_from_chat(svc: TestClient, engine: Engine) -> dict:
    """An order above the auto-approval limit and below four-eyes, asked by ``demo-ops``."""
    sku, qty, _ = shipment_worth(engine, ASK_ABOVE, FOUR_EYES_ABOVE)
    _, approval = ask_transfer(svc, "demo-ops", sku, qty)
    return approval


def _set_expiry(engine: Engine, approval_id: str, at: datetime) -> None:
    with Session(engine) as session:
        row = session.get(Approval, approval_id)
        row.expires_at = at
        session.add(row)
        session.commit()


def _approve(svc: TestClient, approval_id: str, who: str = "demo-approver", comment=None):
    body = {"decision": "approve"} | ({"comment": comment} if comment else {})
    return svc.post(f"/v1/approvals/{approval_id}/decision", json=body, headers=as_(who))


def test_approver_approves_and_is_recorded(svc: TestClient, engine: Engine) -> None:
    approval = _pending_from_chat(svc, engine)
    assert approval["status"] == "pending" and approval["requested_by"] == "demo-ops"
    response = _approve(svc, approval["id"], comment="storm tomorrow")
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["decided_by"]) == (
        "approved",
        "demo-approver",
    )
    assert response.json()["comment"] == "storm tomorrow"
    assert order_status(engine, approval["subject_id"]) in {"approved", "dispatched"}
    with Session(engine) as session:
        assert session.get(Run, approval["run_id"]).status == "succeeded"
    again = svc.post(
        f"/v1/approvals/{approval['id']}/decision",
        json={"decision": "reject"},
        headers=as_("demo-approver-2"),
    )
    assert again.status_code == 409
    assert "already approved" in again.json()["error"]["message"]


def test_reject(svc: TestClient, engine: Engine) -> None:
    approval = _pending_from_chat(svc, engine)
    response = svc.post(
        f"/v1/approvals/{approval['id']}/decision",
        json={"decision": "reject", "comment": "no trucks"},
        headers=as_("demo-approver"),
    )
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["comment"]) == ("rejected", "no trucks")
    assert order_status(engine, approval["subject_id"]) == "rejected"


@pytest.mark.parametrize(
    ("who", "status"),
    [(None, 401), ("wrong", 401), ("demo-viewer", 403), ("demo-ops", 403)],
)
def test_who_may_decide(svc: TestClient, engine: Engine, who: str | None, status: int) -> None:
    approval = _pending_from_chat(svc, engine)
    headers = {"x-api-key": "sp-wrong"} if who == "wrong" else as_(who)
    response = svc.post(
        f"/v1/approvals/{approval['id']}/decision", json={"decision": "approve"}, headers=headers
    )
    assert response.status_code == status
    assert response.json()["error"]["status"] == status
    assert order_status(engine, approval["subject_id"]) == "pending_approval"


def test_unknown_approval_is_404(svc: TestClient) -> None:
    for method, path, body in [
        ("get", "/v1/approvals/AP-nope", None),
        ("post", "/v1/approvals/AP-nope/decision", {"decision": "approve"}),
    ]:
        response = svc.request(method, path, json=body, headers=as_("demo-approver"))
        assert response.status_code == 404
        assert response.json()["error"]["value"] == "AP-nope"


def test_bad_decision_body_names_the_field(svc: TestClient, engine: Engine) -> None:
    approval = _pending_from_chat(svc, engine)
    response = svc.post(
        f"/v1/approvals/{approval['id']}/decision",
        json={"decision": "maybe"},
        headers=as_("demo-approver"),
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "body.decision"
    assert response.json()["error"]["value"] == "maybe"


def _rain(svc: TestClient, alert_id: str) -> httpx.Response:
    body = json.dumps(
        {
            "type": "weather",
            "alert_id": alert_id,
            "city": "Shanghai",
            "precipitation_mm": 80,
            # Three wet days: on this world a 24 h alert's trips do not clear the alert graph's
            # freight hurdle (MIN_NET_TO_COST), and these tests need orders to decide.
            "window_hours": 72,
            "issued_at": "2015-07-01T08:00:00+08:00",
        }
    ).encode()
    headers = signed_headers("demo-weather", "demo-weather-secret", body)
    return svc.post("/v1/alerts", content=body, headers=headers)


def _waiting_alert_approvals(svc: TestClient, run_id: str) -> list[dict]:
    """The approvals of one rain alert run, once the worker has run it to its interrupt."""
    deadline = time.monotonic() + 120
    while True:
        run = svc.get(f"/v1/runs/{run_id}", headers=as_("demo-viewer")).json()
        if run["status"] in {"succeeded", "interrupted", "failed"}:
            break
        assert time.monotonic() < deadline, run
        time.sleep(0.1)
    assert run["status"] == "interrupted", run
    return svc.get(
        "/v1/approvals",
        params={"status": "pending", "run_id": run_id},
        headers=as_("demo-viewer"),
    ).json()["items"]


def test_one_interrupt_with_several_orders_is_decided_together(
    svc: TestClient, engine: Engine, any_systems: ConnectorSet
) -> None:
    """A rain alert asks for several orders in one interrupt of the real alert graph: one of
    them alone is refused (409, naming the others), all of them in one batch are taken."""
    assert drain(engine, ["SHA-S01", "SHA-S02"], ["rain_boots", "umbrellas"]) > 0
    accepted = _rain(svc, "cma-sh-batch-1")
    assert accepted.status_code == 202, accepted.text
    pending = _waiting_alert_approvals(svc, accepted.json()["run_id"])
    assert len(pending) >= 2, pending
    first, *others = sorted(pending, key=lambda a: a["id"])

    alone = _approve(svc, first["id"])
    assert alone.status_code == 409
    assert "/v1/approvals/decisions" in alone.json()["error"]["message"]
    assert sorted(alone.json()["error"]["value"]) == sorted(a["id"] for a in others)

    together = svc.post(
        "/v1/approvals/decisions",
        json={
            "decisions": [
                *({"approval_id": a["id"], "decision": "reject", "comment": "no"} for a in others),
                {"approval_id": first["id"], "decision": "approve"},
            ]
        },
        headers=as_("demo-approver"),
    )
    assert together.status_code == 200, together.text
    statuses = {a["id"]: a["status"] for a in together.json()}
    needs_two = first["payload"]["approvers_required"] == 2
    assert statuses == {
        first["id"]: "pending" if needs_two else "approved",
        **{a["id"]: "rejected" for a in others},
    }
    assert {a["decided_by"] for a in together.json()} == {"demo-approver"}
    for other in others:
        assert order_status(engine, other["subject_id"]) == "rejected"
    assert executed_without_a_decision(engine, any_systems) == []


def test_batch_with_an_unknown_approval_is_404(svc: TestClient) -> None:
    response = svc.post(
        "/v1/approvals/decisions",
        json={"decisions": [{"approval_id": "AP-nope", "decision": "approve"}]},
        headers=as_("demo-approver"),
    )
    assert response.status_code == 404


def test_expiry_is_on_the_world_clock(svc: TestClient, engine: Engine) -> None:
    """The demo world lives in 2015: an approval due three hours after its 'now' is still open
    (on the wall clock it would have lapsed eleven years ago)."""
    approval = _pending_from_chat(svc, engine)
    _set_expiry(engine, approval["id"], datetime(2015, 7, 1, 12, tzinfo=UTC))  # now: 09:00
    response = _approve(svc, approval["id"])
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "approved"
