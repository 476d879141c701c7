"""Notifications to people (store managers, approvers) about decisions and shipments."""

from __future__ import annotations

from connectors.client import SystemClient
from connectors.models import Ack, Notification, ReceivedRecord


class NotifyClient(SystemClient):
    system = "notify"

    def send(self, notification: Notification, *, idempotency_key: str) -> Ack:
        return self._post("/notify/messages", notification, idempotency_key=idempotency_key)

    def list_messages(self) -> list[ReceivedRecord]:
        return self._get("/notify/messages", list[ReceivedRecord])
