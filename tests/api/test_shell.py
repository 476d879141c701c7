"""``stockpilot serve`` listens before the service's modules are imported (api/shell.py): the
shell answers ``starting`` while the real app loads on a thread, then hands everything over,
lifespan included."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.shell import RETRY_AFTER_S, LoadingShell


def _wait_for(client: TestClient, status: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        health = client.get("/healthz").json()
        if health["status"] == status:
            return health
        time.sleep(0.02)
    raise AssertionError(f"/healthz never said {status!r}; last: {health}")


def _service(events: list[str]) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    service = FastAPI(lifespan=lifespan)

    @service.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok", "message": "ready"}

    @service.get("/v1/things")
    async def things() -> dict:
        return {"things": [1, 2]}

    return service


def test_the_listener_answers_while_the_service_loads_then_hands_it_everything() -> None:
    release = threading.Event()
    events: list[str] = []

    def load() -> FastAPI:
        assert release.wait(30)
        return _service(events)

    with TestClient(LoadingShell(load)) as client:
        health = client.get("/healthz")
        assert health.status_code == 200
        assert health.json()["status"] == "starting"
        assert "loading the service" in health.json()["message"]
        early = client.get("/v1/things")
        assert early.status_code == 503
        assert early.headers["retry-after"] == str(RETRY_AFTER_S)
        error = early.json()["error"]
        assert error["code"] == "unavailable" and "/healthz" in error["message"]
        assert events == []  # the real app is not there, so neither is its lifespan

        release.set()
        assert _wait_for(client, "ok") == {"status": "ok", "message": "ready"}
        assert client.get("/v1/things").json() == {"things": [1, 2]}
        assert events == ["startup"]
    assert events == ["startup", "shutdown"]


def _failing(exc: Exception) -> Callable[[], FastAPI]:
    def load() -> FastAPI:
        raise exc

    return load


def test_a_service_that_fails_to_load_says_why_and_asks_for_no_retry() -> None:
    with TestClient(LoadingShell(_failing(RuntimeError("no such pool")))) as client:
        health = _wait_for(client, "failed")
        assert "RuntimeError: no such pool" in health["message"]
        refused = client.get("/v1/things")
        assert refused.status_code == 503 and "retry-after" not in refused.headers
        assert "no such pool" in refused.json()["error"]["message"]


def test_a_service_whose_start_up_fails_says_so() -> None:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        raise RuntimeError("the pool is locked")
        yield

    with TestClient(LoadingShell(lambda: FastAPI(lifespan=lifespan))) as client:
        health = _wait_for(client, "failed")
        assert "the pool is locked" in health["message"]
