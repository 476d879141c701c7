"""Webhook alerts → the alert_response assistant's input (``{"alert": AlertPayload}``).

The webhook speaks the senders' vocabulary (``weather``, precipitation over a window); the graph
has its own model. Types no assistant handles yet are recorded but start nothing.
"""

from __future__ import annotations

from typing import Any

from agents.graphs.alert_response.state import AlertPayload as GraphAlert
from api.schemas.alerts import AlertPayload, WeatherAlert


def alert_response_input(alert: AlertPayload, sender: str) -> dict[str, Any] | None:  # type: ignore[valid-type]
    if isinstance(alert, WeatherAlert):
        graph_alert = GraphAlert(
            type="rain",
            city=alert.city,
            mm=alert.precipitation_mm,
            hours=alert.window_hours,
            external_id=alert.alert_id,
            sender=sender,
        )
        return {"alert": graph_alert.model_dump(mode="json")}
    return None
