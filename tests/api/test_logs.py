"""The service's logs: uvicorn's access log survives the simulated systems starting in the same
process, and ``STOCKPILOT_LOG_FORMAT=json`` gives one JSON object per line with request and run
ids.

SQLite only: what is checked is the logging set-up, the same whichever database the run is
stored in (runs over the same API on both databases: test_sdk_contract.py)."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from langgraph_sdk import get_sync_client

from api.logs import log_config
from connectors.simulated.server import SimulatedServer
from connectors.simulated.state import SimulatedState
from tests.api.conftest import KEYS, free_port

LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access")

#: Plain HTTP calls; generous timeouts: the shared test machine can be slow.
HTTP = httpx.Client(timeout=60)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    saved = {
        name: (list(lg.handlers), lg.level, lg.propagate)
        for name in LOGGERS
        for lg in [logging.getLogger(name)]
    }
    yield
    for name, (handlers, level, propagate) in saved.items():
        lg = logging.getLogger(name)
        lg.handlers[:] = handlers
        lg.setLevel(level)
        lg.propagate = propagate


def _serve(app: FastAPI, fmt: str) -> tuple[str, uvicorn.Server, threading.Thread]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=log_config(fmt, "info"))
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    return f"http://127.0.0.1:{port}", server, thread


def _capture() -> io.StringIO:
    """Point the configured handlers at a buffer (they were bound to stderr at config time)."""
    buffer = io.StringIO()
    for name in ("", "uvicorn.access"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(buffer)
    return buffer


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_access_and_error_logs_survive_the_simulated_systems(
    tiny_app: FastAPI, restore_logging: None, fmt: str
) -> None:
    url, server, thread = _serve(tiny_app, fmt)
    simulated = SimulatedServer(SimulatedState()).start()  # as the service's lifespan does
    try:
        buffer = _capture()
        ops = {"x-api-key": KEYS["demo-ops"], "X-Request-Id": "req-from-client"}
        assert HTTP.get(f"{url}/ok", headers=ops).headers["x-request-id"] == "req-from-client"
        assert HTTP.get(f"{url}/threads/nope", headers=ops).status_code == 404
        client = get_sync_client(url=url, api_key=KEYS["demo-ops"])
        thread_id = client.threads.create()["thread_id"]
        values = client.runs.wait(
            thread_id, "tiny", input={"messages": [{"role": "user", "content": "hi"}]}
        )
        assert values["messages"][-1]["content"] == "echo: hi"
    finally:
        simulated.stop()
        server.should_exit = True
        thread.join(timeout=10)
    text = buffer.getvalue()
    assert "/threads/nope" in text and "404" in text
    if fmt == "text":
        assert "req=req-from-client" in text
        return
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    (ok,) = [line for line in access if line["path"] == "/ok"]
    assert ok["request_id"] == "req-from-client" and ok["status"] == 200
    assert any(line["path"] == "/threads/nope" and line["status"] == 404 for line in access)
    run_lines = [line for line in lines if line.get("run_id")]
    assert {line["message"] for line in run_lines} >= {"run ended"}
    assert all(line["request_id"] for line in access)
