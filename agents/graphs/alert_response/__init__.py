"""alert_response: a weather (or overstock) alert → plan → policy gate → approval → execute."""

from agents.graphs.alert_response.graph import build_alert_response
from agents.graphs.alert_response.state import AlertPayload

__all__ = ["AlertPayload", "build_alert_response"]
