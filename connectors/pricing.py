"""Pricing: markdowns decided by ops, applied where the tills and the web shop read prices."""

from __future__ import annotations

from connectors.client import SystemClient
from connectors.models import Ack, PriceChange, ReceivedRecord


class PricingClient(SystemClient):
    system = "pricing"

    def apply_price_change(self, change: PriceChange, *, idempotency_key: str) -> Ack:
        return self._post("/pricing/price-changes", change, idempotency_key=idempotency_key)

    def list_price_changes(self) -> list[ReceivedRecord]:
        return self._get("/pricing/price-changes", list[ReceivedRecord])
