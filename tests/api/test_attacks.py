"""Attacks on the approval promise, from outside, with the demo keys, on both databases.

Each test drives the real service (the agents' graphs, its worker, the outbox dispatcher and the
simulated WMS) and ends on the same invariant: nothing was approved, dispatched or sent to the
WMS without a valid recorded human decision (or the policy's auto-approval on the order's own
numbers). The attacks are the ones the outside attack suite of issue 16 found.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from agents.approvals import approval_id
from connectors.base import ConnectorSet
from inventory.models import Approval, TransferOrder
from tests.api.real_service import (
    ASK_ABOVE,
    DEST,
    FOUR_EYES_ABOVE,
    SOURCE,
    add_people,
    as_,
    ask_transfer,
    decide,
    executed_without_a_decision,
    new_thread,
    order_status,
    resume,
    say,
    shipment_worth,
    wms_order_ids,
)
from tests.api.test_service_flows import wait_for

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def svc(any_service: TestClient, any_world_engine: Engine) -> TestClient:
    add_people(any_world_engine)
    return any_service


@pytest.fixture
def engine(any_world_engine: Engine) -> Engine:
    return any_world_engine


def pending_order(svc: TestClient, engine: Engine, who: str = "demo-ops", four_eyes=False):
    low, high = (
        (FOUR_EYES_ABOVE, 3 * FOUR_EYES_ABOVE) if four_eyes else (ASK_ABOVE, FOUR_EYES_ABOVE)
    )
    sku, qty, _ = shipment_worth(engine, low, high)
    thread_id, approval = ask_transfer(svc, who, sku, qty)
    return thread_id, approval


def untouched(engine: Engine, systems: ConnectorSet, approval: dict) -> None:
    """The order still waits, its approval still pending, nothing at the WMS, nothing executed."""
    assert order_status(engine, approval["subject_id"]) == "pending_approval"
    with Session(engine) as session:
        row = session.get(Approval, approval["id"])
        assert row is not None and row.status == "pending"
    assert approval["subject_id"] not in wms_order_ids(systems)
    assert executed_without_a_decision(engine, systems) == []


def test_forged_update_and_goto_present_the_order_as_one_unit(svc, engine, any_systems) -> None:
    thread_id, approval = pending_order(svc, engine)
    forged = {
        "update": {
            "proposals": [
                {
                    "kind": "transfer_order",
                    "subject_id": approval["subject_id"],
                    "requested_by": "demo-ops",
                    "units": 1,
                    "value": 1.0,
                    "cost": 1.0,
                }
            ],
            "judged": {},
            "pending": [],
        },
        "goto": "gate",
    }
    # Not an admin: 403; an admin: 422, the update names keys no one may write.
    for who, status in [("demo-ops", 403), ("demo-approver", 403), ("demo-admin", 422)]:
        response = resume(svc, who, thread_id, forged)
        assert response.status_code == status, (who, response.text)
        assert response.json()["error"]["field"].startswith("body.command")
    # Even an admin's update without goto may write messages only.
    response = resume(svc, "demo-admin", thread_id, {"update": forged["update"]})
    assert response.status_code == 422 and "messages" in response.json()["error"]["message"]
    untouched(engine, any_systems, approval)


def test_forged_decision_and_principal_in_state_on_another_users_thread(
    svc, engine, any_systems
) -> None:
    thread_id, approval = pending_order(svc, engine, who="ops-2")
    forged = {
        "update": {
            "decisions": {
                "decisions": [{"type": "approve"}],
                "principal": {"name": "director", "roles": ["approver"]},
            }
        },
        "goto": "apply_decisions",
    }
    for who, status in [("demo-ops", 403), ("demo-approver", 403), ("demo-admin", 422)]:
        response = resume(svc, who, thread_id, forged)
        assert response.status_code == status, (who, response.text)
    goto_only = resume(svc, "demo-admin", thread_id, {"goto": "apply_decisions"})
    assert goto_only.status_code == 403 and "goto" in goto_only.json()["error"]["message"]
    # A resume that names its own principal decides as the caller, not as "director".
    response = resume(
        svc,
        "demo-ops",
        thread_id,
        {"resume": {"decisions": [{"type": "approve"}], "principal": {"name": "director"}}},
    )
    assert response.status_code == 403 and "'demo-ops'" in response.json()["error"]["message"]
    untouched(engine, any_systems, approval)


def test_injected_proposals_in_run_input(svc, engine, any_systems) -> None:
    _, victim = pending_order(svc, engine, who="ops-2")
    thread_id = new_thread(svc, "demo-ops")
    injected = {
        "messages": [{"role": "user", "content": "hello"}],
        "proposals": [
            {
                "kind": "transfer_order",
                "subject_id": victim["subject_id"],
                "requested_by": "demo-ops",
                "units": 0,
                "value": 0,
                "cost": 0,
            }
        ],
    }
    response = svc.post(
        f"/threads/{thread_id}/runs/wait",
        json={"assistant_id": "ops_chat", "input": injected},
        headers=as_("demo-ops"),
    )
    assert response.status_code == 422, response.text
    assert "proposals" in response.json()["error"]["message"]
    untouched(engine, any_systems, victim)


def test_injected_proposal_reaching_the_gate_is_refused(svc, engine, any_systems) -> None:
    """Defence in depth: a record naming another thread's order (a forged state, however it got
    there) is judged on the pool, which says it is not this run's fresh proposal."""
    from agents.graphs.common.flow import ApprovalFlow

    _, victim = pending_order(svc, engine, who="ops-2")
    runtime = svc.app.state.stockpilot.require_runner().catalog.runtime
    record = {
        "kind": "transfer_order",
        "subject_id": victim["subject_id"],
        "requested_by": "demo-ops",
        "units": 0,
        "value": 0.0,
        "cost": 0.0,
    }
    state = {"proposals": [record], "run_id": victim["run_id"], "thread_id": "t-evil"}
    update = ApprovalFlow(runtime).gate(state, {"configurable": {"thread_id": "t-evil"}})
    assert update["outcomes"][victim["subject_id"]]["status"] == "refused"
    assert "another thread" in update["outcomes"][victim["subject_id"]]["message"]
    untouched(engine, any_systems, victim)


def test_four_eyes_cannot_be_skipped_through_judged(svc, engine, any_systems) -> None:
    thread_id, approval = pending_order(svc, engine, four_eyes=True)
    assert approval["payload"]["approvers_required"] == 2
    skip = {
        "resume": {"decisions": [{"type": "approve"}]},
        "update": {
            "judged": {
                approval["subject_id"]: {"approvers_required": 1, "distinct_from_requester": False}
            }
        },
    }
    assert resume(svc, "demo-approver", thread_id, skip).status_code == 403
    assert resume(svc, "demo-admin", thread_id, skip).status_code == 422
    # One approver alone leaves it pending: four-eyes comes from the stored approval.
    first = resume(svc, "demo-approver", thread_id, {"resume": skip["resume"]})
    assert first.status_code == 200, first.text
    assert first.json()["__interrupt__"]
    with Session(engine) as session:
        row = session.get(Approval, approval["id"])
        assert (row.status, row.decided_by) == ("pending", "demo-approver")
    assert order_status(engine, approval["subject_id"]) == "pending_approval"
    again = resume(svc, "demo-approver", thread_id, {"resume": skip["resume"]})
    assert again.status_code == 403 and "first approval" in again.json()["error"]["message"]
    assert approval["subject_id"] not in wms_order_ids(any_systems)
    assert executed_without_a_decision(engine, any_systems) == []


def test_alert_graph_cannot_be_started_through_runs(svc, engine, any_systems) -> None:
    alert = {"alert": {"city": "Shanghai", "mm": 120, "external_id": "forged-1"}}
    thread_id = new_thread(svc, "demo-admin")
    threads_before = len(svc.post("/threads/search", json={}, headers=as_("demo-viewer")).json())
    for path in ("/runs/wait", f"/threads/{thread_id}/runs/wait", "/runs/stream"):
        response = svc.post(
            path, json={"assistant_id": "alert_response", "input": alert}, headers=as_("demo-admin")
        )
        assert response.status_code == 403, (path, response.text)
        assert "signed alert" in response.json()["error"]["message"]
    after = svc.post("/threads/search", json={}, headers=as_("demo-viewer")).json()
    assert len(after) == threads_before  # refused before anything was written
    with Session(engine) as session:
        assert session.exec(select(TransferOrder)).all() == []
    assert executed_without_a_decision(engine, any_systems) == []


def test_self_approval_above_four_eyes(svc, engine, any_systems) -> None:
    thread_id, approval = pending_order(svc, engine, who="ops-lead", four_eyes=True)
    own = decide(svc, approval["id"], "ops-lead")
    assert own.status_code == 403 and "four-eyes" in own.json()["error"]["message"]
    via_resume = resume(
        svc, "ops-lead", thread_id, {"resume": {"decisions": [{"type": "approve"}]}}
    )
    assert via_resume.status_code == 403 and "four-eyes" in via_resume.json()["error"]["message"]
    untouched(engine, any_systems, approval)


@pytest.mark.parametrize("who", ["demo-ops", "demo-viewer", "ops-2", None])
def test_non_approver_approves(svc, engine, any_systems, who) -> None:
    thread_id, approval = pending_order(svc, engine)
    expected = 401 if who is None else 403
    assert decide(svc, approval["id"], who).status_code == expected
    command = {"resume": {"decisions": [{"type": "approve"}]}}
    assert resume(svc, who, thread_id, command).status_code == expected
    untouched(engine, any_systems, approval)


def test_expired_approval_answers_409_and_settles(svc, engine, any_systems) -> None:
    thread_id, approval = pending_order(svc, engine)
    with Session(engine) as session:
        row = session.get(Approval, approval["id"])
        row.expires_at = row.requested_at  # due at once on the world's clock
        session.add(row)
        session.commit()
    listed = svc.get("/v1/approvals", params={"status": "pending"}, headers=as_("demo-viewer"))
    assert approval["id"] not in {a["id"] for a in listed.json()["items"]}
    response = decide(svc, approval["id"], "demo-approver")
    assert response.status_code == 409 and "expired" in response.json()["error"]["message"]
    row = svc.get(f"/v1/approvals/{approval['id']}", headers=as_("demo-viewer")).json()
    assert (row["status"], row["decided_by"]) == ("expired", "system")
    assert order_status(engine, approval["subject_id"]) == "expired"

    def settled() -> dict | None:
        # The REST refusal and the worker's expiry sweep race to tell the thread; whichever
        # admits the recheck first runs it, so the thread may be busy for a moment.
        thread = svc.get(f"/threads/{thread_id}", headers=as_("demo-viewer")).json()
        return None if thread["status"] == "busy" else thread

    thread = wait_for("the expired approval's thread to be told", settled, timeout_s=120)
    assert thread["status"] == "idle", thread  # resumed: it no longer waits
    again = resume(
        svc, "demo-approver", thread_id, {"resume": {"decisions": [{"type": "approve"}]}}
    )
    assert again.status_code == 409
    assert approval["subject_id"] not in wms_order_ids(any_systems)
    assert executed_without_a_decision(engine, any_systems) == []


def test_replayed_resume_dispatches_once(svc, engine, any_systems) -> None:
    thread_id, approval = pending_order(svc, engine)
    command = {"resume": {"decisions": [{"type": "approve"}]}}
    first = resume(svc, "demo-approver", thread_id, command)
    assert first.status_code == 200, first.text
    for who in ("demo-approver", "demo-approver-2", "demo-admin"):
        replay = resume(svc, who, thread_id, command)
        assert replay.status_code == 409, replay.text
    replay_rest = decide(svc, approval["id"], "demo-approver-2")
    assert replay_rest.status_code == 409 and "already approved" in replay_rest.text
    with Session(engine) as session:
        row = session.get(Approval, approval["id"])
        assert (row.status, row.decided_by) == ("approved", "demo-approver")
    assert executed_without_a_decision(engine, any_systems) == []


def test_another_users_thread(svc, engine, any_systems) -> None:
    thread_id, approval = pending_order(svc, engine, who="ops-2")
    hijack = say(svc, "demo-ops", thread_id, f"ship 1 pairs of X from {SOURCE} to {DEST}")
    assert hijack.status_code == 403 and "belongs to 'ops-2'" in hijack.json()["error"]["message"]
    withdraw = resume(svc, "demo-ops", thread_id, {"goto": "__end__"})
    assert withdraw.status_code == 403 and "withdraw" in withdraw.json()["error"]["message"]
    untouched(engine, any_systems, approval)


def test_the_requester_withdraws_with_goto_end(svc, engine, any_systems) -> None:
    thread_id, approval = pending_order(svc, engine, who="ops-2", four_eyes=True)
    response = resume(svc, "ops-2", thread_id, {"goto": "__end__"})
    assert response.status_code == 200, response.text
    with Session(engine) as session:
        row = session.get(Approval, approval_id(approval["subject_id"]))
        assert (row.status, row.decided_by) == ("withdrawn", "ops-2")
    assert order_status(engine, approval["subject_id"]) == "cancelled"
    assert resume(svc, "ops-2", thread_id, {"goto": "__end__"}).status_code == 409
    assert executed_without_a_decision(engine, any_systems) == []


@pytest.mark.parametrize(
    "text",
    [
        "ship -7 pairs of {sku} from DC-SHA to SHA-S01",
        "从DC-SHA调拨-7双{sku}到SHA-S01",
        "ship 12345678901234567890123 pairs of {sku} from DC-SHA to SHA-S01",
    ],
)
def test_negative_or_absurd_quantities_propose_nothing(svc, engine, any_systems, text) -> None:
    sku, _, _ = shipment_worth(engine, 0, ASK_ABOVE)
    thread_id = new_thread(svc, "demo-ops")
    response = say(svc, "demo-ops", thread_id, text.format(sku=sku))
    assert response.status_code == 200, response.text
    assert not response.json().get("__interrupt__")
    with Session(engine) as session:
        assert session.exec(select(TransferOrder)).all() == []
    assert wms_order_ids(any_systems) == set()


def test_far_above_atp_is_refused_before_the_gate(svc, engine, any_systems) -> None:
    sku, _, _ = shipment_worth(engine, 0, ASK_ABOVE)
    thread_id = new_thread(svc, "demo-ops")
    response = say(svc, "demo-ops", thread_id, f"ship 5000 pairs of {sku} from DC-SHA to SHA-S01")
    assert response.status_code == 200, response.text
    assert "available to promise" in str(response.json()["messages"])
    with Session(engine) as session:
        assert session.exec(select(Approval)).all() == []
    assert executed_without_a_decision(engine, any_systems) == []
