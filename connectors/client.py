"""One HTTP client shape for every enterprise system: JSON over httpx, an ``Idempotency-Key``
header on each write, and tenacity retries on the failures that can heal on their own."""

from __future__ import annotations

import ssl
from functools import cache
from typing import TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from connectors.errors import ConnectorRejected, ConnectorUnavailable
from connectors.models import Ack, SystemName

ResponseT = TypeVar("ResponseT")

IDEMPOTENCY_HEADER = "Idempotency-Key"


class RetryPolicy(BaseModel):
    """Retries inside one call; the dispatcher adds slower retries across calls on top."""

    model_config = ConfigDict(frozen=True)

    attempts: int = Field(default=4, ge=1, le=20)
    initial_wait_s: float = Field(default=0.2, ge=0)
    max_wait_s: float = Field(default=3.0, ge=0)
    timeout_s: float = Field(default=10.0, gt=0, description="Per HTTP request.")


class _TransientStatus(Exception):
    """A 5xx/429 answer, raised so tenacity can retry it like a network error."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}: {response.text[:200]}")
        self.response = response


@cache
def tls_context() -> ssl.SSLContext:
    """httpx's default verifying TLS context, built once per process and shared by every
    client: building one reads the whole CA bundle (~35 ms of CPU), and each service start,
    eval trial and simulated-systems server makes a client per system."""
    return httpx.create_ssl_context()


def _is_transient(error: BaseException) -> bool:
    return isinstance(error, _TransientStatus | httpx.TimeoutException | httpx.TransportError)


class SystemClient:
    """Base of the WMS, OMS, pricing and notification clients."""

    system: SystemName

    def __init__(
        self,
        base_url: str,
        *,
        retry: RetryPolicy | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self.base_url = base_url.rstrip("/")
        self._client = client or httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(self.retry.timeout_s),
            verify=tls_context(),
        )

    def close(self) -> None:
        self._client.close()

    def _send(
        self, method: str, path: str, *, json: dict | None = None, idempotency_key: str | None
    ) -> httpx.Response:
        headers = {IDEMPOTENCY_HEADER: idempotency_key} if idempotency_key else {}
        retrying = Retrying(
            stop=stop_after_attempt(self.retry.attempts),
            wait=wait_exponential_jitter(
                initial=self.retry.initial_wait_s,
                max=self.retry.max_wait_s,
                jitter=self.retry.initial_wait_s,
            ),
            retry=retry_if_exception(_is_transient),
            reraise=False,
        )
        try:
            for attempt in retrying:
                with attempt:
                    response = self._client.request(method, path, json=json, headers=headers)
                    if response.status_code >= 500 or response.status_code == 429:
                        raise _TransientStatus(response)
        except RetryError as exhausted:
            last = exhausted.last_attempt.exception()
            raise ConnectorUnavailable(
                self.system,
                f"{method} {path} failed {self.retry.attempts} times; last error: {last!r}",
            ) from last
        if response.status_code >= 400:
            raise ConnectorRejected(self.system, response.status_code, _detail(response))
        return response

    def _post(self, path: str, body: BaseModel, *, idempotency_key: str) -> Ack:
        if not idempotency_key:
            raise ValueError(f"{self.system}: idempotency_key must be a non-empty string")
        response = self._send(
            "POST", path, json=body.model_dump(mode="json"), idempotency_key=idempotency_key
        )
        return self._parse(response, Ack)

    def _get(self, path: str, model: type[ResponseT]) -> ResponseT:
        return self._parse(self._send("GET", path, idempotency_key=None), model)

    def _parse(self, response: httpx.Response, model: type[ResponseT]) -> ResponseT:
        try:
            return TypeAdapter(model).validate_json(response.content)
        except ValidationError as error:
            raise ConnectorRejected(
                self.system, response.status_code, f"unexpected answer: {error}"
            ) from error


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])
    return str(body)[:500]
