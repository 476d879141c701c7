"""50 approval decisions in flight at once against a real server on loopback, on SQLite and
PostgreSQL (with the pooled Postgres checkpointer): no 5xx, nothing left pending or running.

Before: the request's session held a connection while its run opened more, and 16+ decisions
exhausted the pool (``QueuePool limit ... reached`` → 500), leaving runs stuck ``running``."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from agents.persistence import open_checkpointer
from api.app import create_app
from api.auth import seed_demo_keys
from api.worker import Worker
from inventory.config import Settings
from inventory.models import Approval, Run
from tests.api.conftest import KEYS, free_port, knows_shanghai, tiny_catalog
from tests.api.test_alerts import post_alert, weather

DECISIONS = 50


@pytest.fixture
def server(engine: Engine, tmp_path) -> Iterator[tuple[str, Engine]]:
    settings = Settings(
        database_url=str(engine.url.render_as_string(hide_password=False)),
        data_dir=tmp_path,
        alert_secrets={"demo-weather": "demo-weather-secret"},
    )
    seed_demo_keys(engine)
    knows_shanghai(engine)
    with open_checkpointer(settings) as saver:
        app = create_app(settings, engine=engine, catalog=tiny_catalog(engine, saver))
        port = free_port()
        uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=uv.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not uv.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        try:
            yield f"http://127.0.0.1:{port}", app
        finally:
            uv.should_exit = True
            thread.join(timeout=30)


def test_fifty_concurrent_decisions_give_no_5xx_and_leave_nothing_stuck(
    server, engine: Engine
) -> None:
    url, app = server
    from fastapi.testclient import TestClient

    # 50 waiting alert runs, each with one pending approval (the tiny alert graph).
    with TestClient(app) as client:
        for index in range(DECISIONS):
            assert post_alert(client, weather(f"burst-{index}", mm=60)).status_code == 202
    assert Worker(app.state.stockpilot.runner).run_pending() == DECISIONS
    with Session(engine) as session:
        pending = [a.id for a in session.exec(select(Approval)) if a.status == "pending"]
    assert len(pending) == DECISIONS

    barrier = threading.Barrier(DECISIONS)

    def decide(approval_id: str) -> int:
        with httpx.Client(base_url=url, timeout=120) as http:
            barrier.wait(timeout=30)
            return http.post(
                f"/v1/approvals/{approval_id}/decision",
                json={"decision": "approve"},
                headers={"x-api-key": KEYS["demo-approver"]},
            ).status_code

    with ThreadPoolExecutor(max_workers=DECISIONS) as pool:
        statuses = list(pool.map(decide, pending))

    assert [s for s in statuses if s >= 500] == []
    assert statuses == [200] * DECISIONS
    with Session(engine) as session:
        assert [a.id for a in session.exec(select(Approval)) if a.status == "pending"] == []
        stuck = [r.id for r in session.exec(select(Run)) if r.status in {"running", "admitted"}]
    assert stuck == []
