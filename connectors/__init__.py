"""Clients for the enterprise systems (WMS, OMS, pricing, notify) and their simulated twins."""

from connectors.base import ConnectorSet
from connectors.client import RetryPolicy
from connectors.errors import ConnectorError, ConnectorRejected, ConnectorUnavailable

__all__ = [
    "ConnectorError",
    "ConnectorRejected",
    "ConnectorSet",
    "ConnectorUnavailable",
    "RetryPolicy",
]
