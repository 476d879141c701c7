"""The approvals inbox tells the truth, on SQLite and PostgreSQL: an approval is offered as
decidable only while its thread is interrupted on it; while a run holds the thread, or its dead
holder waits to be taken over, it is listed with that state and a decision gets 409 with the
reason (nothing recorded); once the worker has recovered the thread it is decidable again."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from agents.lease import HOST, acquire_lease
from api.worker import Worker
from inventory.models import Approval, OutboxMessage, Run
from tests.api.real_service import (
    ASK_ABOVE,
    FOUR_EYES_ABOVE,
    as_,
    ask_transfer,
    decide,
    order_status,
    shipment_worth,
)
from tests.api.test_decision_crash import quiet_service  # noqa: F401  (fixture)


def _inbox(client: TestClient, **params: str) -> dict[str, dict]:
    items = client.get("/v1/approvals", params=params, headers=as_("demo-viewer")).json()["items"]
    return {a["id"]: a for a in items}


def _dead_holder() -> str:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    return f"{HOST}:{int(child.stdout)}:run-dead"


def _still_pending(engine: Engine, approval: dict) -> None:
    with Session(engine) as session:
        row = session.get(Approval, approval["id"])
        assert (row.status, row.decided_by) == ("pending", None)
        assert session.exec(select(OutboxMessage)).all() == []
    assert order_status(engine, approval["subject_id"]) == "pending_approval"


def test_only_approvals_a_run_waits_on_are_offered(
    quiet_service: TestClient,  # noqa: F811
    any_world_engine: Engine,
) -> None:
    client, engine = quiet_service, any_world_engine
    sku, qty, _ = shipment_worth(engine, ASK_ABOVE, FOUR_EYES_ABOVE)
    thread_id, approval = ask_transfer(client, "demo-ops", sku, qty)
    ident = approval["id"]
    assert (approval["state"], approval["decidable"]) == ("awaiting_decision", True)
    assert ident in _inbox(client, decidable="true")

    # A live run holds the thread (e.g. a chat turn on it): listed, not offered, 409 with why.
    lease = acquire_lease(engine, run_id=approval["run_id"], thread_id=thread_id, ttl_s=60)
    shown = _inbox(client)[ident]
    assert (shown["state"], shown["decidable"]) == ("run_in_progress", False)
    assert approval["run_id"] in shown["state_reason"]
    assert ident not in _inbox(client, decidable="true")
    assert ident in _inbox(client, decidable="false")
    refused = decide(client, ident, "demo-approver")
    assert refused.status_code == 409 and "run_in_progress" in refused.json()["error"]["message"]
    _still_pending(engine, approval)

    # Its holder died (a crash): recovering until the worker takes the thread over.
    with Session(engine) as session:
        session.execute(
            sa.update(Run)
            .where(Run.id == lease.run_id)
            .values(
                lease_owner=_dead_holder(),
                lease_expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10),
            )
        )
        session.commit()
    shown = client.get(f"/v1/approvals/{ident}", headers=as_("demo-viewer")).json()
    assert (shown["state"], shown["decidable"]) == ("recovering", False)
    refused = decide(client, ident, "demo-approver")
    assert refused.status_code == 409 and "recovering" in refused.json()["error"]["message"]
    _still_pending(engine, approval)

    Worker(client.app.state.stockpilot.runner).run_pending()
    shown = _inbox(client, decidable="true")[ident]
    assert (shown["state"], shown["decidable"]) == ("awaiting_decision", True)
    decided = decide(client, ident, "demo-approver")
    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert (body["status"], body["state"], body["decidable"]) == ("approved", "settled", False)
    assert order_status(engine, approval["subject_id"]) == "approved"
    assert ident not in _inbox(client)
    thread = client.get(f"/threads/{thread_id}", headers=as_("demo-viewer")).json()
    assert thread["status"] == "idle"


def test_an_approval_its_thread_no_longer_asks_about_is_not_offered(
    quiet_service: TestClient,  # noqa: F811
    any_world_engine: Engine,
) -> None:
    """A pending row whose thread's interrupt does not ask about it (the run ended without
    asking) is listed as ``not_waiting``, never offered; the one it asks about is."""
    client, engine = quiet_service, any_world_engine
    sku, qty, _ = shipment_worth(engine, ASK_ABOVE, FOUR_EYES_ABOVE)
    _, approval = ask_transfer(client, "demo-ops", sku, qty)
    with Session(engine) as session:  # a pending row whose subject the thread never asks about
        row = session.get(Approval, approval["id"])
        orphan = Approval(
            **{
                **row.model_dump(),
                "id": "AP-TO-orphan",
                "subject_id": "TO-orphan",
                "requested_at": row.requested_at + dt.timedelta(seconds=1),
            }
        )
        session.add(orphan)
        session.commit()
    shown = _inbox(client)["AP-TO-orphan"]
    assert (shown["state"], shown["decidable"]) == ("not_waiting", False)
    assert _inbox(client)[approval["id"]]["decidable"] is True
