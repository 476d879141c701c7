"""How a connector call fails, split by whether trying again later can help."""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of every connector failure."""

    def __init__(self, system: str, message: str) -> None:
        super().__init__(f"{system}: {message}")
        self.system = system


class ConnectorUnavailable(ConnectorError):
    """Transient failures (5xx, 429, timeouts, connection errors) outlived the retries.

    The request may or may not have reached the system; sending it again with the same
    idempotency key is safe.
    """


class ConnectorRejected(ConnectorError):
    """The system refused the request (4xx); sending it again will not change the answer."""

    def __init__(self, system: str, status: int, detail: str) -> None:
        super().__init__(system, f"rejected with HTTP {status}: {detail}")
        self.status = status
        self.detail = detail
