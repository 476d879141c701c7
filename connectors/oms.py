"""Order management: reservations that keep stock from being promised to two channels."""

from __future__ import annotations

from connectors.client import SystemClient
from connectors.models import Ack, OmsReservation, ReceivedRecord


class OmsClient(SystemClient):
    system = "oms"

    def create_reservation(self, reservation: OmsReservation, *, idempotency_key: str) -> Ack:
        return self._post("/oms/reservations", reservation, idempotency_key=idempotency_key)

    def list_reservations(self) -> list[ReceivedRecord]:
        return self._get("/oms/reservations", list[ReceivedRecord])
