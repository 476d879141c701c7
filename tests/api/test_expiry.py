"""Expiry in the running service: the worker's sweep settles a due approval, its order and the
waiting thread, with nobody calling the API — on both databases."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from inventory.models import Approval, AuditEvent
from tests.api.real_service import (
    ASK_ABOVE,
    FOUR_EYES_ABOVE,
    as_,
    ask_transfer,
    order_status,
    shipment_worth,
)


def test_the_worker_expires_due_approvals_and_resumes_their_thread(
    any_service: TestClient, any_world_engine: Engine
) -> None:
    engine = any_world_engine
    sku, qty, _ = shipment_worth(engine, ASK_ABOVE, FOUR_EYES_ABOVE)
    thread_id, approval = ask_transfer(any_service, "demo-ops", sku, qty)
    sku, qty, _ = shipment_worth(engine, ASK_ABOVE, FOUR_EYES_ABOVE)
    other_thread, other = ask_transfer(any_service, "demo-ops", sku, qty)
    with Session(engine) as session:
        row = session.get(Approval, approval["id"])
        row.expires_at = row.requested_at  # due now on the world's clock; `other` is not
        session.add(row)
        session.commit()

    deadline = time.monotonic() + 30
    while True:
        viewer = as_("demo-viewer")
        shown = any_service.get(f"/v1/approvals/{approval['id']}", headers=viewer).json()
        thread = any_service.get(f"/threads/{thread_id}", headers=viewer).json()
        if shown["status"] == "expired" and thread["status"] == "idle":
            break
        assert time.monotonic() < deadline, (shown, thread)
        time.sleep(0.2)
    assert shown["decided_by"] == "system"
    assert order_status(engine, approval["subject_id"]) == "expired"
    last = thread["values"]["messages"][-1]["content"]
    assert "expired" in str(thread["values"]["messages"][-2:]), last
    with Session(engine) as session:
        kinds = {
            e.kind
            for e in session.exec(
                select(AuditEvent).where(AuditEvent.subject_id == approval["subject_id"])
            ).all()
        }
    assert {"approval.expired", "transfer_order.expired"} <= kinds
    # The approval that is not due keeps waiting, and is still listed.
    pending = any_service.get("/v1/approvals", headers=as_("demo-viewer")).json()["items"]
    assert [a["id"] for a in pending] == [other["id"]]
    assert order_status(engine, other["subject_id"]) == "pending_approval"
    assert (
        any_service.get(f"/threads/{other_thread}", headers=as_("demo-viewer")).json()["status"]
        == "interrupted"
    )
