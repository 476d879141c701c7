"""The HTTP clients against respx-mocked systems: keys, references, retries and refusals."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from connectors import ConnectorRejected, ConnectorUnavailable, RetryPolicy
from connectors.models import (
    Notification,
    OmsReservation,
    PriceChange,
    WmsLine,
    WmsTransferOrder,
)
from connectors.notify import NotifyClient
from connectors.oms import OmsClient
from connectors.pricing import PricingClient
from connectors.wms import WmsClient

BASE = "https://wms.example.test"
FAST = RetryPolicy(attempts=3, initial_wait_s=0, max_wait_s=0, timeout_s=1)
ORDER = WmsTransferOrder(
    order_id="TO-1", source="SHA-S01", dest="SHA-S02", lines=[WmsLine(sku="RB1-BLK-37", qty=3)]
)


def _ack(reference: str = "W-77", duplicate: bool = False) -> httpx.Response:
    return httpx.Response(
        200, json={"system": "wms", "reference": reference, "duplicate": duplicate}
    )


@respx.mock
def test_create_transfer_order_sends_key_and_body_and_returns_reference() -> None:
    route = respx.post(f"{BASE}/wms/transfer-orders").mock(return_value=_ack())
    ack = WmsClient(BASE, retry=FAST).create_transfer_order(ORDER, idempotency_key="k-1")

    assert ack.reference == "W-77"
    assert not ack.duplicate
    assert route.call_count == 1
    request = route.calls.last.request
    assert request.headers["Idempotency-Key"] == "k-1"
    assert json.loads(request.content) == ORDER.model_dump(mode="json")


@respx.mock
@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(503, json={"detail": "down"}),
        httpx.Response(429, json={"detail": "slow down"}),
        httpx.ReadTimeout("read timed out"),
        httpx.ConnectError("refused"),
    ],
    ids=["503", "429", "timeout", "connect"],
)
def test_transient_failures_are_retried_with_the_same_key(failure) -> None:
    route = respx.post(f"{BASE}/wms/transfer-orders").mock(side_effect=[failure, failure, _ack()])
    ack = WmsClient(BASE, retry=FAST).create_transfer_order(ORDER, idempotency_key="k-2")

    assert ack.reference == "W-77"
    assert route.call_count == 3
    assert {call.request.headers["Idempotency-Key"] for call in route.calls} == {"k-2"}


@respx.mock
def test_retries_exhausted_raise_unavailable_naming_the_system() -> None:
    route = respx.post(f"{BASE}/wms/transfer-orders").mock(
        return_value=httpx.Response(502, text="bad gateway")
    )
    with pytest.raises(ConnectorUnavailable, match=r"wms: POST /wms/transfer-orders failed 3"):
        WmsClient(BASE, retry=FAST).create_transfer_order(ORDER, idempotency_key="k-3")
    assert route.call_count == 3


@respx.mock
def test_client_errors_are_not_retried() -> None:
    route = respx.post(f"{BASE}/wms/transfer-orders").mock(
        return_value=httpx.Response(422, json={"detail": "unknown store SHA-S02"})
    )
    with pytest.raises(ConnectorRejected, match="unknown store SHA-S02") as raised:
        WmsClient(BASE, retry=FAST).create_transfer_order(ORDER, idempotency_key="k-4")
    assert raised.value.status == 422
    assert route.call_count == 1


@respx.mock
def test_malformed_success_answer_is_refused() -> None:
    respx.post(f"{BASE}/wms/transfer-orders").mock(
        return_value=httpx.Response(200, json={"ok": True})
    )
    with pytest.raises(ConnectorRejected, match="unexpected answer"):
        WmsClient(BASE, retry=FAST).create_transfer_order(ORDER, idempotency_key="k-5")


def test_empty_idempotency_key_is_refused_before_sending() -> None:
    with pytest.raises(ValueError, match="idempotency_key"):
        WmsClient(BASE, retry=FAST).create_transfer_order(ORDER, idempotency_key="")


@respx.mock
@pytest.mark.parametrize(
    ("client_cls", "path", "call"),
    [
        (
            OmsClient,
            "/oms/reservations",
            lambda c: c.create_reservation(
                OmsReservation(
                    reservation_id="R-1", location="ONLINE", lines=[WmsLine(sku="S", qty=1)]
                ),
                idempotency_key="k",
            ),
        ),
        (
            PricingClient,
            "/pricing/price-changes",
            lambda c: c.apply_price_change(
                PriceChange(proposal_id="PP-1", style="RB1", depth=0.3, new_price=209.3),
                idempotency_key="k",
            ),
        ),
        (
            NotifyClient,
            "/notify/messages",
            lambda c: c.send(Notification(recipient="lee", subject="hi"), idempotency_key="k"),
        ),
    ],
    ids=["oms", "pricing", "notify"],
)
def test_every_system_posts_to_its_path_with_the_key(client_cls, path, call) -> None:
    system = client_cls.system
    route = respx.post(f"{BASE}{path}").mock(
        return_value=httpx.Response(200, json={"system": system, "reference": "R-9"})
    )
    ack = call(client_cls(BASE, retry=FAST))
    assert (ack.system, ack.reference) == (system, "R-9")
    assert route.calls.last.request.headers["Idempotency-Key"] == "k"


def test_bad_request_models_name_the_field() -> None:
    with pytest.raises(ValueError, match="qty"):
        WmsLine(sku="S", qty=0)
    with pytest.raises(ValueError, match="depth"):
        PriceChange(proposal_id="PP-1", style="RB1", depth=1.5, new_price=10)
