"""One table of who may do what to an approval, driving the three places that ask: the authority
function itself (on the Approval row the real gate wrote), the graph's resume path (the runner,
with no API check in front) and the REST decision. They must agree row by row, on SQLite and
PostgreSQL."""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest
from fastapi.testclient import TestClient
from langgraph.types import Command
from sqlalchemy.engine import Engine
from sqlmodel import Session

from agents.authority import caller_of, rule
from api.auth import DEMO_KEYS, Principal
from inventory.models import Approval
from tests.api.real_service import (
    ASK_ABOVE,
    EXTRA_KEYS,
    FOUR_EYES_ABOVE,
    add_people,
    ask_transfer,
    decide,
    shipment_worth,
)

ALLOWED = 200


class Case(NamedTuple):
    four_eyes: bool
    requester: str
    first_approver: str | None
    caller: str
    action: str
    expected: int  # 200 allowed, else the refusal's status
    due: bool = False


TABLE = [
    Case(False, "demo-ops", None, "demo-approver", "approve", ALLOWED),
    Case(False, "demo-ops", None, "demo-ops", "approve", 403),
    Case(False, "ops-lead", None, "ops-lead", "approve", ALLOWED),  # below four-eyes: may
    Case(True, "ops-lead", None, "ops-lead", "approve", 403),  # four-eyes: never their own
    Case(True, "ops-lead", None, "ops-lead", "withdraw", ALLOWED),
    Case(True, "demo-ops", None, "demo-ops", "withdraw", ALLOWED),  # requester, no approver role
    Case(True, "demo-ops", None, "demo-viewer", "withdraw", 403),
    Case(True, "demo-ops", None, "ops-2", "withdraw", 403),  # another ops user
    Case(False, "demo-ops", None, "demo-ops", "reject", 403),  # withdraw, not reject
    Case(False, "demo-ops", None, "demo-approver", "reject", ALLOWED),
    Case(True, "demo-ops", None, "demo-admin", "approve", ALLOWED),  # a first approval
    Case(True, "demo-ops", "demo-approver", "demo-approver", "approve", 403),  # same again
    Case(True, "demo-ops", "demo-approver", "demo-approver-2", "approve", ALLOWED),
    Case(True, "demo-ops", "demo-approver", "demo-approver", "reject", ALLOWED),
    Case(False, "demo-ops", None, "demo-approver", "approve", 409, due=True),
    Case(False, "demo-ops", None, "demo-ops", "withdraw", 409, due=True),
]


def principal(name: str) -> Principal:
    roles = EXTRA_KEYS[name][1] if name in EXTRA_KEYS else DEMO_KEYS[name][1]
    return Principal(name=name, roles=list(roles))


def _prepare(service: TestClient, engine: Engine, case: Case) -> tuple[str, dict[str, Any]]:
    low, high = (FOUR_EYES_ABOVE, 3 * FOUR_EYES_ABOVE) if case.four_eyes else (ASK_ABOVE, 4000)
    sku, qty, _ = shipment_worth(engine, low, high)
    thread_id, approval = ask_transfer(service, case.requester, sku, qty)
    assert approval["payload"]["distinct_from_requester"] is case.four_eyes
    if case.first_approver:
        first = decide(service, approval["id"], case.first_approver)
        assert first.status_code == 200 and first.json()["status"] == "pending", first.text
    if case.due:
        with Session(engine) as session:
            row = session.get(Approval, approval["id"])
            row.expires_at = row.requested_at
            session.add(row)
            session.commit()
    return thread_id, approval


def _row(engine: Engine, approval_id: str) -> Approval:
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(Approval, approval_id)
        assert row is not None
        return row


def _changed(before: Approval, after: Approval) -> bool:
    return (before.status, before.decided_by) != (after.status, after.decided_by)


@pytest.mark.parametrize("case", TABLE, ids=lambda c: f"{c.caller}-{c.action}-{c.expected}")
def test_the_three_entry_points_agree(
    any_service: TestClient, any_world_engine: Engine, case: Case
) -> None:
    service = any_service
    add_people(any_world_engine)
    runner = service.app.state.stockpilot.require_runner()

    # 1. The authority on the row the real gate wrote. It only reads the row, so the resume
    # below acts on the same approval (one chat turn fewer than an approval of its own).
    thread_id, approval = _prepare(service, any_world_engine, case)
    before = _row(any_world_engine, approval["id"])
    ruling = rule(
        before, caller_of(principal(case.caller)), case.action, service.app.state.stockpilot.clock()
    )
    assert (ALLOWED if ruling.allowed else ruling.status) == case.expected, ruling.reason

    # 2. The graph's resume path, with nothing in front of it.
    ticket = runner.admit(
        thread_id=thread_id,
        assistant_id="ops_chat",
        principal=principal(case.caller),
        graph_input=Command(resume={"decisions": [{"type": case.action}]}),
    )
    runner.run_to_end(ticket)
    after = _row(any_world_engine, approval["id"])
    if case.expected == 409:
        assert after.status == "expired"
    else:
        assert _changed(before, after) is (case.expected == ALLOWED), (before, after)
        if case.expected == ALLOWED:
            assert case.caller in {after.decided_by, after.second_approver}

    # 3. The REST decision.
    _, approval = _prepare(service, any_world_engine, case)
    response = decide(service, approval["id"], case.caller, case.action)
    assert response.status_code == case.expected, response.text
