"""Order management: reservations that keep stock from being promised to two channels."""

from __future__ import annotations

from connectors.client import SystemClient
from connectors.models import (
    Ack,
    OmsOnlineOrder,
    OmsReservation,
    OmsShipment,
    OmsShipmentCancel,
    ReceivedRecord,
)


class OmsClient(SystemClient):
    system = "oms"

    def create_reservation(self, reservation: OmsReservation, *, idempotency_key: str) -> Ack:
        return self._post("/oms/reservations", reservation, idempotency_key=idempotency_key)

    def list_reservations(self) -> list[ReceivedRecord]:
        return self._get("/oms/reservations", list[ReceivedRecord])

    def accept_online_order(self, order: OmsOnlineOrder, *, idempotency_key: str) -> Ack:
        """The OMS takes a customer's order; its reference keys the order's outcome events."""
        return self._post("/oms/online-orders", order, idempotency_key=idempotency_key)

    def list_online_orders(self) -> list[ReceivedRecord]:
        return self._get("/oms/online-orders", list[ReceivedRecord])

    def create_shipment(self, shipment: OmsShipment, *, idempotency_key: str) -> Ack:
        """A routed parcel for the node to pick, pack and ship (sent through the outbox)."""
        return self._post("/oms/shipments", shipment, idempotency_key=idempotency_key)

    def list_shipments(self) -> list[ReceivedRecord]:
        return self._get("/oms/shipments", list[ReceivedRecord])

    def cancel_shipment(self, cancel: OmsShipmentCancel, *, idempotency_key: str) -> Ack:
        """Withdraw an accepted parcel; ``ConnectorRejected`` (409) when it already shipped."""
        return self._post("/oms/shipments/cancellations", cancel, idempotency_key=idempotency_key)

    def list_shipment_cancellations(self) -> list[ReceivedRecord]:
        return self._get("/oms/shipments/cancellations", list[ReceivedRecord])
