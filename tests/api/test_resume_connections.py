"""A ``runs/wait`` resume that finds its approval expired holds one pooled connection at a time,
on SQLite and PostgreSQL.

The refusal first settles the approval as expired and resumes its thread to tell it (a whole
graph run: ``api.decisions.expire_and_recheck``). Before, the request's own session still held
its connection meanwhile, so one request thread held two (or more) at once: under load those
parked connections are what exhausted the pool for the REST decisions (``decide`` was fixed the
same way: no request session across that path, short sessions of its own)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.app import create_app
from api.auth import seed_demo_keys
from inventory.config import Settings
from inventory.models import Approval
from tests.api.real_service import ASK_ABOVE, FOUR_EYES_ABOVE, ask_transfer, resume, shipment_worth

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class CheckoutCounter:
    """Connections checked out of an engine's pool per thread: now, and the most at once."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.lock = threading.Lock()
        self.now: dict[int, int] = {}
        self.most: dict[str, int] = {}
        self.owner: dict[int, int] = {}  # connection record → the thread that took it

    def __enter__(self) -> CheckoutCounter:
        event.listen(self.engine, "checkout", self._out)
        event.listen(self.engine, "checkin", self._in)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine, "checkout", self._out)
        event.remove(self.engine, "checkin", self._in)

    def _out(self, _dbapi, record, _proxy) -> None:  # type: ignore[no-untyped-def]
        thread = threading.current_thread()
        with self.lock:
            self.owner[id(record)] = thread.ident or 0
            held = self.now[thread.ident or 0] = self.now.get(thread.ident or 0, 0) + 1
            self.most[thread.name] = max(self.most.get(thread.name, 0), held)

    def _in(self, _dbapi, record) -> None:  # type: ignore[no-untyped-def]
        with self.lock:
            ident = self.owner.pop(id(record), None)
            if ident is not None:
                self.now[ident] -= 1


@pytest.fixture
def service(any_world_engine: Engine, any_service_settings: Settings) -> Iterator[TestClient]:
    """The service without its worker: nobody but the request expires the approval."""
    seed_demo_keys(any_world_engine)
    app = create_app(any_service_settings, engine=any_world_engine, run_worker=False)
    with TestClient(app) as client:
        yield client


def test_an_expired_resume_holds_one_connection_at_a_time(
    service: TestClient, any_world_engine: Engine
) -> None:
    engine = any_world_engine
    sku, qty, _ = shipment_worth(engine, ASK_ABOVE, FOUR_EYES_ABOVE)
    thread_id, approval = ask_transfer(service, "demo-ops", sku, qty)
    with Session(engine) as session:
        row = session.get(Approval, approval["id"])
        assert row is not None
        row.expires_at = row.requested_at  # due at once on the world's clock
        session.add(row)
        session.commit()

    with CheckoutCounter(engine) as counter:
        answer = resume(
            service, "demo-approver", thread_id, {"resume": {"decisions": [{"type": "approve"}]}}
        )
    assert answer.status_code == 409 and "expired" in answer.json()["error"]["message"]
    with Session(engine) as session:
        row = session.get(Approval, approval["id"])
        assert row is not None and (row.status, row.decided_by) == ("expired", "system")
    assert counter.most, "the resume used the pool"
    assert max(counter.most.values()) == 1, counter.most
