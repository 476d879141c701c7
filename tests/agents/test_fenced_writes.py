"""A stale lease holder (its lease taken over) can no longer decide approvals, move orders or
write checkpoints, on SQLite and PostgreSQL; the holder that took over can."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from agents.approvals import approval_id, settle_approval
from agents.authority import Caller
from agents.graphs.common import subjects
from agents.graphs.common.decisions import record_decision
from agents.lease import Lease, LeaseLost, acquire_lease, holding
from agents.persistence import open_checkpointer
from agents.registry import build_graph
from connectors.base import ConnectorSet
from inventory.db import session_scope
from inventory.models import Approval, AuditEvent, OutboxMessage, TransferOrder
from tests.agents.crash_worker import make_runtime, run_step
from tests.agents.helpers import SKU, stock_up

THREAD = "fenced-thread"
ALICE = Caller(name="alice", roles=["approver"])


def _snapshot(engine: Engine, order_id: str) -> tuple:
    with Session(engine) as session:
        approval = session.get(Approval, approval_id(order_id))
        order = session.get(TransferOrder, order_id)
        return (
            approval.status,
            approval.decided_by,
            order.status,
            len(session.exec(select(OutboxMessage)).all()),
            len(session.exec(select(AuditEvent)).all()),
        )


def _taken_over(engine: Engine, run_id: str) -> tuple[Lease, Lease]:
    """(the stale holder, the holder that took its lease over after it lapsed)."""
    stale = acquire_lease(engine, run_id=run_id, thread_id=THREAD, owner="w1", ttl_s=1)
    time.sleep(1.1)
    fresh = acquire_lease(engine, run_id=run_id, thread_id=THREAD, owner="w2", ttl_s=60)
    return stale, fresh


@pytest.mark.slow
def test_a_stale_holder_cannot_decide_move_orders_or_checkpoint(
    any_world_engine: Engine, tmp_path: Path
) -> None:
    db = any_world_engine.url.render_as_string(hide_password=False)
    stock_up(any_world_engine, "DC-SHA", SKU, 600)
    with ConnectorSet.simulated(tmp_path / "sim.sqlite") as connectors:
        runtime = make_runtime(db, connectors)
        engine = runtime.engine
        started = run_step(runtime, THREAD, "start")
        assert started.status == "interrupted"
        with Session(engine) as session:
            order_id = session.exec(select(TransferOrder.id)).one()
        before = _snapshot(engine, order_id)
        assert before[:3] == ("pending", None, "pending_approval")
        stale, fresh = _taken_over(engine, started.run_id)
        before = _snapshot(engine, order_id)  # the takeover wrote its audit row
        now = runtime.clock()

        with holding(stale):
            # An approval decision (and with it the order's step and outbox row).
            with pytest.raises(LeaseLost):
                record_decision(
                    engine, now, approval_id(order_id), ALICE, "approve", None, run_id="r"
                )
            # An approval written directly, and order status steps.
            with pytest.raises(LeaseLost), session_scope(engine) as session:
                approval = session.get(Approval, approval_id(order_id))
                settle_approval(session, approval, "rejected", "alice", now, "late")
            for step in (subjects.reject, subjects.withdraw):
                with pytest.raises(LeaseLost), session_scope(engine) as session:
                    step(session, "transfer_order", order_id, by="alice", at=now, comment="x")
            with pytest.raises(LeaseLost), session_scope(engine) as session:
                subjects.expire(session, "transfer_order", order_id, at=now)
        assert _snapshot(engine, order_id) == before

        # Checkpoints: neither a checkpoint nor a task's writes land.
        with open_checkpointer(runtime.settings) as saver:
            graph = build_graph("ops_chat", runtime, saver)
            config = graph.get_state({"configurable": {"thread_id": THREAD}}).config
            stored = saver.get_tuple(config)
            history = len(list(saver.list({"configurable": {"thread_id": THREAD}})))
            with holding(stale):
                with pytest.raises(LeaseLost):
                    saver.put_writes(config, [("messages", [])], task_id="stale-task")
                with pytest.raises(LeaseLost):
                    saver.put(config, stored.checkpoint, stored.metadata, {})
            after = saver.get_tuple(config)
            assert after.pending_writes == stored.pending_writes
            assert len(list(saver.list({"configurable": {"thread_id": THREAD}}))) == history

        # The holder that took over decides normally.
        with holding(fresh):
            outcome = record_decision(
                engine,
                now + dt.timedelta(seconds=1),
                approval_id(order_id),
                ALICE,
                "approve",
                "ok",
                run_id=started.run_id,
            )
        assert outcome["status"] == "approved"
        approval_status, decided_by, order_status, outbox, _ = _snapshot(engine, order_id)
        assert (approval_status, decided_by, order_status, outbox) == (
            "approved",
            "alice",
            "approved",
            before[3] + 1,
        )
        assert fresh.close("succeeded")
        engine.dispose()
