"""The simulated OMS takes online orders (the stream evals replay) once per key, beside holds."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient

from connectors.models import OmsOnlineOrder, OmsReservation, WmsLine
from connectors.oms import OmsClient
from connectors.simulated.app import create_app

ORDER = OmsOnlineOrder(
    order_id="WEB-1",
    channel="online",
    lines=[WmsLine(sku="RB001-BLK-38", qty=1)],
    destination_city="Shanghai",
    promise_hours=24,
    placed_at=dt.datetime(2015, 7, 1, 9, tzinfo=dt.UTC),
)


def test_an_online_order_is_taken_once_and_listed_apart_from_reservations() -> None:
    with TestClient(create_app()) as sim:
        oms = OmsClient("http://simulated", client=sim)
        first = oms.accept_online_order(ORDER, idempotency_key="online:WEB-1")
        again = oms.accept_online_order(ORDER, idempotency_key="online:WEB-1")
        assert first.reference.startswith("OMS-") and not first.duplicate
        assert again.reference == first.reference and again.duplicate
        hold = OmsReservation(
            reservation_id="res-1", location="SHA-S01", lines=[WmsLine(sku="X-1", qty=1)]
        )
        oms.create_reservation(hold, idempotency_key="res-1")
        orders = oms.list_online_orders()
        assert [o.payload["order_id"] for o in orders] == ["WEB-1"]
        assert [r.payload["reservation_id"] for r in oms.list_reservations()] == ["res-1"]
