"""The worker: admitted alert runs are picked up, and unfinished runs continue after a restart."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from langgraph.checkpoint.base import BaseCheckpointSaver
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api.app import create_app
from api.auth import Principal
from api.langgraph_compat.runner import GraphRunner
from api.run_store import utcnow
from api.worker import Worker
from inventory.config import Settings
from inventory.models import Approval, Run
from tests.api.conftest import KEYS, knows_shanghai, tiny_catalog
from tests.api.test_alerts import post_alert, weather

VIEWER = {"x-api-key": KEYS["demo-viewer"]}


@pytest.fixture(autouse=True)
def _pool_cities(engine: Engine) -> None:
    """The alerts name Shanghai: the (otherwise empty) pool must know it."""
    knows_shanghai(engine)


def _run(engine: Engine, run_id: str) -> Run:
    with Session(engine) as session:
        run = session.get(Run, run_id)
    assert run is not None
    return run


def test_worker_runs_an_admitted_alert_to_its_approval(
    any_client: TestClient, engine: Engine
) -> None:
    accepted = post_alert(any_client, weather("w-1", mm=60)).json()
    runner = any_client.app.state.stockpilot.runner
    assert Worker(runner).run_pending() == 1
    run = _run(engine, accepted["run_id"])
    assert run.status == "interrupted" and run.lease_owner is None
    with Session(engine) as session:
        approval = session.exec(select(Approval)).one()
    assert approval.run_id == run.id and approval.requested_by == "stockpilot-worker"
    assert Worker(runner).run_pending() == 0  # nothing is run twice
    steps = any_client.get(f"/v1/runs/{run.id}/steps", headers=VIEWER).json()
    assert [s["completed"] for s in steps if s["completed"]] == [["propose"]]
    assert steps[-1]["next"] == ["await_decision"] and steps[-1]["waiting"] == ["await_decision"]


def test_small_alert_finishes_without_a_human(any_client: TestClient, engine: Engine) -> None:
    accepted = post_alert(any_client, weather("w-2", mm=5)).json()
    Worker(any_client.app.state.stockpilot.runner).run_pending()
    assert _run(engine, accepted["run_id"]).status == "succeeded"
    listed = any_client.get("/v1/runs", params={"status": "succeeded"}, headers=VIEWER).json()
    assert [r["id"] for r in listed["items"]] == [accepted["run_id"]]


def test_background_worker_wakes_on_a_new_alert(
    engine: Engine, api_settings: Settings, any_checkpointer: BaseCheckpointSaver
) -> None:
    from api.auth import seed_demo_keys

    seed_demo_keys(engine)
    knows_shanghai(engine)
    app = create_app(
        api_settings,
        engine=engine,
        catalog=tiny_catalog(engine, any_checkpointer),
        run_worker=True,
    )
    with TestClient(app) as client:
        run_id = post_alert(client, weather("w-3", mm=60)).json()["run_id"]
        deadline = time.monotonic() + 10
        while _run(engine, run_id).status != "interrupted":
            assert time.monotonic() < deadline, _run(engine, run_id).status
            time.sleep(0.05)


def test_admitted_run_continues_after_a_restart(
    any_client: TestClient, engine: Engine, any_checkpointer: BaseCheckpointSaver
) -> None:
    """Admitted by one process, which then went away; a new process's worker runs it."""
    run_id = post_alert(any_client, weather("w-4", mm=60)).json()["run_id"]
    restarted = GraphRunner(engine, tiny_catalog(engine, any_checkpointer))
    assert Worker(restarted).run_pending() == 1
    assert _run(engine, run_id).status == "interrupted"


def test_run_cut_off_mid_way_resumes_from_its_checkpoint(
    any_client: TestClient, engine: Engine, any_checkpointer: BaseCheckpointSaver
) -> None:
    run_id = post_alert(any_client, weather("w-5", mm=60)).json()["run_id"]
    run = _run(engine, run_id)
    # the first process got through `propose`, checkpointed, and died holding the lease
    graph = tiny_catalog(engine, any_checkpointer).graph("alert_response")
    config = {
        "configurable": {
            "thread_id": run.thread_id,
            "run_id": run_id,
            "principal": Principal(name="stockpilot-worker").as_resume_principal(),
        }
    }
    for _ in graph.stream(run.input, config, interrupt_after=["propose"]):
        pass
    assert graph.get_state(config).next == ("await_decision",)
    with Session(engine) as session:
        row = session.get(Run, run_id)
        row.status, row.lease_owner, row.lease_expires_at = "running", "dead:1", utcnow()
        session.add(row)
        session.commit()

    restarted = GraphRunner(engine, tiny_catalog(engine, any_checkpointer))
    assert Worker(restarted).run_pending() == 1
    assert _run(engine, run_id).status == "interrupted"
    with Session(engine) as session:
        assert len(session.exec(select(Approval)).all()) == 1
    steps = any_client.get(f"/v1/runs/{run_id}/steps", headers=VIEWER).json()
    assert [s["completed"] for s in steps if s["completed"]] == [["propose"]]  # not run twice


def test_alert_to_decision_on_both_backends(engine: Engine, tmp_path) -> None:
    """Admission, the worker's claim, the thread's busy flag and the decision on SQLite and
    Postgres alike."""
    from api.auth import seed_demo_keys

    seed_demo_keys(engine)
    knows_shanghai(engine)
    settings = Settings(
        database_url=str(engine.url),
        data_dir=tmp_path,
        alert_secrets={"demo-weather": "demo-weather-secret"},
    )
    app = create_app(settings, engine=engine, catalog=tiny_catalog(engine))
    with TestClient(app) as client:
        run_id = post_alert(client, weather("both-1", mm=60)).json()["run_id"]
        assert Worker(app.state.stockpilot.runner).run_pending() == 1
        assert Worker(app.state.stockpilot.runner).run_pending() == 0
        assert _run(engine, run_id).status == "interrupted"
        decided = client.post(
            "/v1/approvals/AP-TO-both-1/decision",
            json={"decision": "approve"},
            headers={"x-api-key": KEYS["demo-approver"]},
        )
        assert decided.status_code == 200, decided.text
    assert _run(engine, run_id).status == "succeeded"


def test_a_dead_holders_run_is_taken_over_at_once_and_a_live_one_is_left_alone(
    any_client: TestClient, engine: Engine, any_checkpointer: BaseCheckpointSaver
) -> None:
    """Its lease still has 10 minutes to run, but the process holding it is gone: the worker
    continues it now, with an audit row; a live holder's run is not touched."""
    import datetime as dt
    import subprocess
    import sys

    from agents.lease import HOST, new_holder
    from inventory.models import AuditEvent

    dead_pid = int(
        subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    live, dead = (post_alert(any_client, weather(f"w-{n}", mm=60)).json()["run_id"] for n in (6, 7))
    later = utcnow() + dt.timedelta(minutes=10)
    with Session(engine) as session:
        for run_id, holder in ((live, new_holder()), (dead, f"{HOST}:{dead_pid}:run-x")):
            row = session.get(Run, run_id)
            row.status, row.lease_owner, row.lease_expires_at = "running", holder, later
            session.add(row)
        session.commit()

    restarted = GraphRunner(engine, tiny_catalog(engine, any_checkpointer))
    assert Worker(restarted).run_pending() == 1
    assert _run(engine, dead).status == "interrupted"
    assert _run(engine, live).status == "running"  # its holder is alive: left alone
    with Session(engine) as session:
        [event] = session.exec(
            select(AuditEvent).where(AuditEvent.kind == "run.lease_taken_over")
        ).all()
    assert (event.subject_id, event.payload["reason"]) == (dead, "holder_gone")
