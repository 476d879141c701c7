"""50 approval decisions in flight at once against the real service (ops_chat, its worker, the
outbox dispatcher, the simulated WMS) behind a real server on loopback, on SQLite and PostgreSQL
(with the pooled Postgres checkpointer): no 5xx, nothing left pending or running, and nothing
executed without its decision.

Before: the decision route's request session re-opened a connection after the run (to read the
approval back) and held it across its second hop to a request thread, queued behind every other
decision; each finished decision parked one connection that way, and 50 in flight exhausted the
pool (40 of 40 checked out, ``QueuePool limit ... reached`` → 500 or no answer in 120 s), leaving
runs stuck ``running``. Now a decision holds one connection at a time and none while waiting."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api.app import create_app
from api.auth import seed_demo_keys
from connectors.base import ConnectorSet
from inventory.config import Settings
from inventory.models import AgentThread, Approval, AuditEvent, Run
from tests.agents.helpers import stock_up
from tests.api.conftest import free_port
from tests.api.real_service import (
    ASK_ABOVE,
    DEST,
    FOUR_EYES_ABOVE,
    SOURCE,
    as_,
    executed_without_a_decision,
    shipment_worth,
    wms_order_ids,
)

DECISIONS = 50
#: Chat turns asked at once while the 50 approvals are set up (the server's thread pool).
ASKING = 8


@pytest.fixture
def server(
    any_world_engine: Engine, any_service_settings: Settings
) -> Iterator[tuple[str, FastAPI]]:
    """The app as ``stockpilot serve`` wires it, behind uvicorn on a free loopback port."""
    seed_demo_keys(any_world_engine)
    app = create_app(any_service_settings, engine=any_world_engine, run_worker=True)
    uv = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    )
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not uv.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{uv.config.port}", app
    finally:
        uv.should_exit = True
        thread.join(timeout=30)


def _ask(url: str, sku: str, qty: int) -> str:
    """One chat turn by ``demo-ops`` that ends waiting for an approver; returns its thread."""
    with httpx.Client(base_url=url, timeout=120, headers=as_("demo-ops")) as http:
        thread_id = http.post("/threads", json={}).json()["thread_id"]
        asked = http.post(
            f"/threads/{thread_id}/runs/wait",
            json={
                "assistant_id": "ops_chat",
                "input": {
                    "messages": [
                        {
                            "role": "user",
                            "content": f"ship {qty} pairs of {sku} from {SOURCE} to {DEST}",
                        }
                    ]
                },
            },
        )
    assert asked.status_code == 200 and asked.json().get("__interrupt__"), asked.text
    return thread_id


# 50 chat turns and 50 decisions through the real graphs: ~20-27 s of CPU per backend. Marked
# slow so the scheduler hands it out first (tests/conftest.py) instead of last.
@pytest.mark.slow
def test_fifty_concurrent_decisions_give_no_5xx_and_leave_nothing_stuck(
    server: tuple[str, FastAPI],
    any_world_engine: Engine,
    any_service_settings: Settings,
) -> None:
    url, _ = server
    engine = any_world_engine
    sku, qty, _ = shipment_worth(engine, ASK_ABOVE, FOUR_EYES_ABOVE)
    stock_up(engine, SOURCE, sku, DECISIONS * qty)  # every approval can reserve its stock
    with ThreadPoolExecutor(max_workers=ASKING) as pool:
        threads = set(pool.map(lambda _: _ask(url, sku, qty), range(DECISIONS)))
    with Session(engine) as session:
        pending = [a for a in session.exec(select(Approval)) if a.status == "pending"]
    assert sorted(a.thread_id for a in pending) == sorted(threads)

    barrier = threading.Barrier(DECISIONS)

    def decide(approval_id: str) -> int:
        with httpx.Client(base_url=url, timeout=120) as http:
            barrier.wait(timeout=60)
            return http.post(
                f"/v1/approvals/{approval_id}/decision",
                json={"decision": "approve"},
                headers=as_("demo-approver"),
            ).status_code

    with ThreadPoolExecutor(max_workers=DECISIONS) as pool:
        statuses = list(pool.map(decide, [a.id for a in pending]))

    assert [s for s in statuses if s >= 500] == []
    assert statuses == [200] * DECISIONS  # each request resumed its own thread
    with Session(engine) as session:
        approvals = list(session.exec(select(Approval)))
        assert {a.id: a.status for a in approvals} == {a.id: "approved" for a in pending}
        assert all(a.decided_by == "demo-approver" for a in approvals)
        decided = session.exec(
            select(AuditEvent.subject_id).where(AuditEvent.kind == "approval.approved")
        ).all()
    assert sorted(decided) == sorted(a.subject_id for a in pending)  # each decided exactly once
    with Session(engine) as session:
        runs = list(session.exec(select(Run)))
        not_idle = [t.id for t in session.exec(select(AgentThread)) if t.status != "idle"]
    assert [r.id for r in runs if r.status in {"running", "admitted"}] == []
    assert [r.id for r in runs if r.status == "failed"] == []
    assert not_idle == []  # none busy, none in error: every thread ran to its end
    with ConnectorSet.from_settings(any_service_settings) as systems:
        deadline = time.monotonic() + 60  # the service's dispatcher sends them on its own
        while len(wms_order_ids(systems)) < DECISIONS:
            assert time.monotonic() < deadline, len(wms_order_ids(systems))
            time.sleep(0.2)
        assert wms_order_ids(systems) == {a.subject_id for a in pending}
        assert executed_without_a_decision(engine, systems) == []
