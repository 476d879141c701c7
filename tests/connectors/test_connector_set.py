"""ConnectorSet end to end over real loopback HTTP against the embedded simulated systems."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from connectors import ConnectorSet, ConnectorUnavailable, RetryPolicy
from connectors.models import WmsLine, WmsTransferOrder
from connectors.simulated.state import FaultSpec
from inventory.config import Settings

ORDER = WmsTransferOrder(
    order_id="TO-1", source="SHA-S01", dest="SHA-S02", lines=[WmsLine(sku="RB1-BLK-37", qty=3)]
)


@pytest.fixture
def simulated() -> ConnectorSet:
    retry = RetryPolicy(attempts=3, initial_wait_s=0.01, max_wait_s=0.02, timeout_s=0.3)
    with ConnectorSet.simulated(retry=retry) as connectors:
        yield connectors


def test_reply_lost_after_the_wms_created_the_order_is_not_duplicated(
    simulated: ConnectorSet,
) -> None:
    state = simulated.simulated_server.state
    state.set_fault(FaultSpec(system="wms", mode="timeout_after_commit", delay_s=0.6))

    ack = simulated.wms.create_transfer_order(ORDER, idempotency_key="wms:transfer_order:TO-1")

    assert ack.duplicate  # the retry found the order the timed-out call had created
    orders = simulated.wms.list_transfer_orders()
    assert [(o.reference, o.order) for o in orders] == [(ack.reference, ORDER)]
    assert [r.outcome for r in state.requests()] == ["created+stalled", "duplicate"]


def test_persistent_outage_raises_unavailable(simulated: ConnectorSet) -> None:
    simulated.simulated_server.state.set_fault(FaultSpec(system="wms", times=10))
    with pytest.raises(ConnectorUnavailable, match="failed 3 times"):
        simulated.wms.create_transfer_order(ORDER, idempotency_key="k")
    assert simulated.wms.list_transfer_orders() == []


def test_private_simulated_sets_do_not_share_state() -> None:
    with ConnectorSet.simulated() as first, ConnectorSet.simulated() as second:
        first.wms.create_transfer_order(ORDER, idempotency_key="k")
        assert second.wms.list_transfer_orders() == []


def test_from_settings_shares_one_state_file_per_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    with ConnectorSet.from_settings(settings) as first:
        first.wms.create_transfer_order(ORDER, idempotency_key="k")
    with ConnectorSet.from_settings(settings) as again:
        assert [o.order.order_id for o in again.wms.list_transfer_orders()] == ["TO-1"]
        assert again.simulated_server is first.simulated_server
    assert (tmp_path / "simulated_systems.sqlite").exists()


def test_from_settings_uses_configured_urls_without_a_simulator(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        wms_url="https://wms.corp.test/api",
        oms_url="https://oms.corp.test",
        pricing_url="https://pricing.corp.test",
        notify_url="https://notify.corp.test",
    )
    with ConnectorSet.from_settings(settings) as connectors:
        assert connectors.simulated_server is None
        assert connectors.wms.base_url == "https://wms.corp.test/api"
        assert connectors.notify.base_url == "https://notify.corp.test"
    assert not (tmp_path / "simulated_systems.sqlite").exists()


def test_simulated_server_answers_openapi(simulated: ConnectorSet) -> None:
    spec = httpx.get(f"{simulated.simulated_server.url}/openapi.json").json()
    assert "/wms/transfer-orders" in spec["paths"]
    assert "/admin/faults" in spec["paths"]
