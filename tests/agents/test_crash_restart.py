"""SIGKILL a real worker between approval and dispatch, mid-send and after dispatch; restart;
the simulated WMS must hold exactly one order per approved line, on SQLite and PostgreSQL
(DESIGN §4, §10), and the restarted process takes the dead worker's thread over at once."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from connectors.base import ConnectorSet
from inventory.config import PROJECT_ROOT
from inventory.db import make_engine
from inventory.models import AuditEvent, OutboxMessage, Run, TransferOrder
from tests.agents.crash_worker import make_runtime, run_step
from tests.agents.helpers import SKU, stock_up

THREAD = "crash-thread"


def _worker(
    db: str, sim: Path, step: str, kill_at: str | None = None
) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "tests.agents.crash_worker",
        "--db",
        db,
        "--sim",
        str(sim),
        "--thread",
        "crash-thread",
        "--step",
        step,
    ]
    if kill_at:
        command += ["--kill-at", kill_at]
    return subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", ["after_apply", "mid_send", "after_execute"])
def test_killed_worker_resumes_and_the_wms_holds_exactly_one_order(
    any_world_engine: Engine, tmp_path: Path, kill_at: str
):
    db = any_world_engine.url.render_as_string(hide_password=False)
    engine = make_engine(db)
    stock_up(engine, "DC-SHA", SKU, 600)
    sim = tmp_path / "sim.sqlite"

    with ConnectorSet.simulated(sim) as connectors:
        # This process asks; a worker process takes the approval and is killed; this process,
        # a different one, then picks the thread up from the checkpoints.
        runtime = make_runtime(db, connectors)
        started = run_step(runtime, THREAD, "start")
        assert (started.status, len(started.interrupts)) == ("interrupted", 1)

        killed = _worker(db, sim, "approve", kill_at)
        assert killed.returncode == -signal.SIGKILL, killed.stderr

        resumed = run_step(runtime, THREAD, "continue")
        assert resumed.status == "succeeded"
        at_wms = connectors.wms.list_transfer_orders()
    assert [
        (r.order.source, r.order.dest, [(ln.sku, ln.qty) for ln in r.order.lines]) for r in at_wms
    ] == [("DC-SHA", "SHA-S01", [(SKU, 100)])]
    with Session(engine) as session:
        order = session.exec(select(TransferOrder)).one()
        outbox = session.exec(select(OutboxMessage)).one()
    assert order.status == "dispatched" and order.external_ref == at_wms[0].reference
    assert outbox.status == "sent"
    with Session(engine) as session:
        runs = session.exec(select(Run)).all()
        takeovers = session.exec(
            select(AuditEvent).where(AuditEvent.kind == "run.lease_taken_over")
        ).all()
    assert [r for r in runs if r.status in {"running", "admitted"}] == []  # nothing stuck
    if kill_at != "mid_send":  # killed inside the run: its thread was taken over, audited
        assert [t.payload["reason"] for t in takeovers] == ["holder_gone"]
    engine.dispose()
