"""The service as ``stockpilot serve`` wires it (real agents, worker, outbox dispatcher, simulated
WMS) on the small demo world, on SQLite and PostgreSQL: four-eyes from the gate's verdict, the
chat requester, the signed rain alert end to end, and an outbox send that outlives a WMS outage."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from api.auth import Role, create_api_key
from api.signatures import signed_headers
from connectors.base import ConnectorSet
from inventory.config import Settings
from inventory.models import Sku, StockPosition, Style, TransferOrder
from tests.agents.helpers import drain

#: An ops lead who may both ask in chat and approve: the person four-eyes is about.
LEAD_KEY = "sp-test-ops-lead-key"
FOUR_EYES_ABOVE = 5000.0  # tests/api/conftest.py LOW_LIMITS
ASK_ABOVE = 2000.0


def as_(who: str) -> dict[str, str]:
    from tests.api.conftest import KEYS

    return {"x-api-key": LEAD_KEY if who == "ops-lead" else KEYS[who]}


@pytest.fixture
def service(any_service: TestClient) -> TestClient:
    return any_service


@pytest.fixture
def service_settings(any_service_settings: Settings) -> Settings:
    return any_service_settings


@pytest.fixture
def lead(any_world_engine: Engine) -> str:
    with Session(any_world_engine) as session:
        create_api_key(session, "ops-lead", [Role.VIEWER, Role.OPS, Role.APPROVER], LEAD_KEY)
        session.commit()
    return "ops-lead"


def wait_for(what: str, probe: Callable[[], Any], timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout_s:.0f} s waiting for {what}"
        time.sleep(0.1)


def shipment_worth(engine: Engine, low: float, high: float) -> tuple[str, int, float]:
    """A SKU and quantity at DC-SHA whose retail value lies in (low, high]."""
    with Session(engine) as session:
        rows = session.exec(
            select(StockPosition, Style.price)
            .join(Sku, col(Sku.code) == StockPosition.sku_code)
            .join(Style, col(Style.code) == Sku.style_code)
            .where(StockPosition.location_code == "DC-SHA")
        ).all()
        for position, price in sorted(rows, key=lambda r: -r[1]):
            qty = math.floor(low / price) + 1
            if qty * price <= high and qty <= position.atp:
                return position.sku_code, qty, qty * price
    raise AssertionError(f"no DC-SHA position worth between {low} and {high}")


def ask_in_chat(service: TestClient, who: str, sku: str, qty: int) -> tuple[str, dict]:
    thread_id = service.post("/threads", json={}, headers=as_(who)).json()["thread_id"]
    ask = f"ship {qty} pairs of {sku} from DC-SHA to SHA-S01"
    result = service.post(
        f"/threads/{thread_id}/runs/wait",
        json={
            "assistant_id": "ops_chat",
            "input": {"messages": [{"role": "user", "content": ask}]},
        },
        headers=as_(who),
    )
    assert result.status_code == 200, result.text
    assert result.json()["__interrupt__"], result.json()
    pending = service.get(
        "/v1/approvals", params={"status": "pending"}, headers=as_("demo-viewer")
    ).json()["items"]
    (approval,) = [a for a in pending if a["thread_id"] == thread_id]
    return thread_id, approval


def approve(service: TestClient, approval_id: str, who: str) -> httpx.Response:
    return service.post(
        f"/v1/approvals/{approval_id}/decision", json={"decision": "approve"}, headers=as_(who)
    )


def wms_orders(systems: ConnectorSet, order_id: str) -> list:
    return [r for r in systems.wms.list_transfer_orders() if r.order.order_id == order_id]


def test_chat_order_above_four_eyes_needs_two_approvers_other_than_the_requester(
    service: TestClient, any_world_engine: Engine, systems: ConnectorSet, lead: str
) -> None:
    sku, qty, value = shipment_worth(any_world_engine, FOUR_EYES_ABOVE, 3 * FOUR_EYES_ABOVE)
    thread_id, approval = ask_in_chat(service, lead, sku, qty)
    order_id = approval["subject_id"]
    assert approval["requested_by"] == "ops-lead"  # the caller, not a service account
    assert approval["payload"]["value"] == pytest.approx(value)
    assert approval["payload"]["approvers_required"] == 2
    # The order's own expected value (sales saved) is below the limit: only the gate's retail
    # value puts it above, and that is what the API must go by.
    order = service.get(f"/v1/transfer-orders/{order_id}", headers=as_("demo-viewer")).json()
    assert order["status"] == "pending_approval", order
    with Session(any_world_engine) as session:
        assert session.get(TransferOrder, order_id).expected_value < FOUR_EYES_ABOVE

    own = approve(service, approval["id"], lead)
    assert own.status_code == 403, own.text
    assert "four-eyes" in own.json()["error"]["message"]
    assert "'ops-lead'" in own.json()["error"]["message"]
    resumed = service.post(
        f"/threads/{thread_id}/runs/wait",
        json={
            "assistant_id": "ops_chat",
            "command": {"resume": {"decisions": [{"type": "approve"}]}},
        },
        headers=as_(lead),
    )
    assert resumed.status_code == 403 and "four-eyes" in resumed.json()["error"]["message"]

    first = approve(service, approval["id"], "demo-approver")
    assert first.status_code == 200, first.text
    assert (first.json()["status"], first.json()["decided_by"]) == ("pending", "demo-approver")
    twice = approve(service, approval["id"], "demo-approver")
    assert twice.status_code == 403 and "first approval" in twice.json()["error"]["message"]
    assert not wms_orders(systems, order_id)

    second = approve(service, approval["id"], "demo-approver-2")
    assert second.status_code == 200, second.text
    assert second.json()["status"] == "approved"
    assert second.json()["second_approver"] == "demo-approver-2"
    assert len(wait_for("the order at the WMS", lambda: wms_orders(systems, order_id), 10)) == 1


def test_the_requester_may_withdraw_an_order_above_four_eyes(
    service: TestClient, any_world_engine: Engine, lead: str
) -> None:
    sku, qty, _ = shipment_worth(any_world_engine, FOUR_EYES_ABOVE, 3 * FOUR_EYES_ABOVE)
    _, approval = ask_in_chat(service, lead, sku, qty)
    response = service.post(
        f"/v1/approvals/{approval['id']}/decision",
        json={"decision": "reject", "comment": "changed my mind"},
        headers=as_(lead),
    )
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["decided_by"]) == ("rejected", "ops-lead")


def test_an_approved_order_reaches_the_wms_once_after_an_outage(
    service: TestClient,
    any_world_engine: Engine,
    systems: ConnectorSet,
    service_settings: Settings,
    lead: str,
) -> None:
    sku, qty, _ = shipment_worth(any_world_engine, ASK_ABOVE, FOUR_EYES_ABOVE)
    _, approval = ask_in_chat(service, lead, sku, qty)
    order_id = approval["subject_id"]
    server = systems.simulated_server
    assert server is not None
    # More failures than one send's retries: the decision's own send gives up, the row waits.
    httpx.post(f"{server.url}/admin/faults", json={"system": "wms", "times": 6}).raise_for_status()

    decided = approve(service, approval["id"], "demo-approver")
    assert decided.status_code == 200 and decided.json()["status"] == "approved", decided.text
    with Session(any_world_engine) as session:
        assert session.get(TransferOrder, order_id).status == "approved"  # not sent yet
    assert not wms_orders(systems, order_id)

    # No further request from the client: the service's outbox dispatcher retries on its own.
    arrived = wait_for("the order at the WMS", lambda: wms_orders(systems, order_id), 30)
    assert len(arrived) == 1
    faults = [r for r in httpx.get(f"{server.url}/admin/requests").json() if r["system"] == "wms"]
    assert sum(r["outcome"] == "fault:error" for r in faults) == 6
    assert sum(r["outcome"] == "created" for r in faults) == 1

    def dispatched() -> bool:
        with Session(any_world_engine) as session:
            return session.get(TransferOrder, order_id).status == "dispatched"

    wait_for("the order to be dispatched", dispatched, 10)
    assert len(wms_orders(systems, order_id)) == 1


def post_rain(service: TestClient, alert_id: str) -> httpx.Response:
    alert = {
        "type": "weather",
        "alert_id": alert_id,
        "city": "Shanghai",
        "precipitation_mm": 80,
        # Three wet days: on the test world a 24 h alert's trips do not clear the alert graph's
        # freight hurdle (MIN_NET_TO_COST), and these tests need orders to follow to the WMS.
        "window_hours": 72,
        "issued_at": "2015-07-01T08:00:00+08:00",
    }
    body = json.dumps(alert).encode()
    headers = signed_headers("demo-weather", "demo-weather-secret", body)
    return service.post("/v1/alerts", content=body, headers=headers)


def test_signed_rain_alert_runs_the_real_graph_to_the_wms(
    service: TestClient, any_world_engine: Engine, systems: ConnectorSet
) -> None:
    # Empty two Shanghai stores of rain gear, so the storm finds holes to fill.
    assert drain(any_world_engine, ["SHA-S01", "SHA-S02"], ["rain_boots", "umbrellas"]) > 0
    accepted = post_rain(service, "cma-sh-heavy-1")
    assert accepted.status_code == 202, accepted.text
    run_id = accepted.json()["run_id"]
    again = post_rain(service, "cma-sh-heavy-1")
    assert again.status_code == 202
    assert (again.json()["run_id"], again.json()["duplicate"]) == (run_id, True)

    viewer = as_("demo-viewer")

    def finished() -> dict | None:
        run = service.get(f"/v1/runs/{run_id}", headers=viewer).json()
        return run if run["status"] in {"succeeded", "interrupted", "failed"} else None

    run = wait_for("the alert run", finished, 180)  # the session's first forecast fit included
    assert run["status"] != "failed", run

    approvers = ["demo-approver", "demo-approver-2"]
    for round_ in range(4):  # four-eyes orders need a second round, by another approver
        pending = service.get(
            "/v1/approvals", params={"status": "pending", "run_id": run_id}, headers=viewer
        ).json()["items"]
        if not pending:
            break
        decided = service.post(
            "/v1/approvals/decisions",
            json={"decisions": [{"approval_id": a["id"], "decision": "approve"} for a in pending]},
            headers=as_(approvers[round_ % 2]),
        )
        assert decided.status_code == 200, decided.text
    else:
        raise AssertionError("approvals still pending after four rounds")

    orders = service.get("/v1/transfer-orders", params={"run_id": run_id}, headers=viewer).json()
    order_ids = {o["id"] for o in orders["items"] if o["status"] in {"approved", "dispatched"}}
    assert order_ids, (
        f"the rain alert approved no transfer: {run}; "
        f"{service.get(f'/v1/runs/{run_id}/proposals', headers=viewer).json()}; "
        f"{service.get(f'/v1/runs/{run_id}/steps', headers=viewer).text[-3000:]}"
    )

    def all_arrived() -> list | None:
        arrived = [r for r in systems.wms.list_transfer_orders() if r.order.order_id in order_ids]
        return arrived if {r.order.order_id for r in arrived} == order_ids else None

    arrived = wait_for("every approved order at the WMS", all_arrived, 15)
    assert len(arrived) == len(order_ids)  # exactly once each
    assert service.get(f"/v1/runs/{run_id}", headers=viewer).json()["status"] == "succeeded"
    assert post_rain(service, "cma-sh-heavy-1").json()["run_id"] == run_id
