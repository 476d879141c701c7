"""Warehouse management: transfer orders that move stock between locations."""

from __future__ import annotations

from connectors.client import SystemClient
from connectors.models import Ack, WmsTransferOrder, WmsTransferOrderRecord


class WmsClient(SystemClient):
    system = "wms"

    def create_transfer_order(self, order: WmsTransferOrder, *, idempotency_key: str) -> Ack:
        """Ask the WMS to ship ``order``; the same key always yields the same WMS reference."""
        return self._post("/wms/transfer-orders", order, idempotency_key=idempotency_key)

    def list_transfer_orders(self) -> list[WmsTransferOrderRecord]:
        """Every transfer order the WMS holds (what arrived, once per idempotency key)."""
        return self._get("/wms/transfer-orders", list[WmsTransferOrderRecord])
