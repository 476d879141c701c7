"""A REST decision survives a crash of the process that took it (real SIGKILL), on SQLite and
PostgreSQL: the decision is recorded before the thread is resumed, and the worker resumes the
thread exactly once with it; the WMS gets exactly one order. A resume that fails with an
ordinary error (not a crash) is finished by the worker the same way, a few attempts at most."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from agents.executor.dispatcher import Dispatcher
from agents.graphs.common import decisions as graph_decisions
from api.app import create_app
from api.auth import seed_demo_keys
from api.decisions import MAX_RECOVERIES, failed_resumes, recover_failed, sweep_expired
from api.worker import Worker
from inventory.config import PROJECT_ROOT
from inventory.models import AuditEvent, OutboxMessage, Run
from tests.api.decision_crash_worker import settings_for
from tests.api.real_service import (
    ASK_ABOVE,
    FOUR_EYES_ABOVE,
    as_,
    ask_transfer,
    decide,
    order_status,
    shipment_worth,
)


@pytest.fixture
def quiet_service(
    any_world_engine: Engine, tmp_path: Path, low_limits_policy: Path
) -> Iterator[TestClient]:
    """The real service without its worker and dispatcher: the test runs their passes."""
    seed_demo_keys(any_world_engine)
    db = any_world_engine.url.render_as_string(hide_password=False)
    app = create_app(
        settings_for(db, tmp_path, low_limits_policy), engine=any_world_engine, run_worker=False
    )
    with TestClient(app) as client:
        yield client


def _kill_while_deciding(db: str, data_dir: Path, policy: Path, approval: str, kill_at: str):
    command = [
        sys.executable,
        "-m",
        "tests.api.decision_crash_worker",
        *("--db", db, "--data-dir", str(data_dir), "--policy", str(policy)),
        *("--approval", approval, "--kill-at", kill_at),
    ]
    return subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)


def _events(engine: Engine, subject_id: str, kind: str) -> list[AuditEvent]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(AuditEvent).where(
                    AuditEvent.subject_id == subject_id, AuditEvent.kind == kind
                )
            ).all()
        )


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", ["after_record", "after_admit"])
def test_a_recorded_decision_is_resumed_once_after_a_sigkill(
    quiet_service: TestClient,
    any_world_engine: Engine,
    tmp_path: Path,
    low_limits_policy: Path,
    kill_at: str,
) -> None:
    engine = any_world_engine
    db = engine.url.render_as_string(hide_password=False)
    sku, qty, _ = shipment_worth(engine, ASK_ABOVE, FOUR_EYES_ABOVE)
    thread_id, approval = ask_transfer(quiet_service, "demo-ops", sku, qty)
    order_id = approval["subject_id"]

    killed = _kill_while_deciding(db, tmp_path, low_limits_policy, approval["id"], kill_at)
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr[-3000:])

    # The decision survived the crash: recorded, with its order's step and outbox row.
    viewer = as_("demo-viewer")
    shown = quiet_service.get(f"/v1/approvals/{approval['id']}", headers=viewer).json()
    assert (shown["status"], shown["decided_by"]) == ("approved", "demo-approver")
    assert order_status(engine, order_id) == "approved"
    assert len(_events(engine, order_id, "approval.approved")) == 1
    thread = quiet_service.get(f"/threads/{thread_id}", headers=viewer).json()
    assert thread["status"] == "busy"  # the request held the thread from before recording

    # The worker's passes: take over the dead holder (if any), then resume the thread once.
    runner = quiet_service.app.state.stockpilot.runner
    for _ in range(3):
        Worker(runner).run_pending()
        sweep_expired(runner)
    thread = quiet_service.get(f"/threads/{thread_id}", headers=viewer).json()
    assert thread["status"] == "idle", thread["status"]
    assert thread["values"]["outcomes"][order_id]["status"] in {"approved", "queued"}
    with Session(engine) as session:
        rechecks = session.exec(
            select(Run).where(Run.thread_id == thread_id, Run.trigger == "recheck")
        ).all()
        stuck = session.exec(select(Run).where(col(Run.status).in_(["running", "admitted"]))).all()
    assert len(rechecks) == 1 and rechecks[0].status == "succeeded"
    assert stuck == []

    # Exactly one order at the WMS, even when the dispatcher runs twice.
    runtime = runner.catalog.runtime
    dispatcher = Dispatcher(
        runtime.engine, runtime.connectors, clock=runtime.clock, settings=runtime.dispatch
    )
    dispatcher.run_pending()
    dispatcher.run_pending()
    at_wms = [
        r for r in runtime.connectors.wms.list_transfer_orders() if r.order.order_id == order_id
    ]
    assert len(at_wms) == 1
    assert order_status(engine, order_id) == "dispatched"
    with Session(engine) as session:
        outbox = session.exec(
            select(OutboxMessage).where(OutboxMessage.subject_id == order_id)
        ).all()
    assert [m.status for m in outbox] == ["sent"]
    assert len(_events(engine, order_id, "approval.approved")) == 1
    # The dead holder was taken over at once, audited.
    assert [
        e.payload["reason"] for e in _events(engine, approval["run_id"], "run.lease_taken_over")
    ] == ["holder_gone"]


def _fail_applying(monkeypatch: pytest.MonkeyPatch, times: int) -> list[int]:
    """Make the graph's apply_decisions node fail with an ordinary error ``times`` times."""
    real = graph_decisions.records_by_subject
    calls: list[int] = []

    def failing(state):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) <= times:
            raise RuntimeError("a bug in a node")
        return real(state)

    monkeypatch.setattr(graph_decisions, "records_by_subject", failing)
    return calls


def test_a_resume_that_fails_after_the_decision_is_finished_by_the_worker(
    quiet_service: TestClient, any_world_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = any_world_engine
    sku, qty, _ = shipment_worth(engine, ASK_ABOVE, FOUR_EYES_ABOVE)
    thread_id, approval = ask_transfer(quiet_service, "demo-ops", sku, qty)
    order_id = approval["subject_id"]
    _fail_applying(monkeypatch, times=1)

    answered = decide(quiet_service, approval["id"], "demo-approver")
    # Recorded, so 202 (not 500, not 200): the worker finishes the resume.
    assert answered.status_code == 202, answered.text
    assert (answered.json()["status"], answered.json()["decided_by"]) == (
        "approved",
        "demo-approver",
    )
    assert order_status(engine, order_id) == "approved"
    viewer = as_("demo-viewer")
    assert quiet_service.get(f"/threads/{thread_id}", headers=viewer).json()["status"] == "error"

    runner = quiet_service.app.state.stockpilot.runner
    assert failed_resumes(runner) == [thread_id]
    assert recover_failed(runner) == 1
    assert recover_failed(runner) == 0  # finished: nothing left to recover
    for _ in range(2):  # the worker's other passes do not run it again
        Worker(runner).run_pending()
        sweep_expired(runner)
    thread = quiet_service.get(f"/threads/{thread_id}", headers=viewer).json()
    assert thread["status"] == "idle", thread["status"]
    assert thread["values"]["outcomes"][order_id]["status"] in {"approved", "queued"}
    with Session(engine) as session:
        runs = session.exec(select(Run).where(Run.thread_id == thread_id)).all()
        stuck = session.exec(select(Run).where(col(Run.status).in_(["running", "admitted"]))).all()
    assert sorted((r.trigger, r.status) for r in runs) == [
        ("chat", "failed"),
        ("recover", "succeeded"),
    ]
    assert stuck == []
    assert len(_events(engine, order_id, "approval.approved")) == 1

    runtime = runner.catalog.runtime
    Dispatcher(
        runtime.engine, runtime.connectors, clock=runtime.clock, settings=runtime.dispatch
    ).run_pending()
    at_wms = [
        r for r in runtime.connectors.wms.list_transfer_orders() if r.order.order_id == order_id
    ]
    assert len(at_wms) == 1
    assert order_status(engine, order_id) == "dispatched"


def test_a_resume_that_keeps_failing_is_retried_a_few_times_then_left_for_a_person(
    quiet_service: TestClient, any_world_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = any_world_engine
    sku, qty, _ = shipment_worth(engine, ASK_ABOVE, FOUR_EYES_ABOVE)
    thread_id, approval = ask_transfer(quiet_service, "demo-ops", sku, qty)
    calls = _fail_applying(monkeypatch, times=1000)

    assert decide(quiet_service, approval["id"], "demo-approver").status_code == 202
    runner = quiet_service.app.state.stockpilot.runner
    for _ in range(MAX_RECOVERIES + 2):
        recover_failed(runner)
    assert len(calls) == 1 + MAX_RECOVERIES
    assert failed_resumes(runner) == []
    with Session(engine) as session:
        recoveries = session.exec(
            select(Run).where(Run.thread_id == thread_id, Run.trigger == "recover")
        ).all()
        stuck = session.exec(select(Run).where(col(Run.status).in_(["running", "admitted"]))).all()
    assert [r.status for r in recoveries] == ["failed"] * MAX_RECOVERIES
    assert stuck == []
    viewer = as_("demo-viewer")
    assert quiet_service.get(f"/threads/{thread_id}", headers=viewer).json()["status"] == "error"
    # The decision stands; only the thread's report of it waits for a person.
    assert order_status(engine, approval["subject_id"]) == "approved"
