"""``/v1/outbox`` and ``stockpilot outbox``: see what waits or keeps failing, re-send, cancel."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from agents.executor import orders, outbox
from agents.executor.timing import as_utc
from evals.world import set_clock
from inventory.db import dispose_engines, session_scope
from inventory.models import OrderStatus, OutboxMessage, TransferOrder
from stockpilot_cli.main import full_app
from tests.agents.executor_helpers import NOW, SOURCE, decided, position, seed_pool, shipment
from tests.api.conftest import KEYS

app = full_app()


def key(name: str) -> dict[str, str]:
    return {"x-api-key": KEYS[name]}


def _approved(engine: Engine, n: int = 2) -> tuple[list[str], list[str]]:
    skus = seed_pool(engine)
    with session_scope(engine) as session:
        ids = []
        for index in range(n):
            order = orders.create_transfer_order(session, shipment([(skus[index], 2)]), at=NOW)
            decided(session, order.id, "lee")
            orders.approve_transfer_order(session, order.id, decided_by="lee", at=NOW)
            ids.append(order.id)
    return ids, skus


def _row_id(engine: Engine, order_id: str) -> int:
    with Session(engine) as session:
        return outbox.messages_for(session, order_id)[0].id


def test_ops_list_alerting_rows_requeue_and_cancel(any_client: TestClient, engine: Engine):
    (first, second), skus = _approved(engine)
    assert position(engine, SOURCE, skus[1]).reserved == 2
    assert any_client.get("/v1/outbox", headers=key("demo-viewer")).status_code == 403
    listed = any_client.get("/v1/outbox", headers=key("demo-ops")).json()
    assert listed["total"] == 2 and not any(r["alerting"] for r in listed["items"])
    assert "payload" not in listed["items"][0]

    with session_scope(engine) as session:  # the WMS refused the first one
        outbox.mark_failed(session, _row_id(engine, first), error="HTTP 422", now=as_utc(NOW))
    alerting = any_client.get("/v1/outbox", params={"alerting": "true"}, headers=key("demo-ops"))
    assert [r["subject_id"] for r in alerting.json()["items"]] == [first]

    requeued = any_client.post(
        f"/v1/outbox/{_row_id(engine, first)}/requeue", headers=key("demo-ops")
    )
    assert requeued.status_code == 200 and requeued.json()["status"] == "pending"

    row = _row_id(engine, second)
    assert (
        any_client.post(f"/v1/outbox/{row}/cancel", json={}, headers=key("demo-ops")).status_code
        == 422
    )
    cancelled = any_client.post(
        f"/v1/outbox/{row}/cancel", json={"reason": "found locally"}, headers=key("demo-ops")
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = any_client.post(
        f"/v1/outbox/{row}/cancel", json={"reason": "x"}, headers=key("demo-ops")
    )
    assert again.status_code == 409 and "only pending or failed" in again.json()["error"]["message"]
    missing = any_client.post("/v1/outbox/424242/requeue", headers=key("demo-ops"))
    assert missing.status_code == 404
    with Session(engine) as session:
        assert session.get(TransferOrder, second).status == OrderStatus.CANCELLED
    assert position(engine, SOURCE, skus[1]).reserved == 0  # released with the order


def test_cli_requeue_and_cancel(engine: Engine):
    (first, second), _ = _approved(engine)
    set_clock(engine, as_utc(NOW))  # the pool's clock, which outbox rows are stamped on
    db = engine.url.render_as_string(hide_password=False)
    runner = CliRunner()
    try:
        listed = runner.invoke(app, ["outbox", "list", "--db", db])
        assert listed.exit_code == 0, listed.output
        cancelled = runner.invoke(
            app,
            ["outbox", "cancel", str(_row_id(engine, second)), "--reason", "no", "--db", db],
        )
        assert cancelled.exit_code == 0, cancelled.output
        assert '"status": "cancelled"' in cancelled.output
        refused = runner.invoke(
            app, ["outbox", "requeue", str(_row_id(engine, second)), "--db", db]
        )
        assert refused.exit_code == 1 and "only pending or failed" in refused.output
        unknown = runner.invoke(app, ["outbox", "requeue", "999", "--db", db])
        assert unknown.exit_code == 1 and "no outbox row with id 999" in unknown.output
    finally:
        dispose_engines()
    with Session(engine) as session:
        assert session.get(OutboxMessage, _row_id(engine, second)).status == "cancelled"
        assert session.get(TransferOrder, first).status == OrderStatus.APPROVED
