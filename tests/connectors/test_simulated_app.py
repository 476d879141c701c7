"""The simulated systems app on its own: idempotency, listings, injected faults, shared state."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from connectors.simulated.app import create_app
from connectors.simulated.state import SimulatedState

ORDER = {
    "order_id": "TO-1",
    "source": "SHA-S01",
    "dest": "SHA-S02",
    "lines": [{"sku": "RB1-BLK-37", "qty": 3}],
}


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(SimulatedState()))


def _post(client: TestClient, key: str, body: dict = ORDER, path: str = "/wms/transfer-orders"):
    return client.post(path, json=body, headers={"Idempotency-Key": key})


def test_same_key_same_reference_and_one_order(client: TestClient) -> None:
    first = _post(client, "k-1").json()
    again = _post(client, "k-1").json()
    other = _post(client, "k-2", {**ORDER, "order_id": "TO-2"}).json()

    assert first == {"system": "wms", "reference": "WMS-000001", "duplicate": False}
    assert again == {**first, "duplicate": True}
    assert other["reference"] == "WMS-000002"
    listed = client.get("/wms/transfer-orders").json()
    assert [(row["reference"], row["order"]["order_id"]) for row in listed] == [
        ("WMS-000001", "TO-1"),
        ("WMS-000002", "TO-2"),
    ]


def test_key_reused_with_another_body_is_refused(client: TestClient) -> None:
    _post(client, "k-1")
    response = _post(client, "k-1", {**ORDER, "lines": [{"sku": "RB1-BLK-37", "qty": 30}]})
    assert response.status_code == 422
    assert "different body" in response.json()["detail"]
    assert len(client.get("/wms/transfer-orders").json()) == 1


def test_missing_key_and_bad_body_are_refused(client: TestClient) -> None:
    assert client.post("/wms/transfer-orders", json=ORDER).status_code == 422
    response = _post(client, "k-1", {**ORDER, "lines": []})
    assert response.status_code == 422
    assert "lines" in response.text
    assert client.get("/wms/transfer-orders").json() == []


def test_injected_errors_fail_n_times_then_recover(client: TestClient) -> None:
    armed = client.post("/admin/faults", json={"system": "wms", "times": 2, "status": 502})
    assert armed.status_code == 204

    assert _post(client, "k-1").status_code == 502
    assert _post(client, "k-1").status_code == 502
    assert _post(client, "k-1").status_code == 200
    # Other systems are unaffected.
    notify = _post(client, "n-1", {"recipient": "lee", "subject": "hello"}, path="/notify/messages")
    assert notify.json()["reference"] == "NTF-000001"

    outcomes = [(r["system"], r["outcome"]) for r in client.get("/admin/requests").json()]
    assert outcomes == [
        ("wms", "fault:error"),
        ("wms", "fault:error"),
        ("wms", "created"),
        ("notify", "created"),
    ]


def test_timeout_after_commit_does_the_work_before_stalling(client: TestClient) -> None:
    client.post(
        "/admin/faults", json={"system": "wms", "mode": "timeout_after_commit", "delay_s": 0.05}
    )
    assert _post(client, "k-1").json()["duplicate"] is False
    assert len(client.get("/wms/transfer-orders").json()) == 1
    assert [r["outcome"] for r in client.get("/admin/requests").json()] == ["created+stalled"]


def test_timeout_before_commit_does_nothing(client: TestClient) -> None:
    client.post(
        "/admin/faults",
        json={"system": "pricing", "mode": "timeout_before_commit", "delay_s": 0.05},
    )
    change = {"proposal_id": "PP-1", "style": "RB1", "depth": 0.3, "new_price": 209.3}
    assert _post(client, "p-1", change, path="/pricing/price-changes").status_code == 503
    assert client.get("/pricing/price-changes").json() == []


def test_bad_fault_request_names_the_field(client: TestClient) -> None:
    response = client.post("/admin/faults", json={"system": "erp", "times": 1})
    assert response.status_code == 422
    assert "system" in response.text


def test_reset_forgets_everything(client: TestClient) -> None:
    _post(client, "k-1")
    client.post("/admin/reset")
    assert client.get("/wms/transfer-orders").json() == []
    assert client.get("/admin/requests").json() == []


def test_state_file_is_shared_between_servers(tmp_path: Path) -> None:
    """Two apps on one file (two processes, or a restart) still hold one order per key."""
    path = tmp_path / "sim.sqlite"
    first, second = (
        TestClient(create_app(SimulatedState(path))),
        TestClient(create_app(SimulatedState(path))),
    )
    reference = _post(first, "k-1").json()["reference"]
    assert _post(second, "k-1").json() == {
        "system": "wms",
        "reference": reference,
        "duplicate": True,
    }
    assert len(second.get("/wms/transfer-orders").json()) == 1
