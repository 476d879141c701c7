"""The one lease on a thread, on SQLite and PostgreSQL: one holder, heartbeat, takeover of a dead
holder at once (audited), fencing of a stale holder's writes."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
import time

import pytest
from pydantic import BaseModel
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from agents.executor import outbox
from agents.lease import HOST, LeaseHeld, LeaseLost, acquire_lease, holding
from agents.runs import admit_run, stream_run
from inventory.db import session_scope
from inventory.models import AuditEvent, OutboxMessage, Run

NOW = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)


def _runs(engine: Engine, *ids: str, thread: str = "thread-1") -> None:
    with Session(engine) as session:
        for run_id in ids:
            session.add(
                Run(
                    id=run_id,
                    assistant_id="ops_chat",
                    thread_id=thread,
                    trigger="cli",
                    status="admitted",
                    input={},
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
        session.commit()


def _dead_holder() -> str:
    """A holder token of a process of this host that has exited."""
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    return f"{HOST}:{int(child.stdout)}:run-dead"


def _takeovers(engine: Engine) -> list[AuditEvent]:
    with Session(engine) as session:
        return list(
            session.exec(select(AuditEvent).where(AuditEvent.kind == "run.lease_taken_over"))
        )


def test_a_second_holder_cannot_take_a_held_thread(engine: Engine):
    _runs(engine, "r1", "r2")
    first = acquire_lease(engine, run_id="r1", thread_id="thread-1", owner="w1", now=NOW)
    with pytest.raises(LeaseHeld, match="w1"):
        acquire_lease(engine, run_id="r2", thread_id="thread-1", owner="w2", now=NOW)
    assert first.close("succeeded")
    acquire_lease(engine, run_id="r2", thread_id="thread-1", owner="w2", now=NOW)


def test_other_threads_are_not_blocked(engine: Engine):
    _runs(engine, "r1")
    _runs(engine, "r2", thread="thread-2")
    acquire_lease(engine, run_id="r1", thread_id="thread-1", owner="w1", now=NOW)
    acquire_lease(engine, run_id="r2", thread_id="thread-2", owner="w2", now=NOW)


def test_an_expired_lease_is_taken_over_with_an_audit_row(engine: Engine):
    _runs(engine, "r1", "r2")
    acquire_lease(engine, run_id="r1", thread_id="thread-1", owner="w1", ttl_s=30, now=NOW)
    later = NOW + dt.timedelta(seconds=31)
    acquire_lease(engine, run_id="r2", thread_id="thread-1", owner="w2", now=later)
    [event] = _takeovers(engine)
    assert (event.subject_id, event.payload["reason"]) == ("r1", "expired")
    assert event.payload["previous_holder"] == "w1" and event.payload["taken_by_run"] == "r2"
    with Session(engine) as session:
        abandoned = session.get(Run, "r1")
    assert abandoned.status == "failed" and "taken over by run r2" in abandoned.error


def test_a_dead_holder_is_taken_over_at_once(engine: Engine):
    """Its lease has 10 minutes left, but its process is gone: no waiting for the expiry."""
    _runs(engine, "r1")
    dead = _dead_holder()
    acquire_lease(engine, run_id="r1", thread_id="thread-1", owner=dead, ttl_s=600)
    lease = acquire_lease(engine, run_id="r1", thread_id="thread-1", ttl_s=600)
    [event] = _takeovers(engine)
    assert event.payload["reason"] == "holder_gone" and event.payload["previous_holder"] == dead
    with Session(engine) as session:
        run = session.get(Run, "r1")
    assert (run.status, run.lease_owner) == ("running", lease.token)


def test_a_stale_holder_is_fenced_after_a_takeover(engine: Engine):
    """The first holder stalls past its lease; once taken over, it can neither write outbox
    rows nor record the run's end, and its heartbeat notices."""
    _runs(engine, "r1")
    stale = acquire_lease(engine, run_id="r1", thread_id="thread-1", owner="w1", ttl_s=1)
    time.sleep(1.1)
    fresh = acquire_lease(engine, run_id="r1", thread_id="thread-1", owner="w2", ttl_s=60)

    class Note(BaseModel):
        text: str

    with holding(stale), pytest.raises(LeaseLost), session_scope(engine) as session:
        outbox.enqueue(
            session,
            target="notify",
            action="send",
            subject_id="r1",
            payload=Note(text="late"),
            idempotency_key="stale-write",
            at=NOW,
        )
    assert not stale.renew() and stale.lost.is_set()
    assert not stale.close("succeeded")
    with Session(engine) as session:
        assert session.exec(select(OutboxMessage)).all() == []
        assert session.get(Run, "r1").lease_owner == fresh.token
    with holding(fresh), session_scope(engine) as session:
        outbox.enqueue(
            session,
            target="notify",
            action="send",
            subject_id="r1",
            payload=Note(text="on time"),
            idempotency_key="fresh-write",
            at=NOW,
        )
    assert fresh.close("succeeded")


def test_the_heartbeat_keeps_a_long_run_from_being_taken_over(engine: Engine):
    _runs(engine, "r1", "r2")
    lease = acquire_lease(engine, run_id="r1", thread_id="thread-1", owner="w1", ttl_s=0.6)
    with holding(lease):
        time.sleep(1.5)  # longer than the lease: only the heartbeat keeps it
        with pytest.raises(LeaseHeld):
            acquire_lease(engine, run_id="r2", thread_id="thread-1", owner="w2")
    assert lease.close("succeeded")


def test_racing_holders_get_exactly_one_lease(engine: Engine):
    ids = [f"r{i}" for i in range(6)]
    _runs(engine, *ids)
    winners: list[str] = []
    barrier = threading.Barrier(len(ids))

    def grab(run_id: str) -> None:
        barrier.wait()
        try:
            acquire_lease(engine, run_id=run_id, thread_id="thread-1", owner=f"w-{run_id}")
            winners.append(run_id)
        except LeaseHeld:
            pass

    threads = [threading.Thread(target=grab, args=(run_id,)) for run_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1


def test_a_refused_run_leaves_no_row_and_a_failed_run_frees_its_thread(engine: Engine):
    class Boom:
        def stream(self, *_args, **_kwargs):
            raise RuntimeError("node failed")
            yield  # pragma: no cover

    admitted = admit_run(engine, thread_id="t", assistant_id="ops_chat", trigger="cli")
    with pytest.raises(LeaseHeld):
        admit_run(engine, thread_id="t", assistant_id="ops_chat", trigger="cli")
    with Session(engine) as session:
        assert len(session.exec(select(Run)).all()) == 1
    with pytest.raises(RuntimeError):
        list(stream_run(admitted, Boom(), None))  # type: ignore[arg-type]
    with Session(engine) as session:
        run = session.get(Run, admitted.run_id)
    assert (run.status, run.lease_owner) == ("failed", None) and "node failed" in run.error
    admit_run(engine, thread_id="t", assistant_id="ops_chat", trigger="cli")


def test_a_holder_ending_while_a_run_is_refused_still_gives_a_clear_refusal(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
):
    """Found under multitask interrupt on PostgreSQL: the holder ended between the lease check
    and the refusal's wording, and the refusal read its released lease (``until None``:
    TypeError, HTTP 500). SQLite serialises writers, so there the holder cannot end meanwhile."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's writer lock keeps the holder from ending during the check")
    import agents.lease as lease_module

    _runs(engine, "r1", "r2")
    first = acquire_lease(engine, run_id="r1", thread_id="thread-1", owner="w1", now=NOW)
    real = lease_module.lapse_reason

    def holder_ends_right_after_the_check(run: Run, now: dt.datetime) -> str | None:
        reason = real(run, now)
        assert first.close("succeeded")
        return reason

    monkeypatch.setattr(lease_module, "lapse_reason", holder_ends_right_after_the_check)
    with pytest.raises(LeaseHeld, match="w1"):
        acquire_lease(engine, run_id="r2", thread_id="thread-1", owner="w2", now=NOW)
