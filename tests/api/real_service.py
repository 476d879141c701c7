"""Drivers of the real service in tests: keys, chat proposals, decisions, and what reached the
simulated WMS — plus the one invariant every approval test ends on."""

from __future__ import annotations

import math
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from agents.approvals import approval_id
from agents.authority import ApprovalTerms
from agents.executor.decided import transfer_numbers
from api.auth import DEMO_KEYS, Role, create_api_key
from connectors.base import ConnectorSet
from inventory.models import Approval, Sku, StockPosition, Style, TransferOrder

KEYS = {name: key for name, (key, _) in DEMO_KEYS.items()}
#: Extra people: an ops lead who may ask and approve, and a second ops user.
EXTRA_KEYS = {
    "ops-lead": ("sp-test-ops-lead-key", [Role.VIEWER, Role.OPS, Role.APPROVER]),
    "ops-2": ("sp-test-ops-2-key", [Role.VIEWER, Role.OPS]),
}
FOUR_EYES_ABOVE = 5000.0  # tests/api/conftest.py LOW_LIMITS
ASK_ABOVE = 2000.0
SOURCE, DEST = "DC-SHA", "SHA-S01"


def add_people(engine: Engine) -> None:
    with Session(engine) as session:
        for name, (key, roles) in EXTRA_KEYS.items():
            create_api_key(session, name, roles, key)
        session.commit()


def as_(who: str | None) -> dict[str, str]:
    if who is None:
        return {}
    key = EXTRA_KEYS[who][0] if who in EXTRA_KEYS else KEYS[who]
    return {"x-api-key": key}


def shipment_worth(engine: Engine, low: float, high: float) -> tuple[str, int, float]:
    """A SKU and quantity at DC-SHA whose retail value lies in (low, high]."""
    with Session(engine) as session:
        rows = session.exec(
            select(StockPosition, Style.price)
            .join(Sku, col(Sku.code) == StockPosition.sku_code)
            .join(Style, col(Style.code) == Sku.style_code)
            .where(StockPosition.location_code == SOURCE)
        ).all()
        for position, price in sorted(rows, key=lambda r: (-r[1], r[0].sku_code)):
            qty = math.floor(low / price) + 1
            if qty * price <= high and qty <= position.atp:
                return position.sku_code, qty, qty * price
    raise AssertionError(f"no {SOURCE} position worth between {low} and {high}")


def new_thread(client: TestClient, who: str) -> str:
    response = client.post("/threads", json={}, headers=as_(who))
    assert response.status_code == 200, response.text
    return response.json()["thread_id"]


def say(client: TestClient, who: str, thread_id: str, text: str) -> httpx.Response:
    return client.post(
        f"/threads/{thread_id}/runs/wait",
        json={
            "assistant_id": "ops_chat",
            "input": {"messages": [{"role": "user", "content": text}]},
        },
        headers=as_(who),
    )


def ask_transfer(
    client: TestClient, who: str, sku: str, qty: int, thread_id: str | None = None
) -> tuple[str, dict[str, Any]]:
    """A chat turn proposing ``qty`` of ``sku`` DC-SHA → SHA-S01; returns (thread, approval)."""
    thread_id = thread_id or new_thread(client, who)
    result = say(client, who, thread_id, f"ship {qty} pairs of {sku} from {SOURCE} to {DEST}")
    assert result.status_code == 200, result.text
    assert result.json().get("__interrupt__"), result.json()
    pending = client.get(
        "/v1/approvals", params={"status": "pending"}, headers=as_("demo-viewer")
    ).json()["items"]
    (approval,) = [a for a in pending if a["thread_id"] == thread_id]
    return thread_id, approval


def resume(
    client: TestClient, who: str | None, thread_id: str, command: dict[str, Any]
) -> httpx.Response:
    return client.post(
        f"/threads/{thread_id}/runs/wait",
        json={"assistant_id": "ops_chat", "command": command},
        headers=as_(who),
    )


def decide(client: TestClient, approval: str, who: str | None, decision: str = "approve"):
    return client.post(
        f"/v1/approvals/{approval}/decision", json={"decision": decision}, headers=as_(who)
    )


def wms_order_ids(systems: ConnectorSet) -> set[str]:
    return {r.order.order_id for r in systems.wms.list_transfer_orders()}


def order_status(engine: Engine, order_id: str) -> str:
    with Session(engine) as session:
        order = session.get(TransferOrder, order_id)
        assert order is not None
        return order.status


def executed_without_a_decision(engine: Engine, systems: ConnectorSet) -> list[str]:
    """Orders approved, dispatched or at the WMS with no valid recorded decision: always []."""
    problems: list[str] = []
    with Session(engine) as session:
        executed = session.exec(
            select(TransferOrder).where(
                col(TransferOrder.status).in_(["approved", "dispatched", "received"])
            )
        ).all()
        ids = {o.id for o in executed} | wms_order_ids(systems)
        for order_id in sorted(ids):
            order = session.get(TransferOrder, order_id)
            approval = session.get(Approval, approval_id(order_id))
            if order is None or approval is None:
                problems.append(f"{order_id}: executed with no approval row")
                continue
            if approval.status == "auto_approved":
                payload = approval.payload
                judged = (payload["units"], round(payload["value"], 2), round(payload["cost"], 2))
                if approval.decided_by != "policy" or judged != transfer_numbers(session, order_id):
                    problems.append(f"{order_id}: auto-approved on numbers it does not have")
                continue
            if approval.status != "approved":
                problems.append(f"{order_id}: executed while its approval is {approval.status}")
                continue
            terms = ApprovalTerms.of(approval)
            deciders = {d for d in (approval.decided_by, approval.second_approver) if d}
            if len(deciders) < terms.approvers_required or "policy" in deciders:
                problems.append(f"{order_id}: approved by {deciders}, needs {terms}")
            if terms.distinct_from_requester and order.requested_by in deciders:
                problems.append(f"{order_id}: approved by its own requester")
            if not deciders <= set(KEYS) | set(EXTRA_KEYS):
                problems.append(f"{order_id}: approved by {deciders}, nobody with a key")
    return problems
