"""Serve the simulated systems on a background thread, so sync clients talk real HTTP in-process.

httpx's ``ASGITransport`` is async-only and starlette's test transport ignores timeouts; a real
loopback server is the one way the production client code, its timeouts and its retries are
exercised unchanged. One server per state per process; it binds a free port chosen by the OS.
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from connectors.simulated.app import create_app
from connectors.simulated.feedback import FeedbackEmitter
from connectors.simulated.state import SimulatedState


class SimulatedServer:
    """A uvicorn server on ``127.0.0.1:<free port>`` running in a daemon thread."""

    def __init__(self, state: SimulatedState, *, host: str = "127.0.0.1") -> None:
        self.state = state
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, 0))
        self.host, self.port = self._socket.getsockname()[:2]
        # uvicorn's loggers are process-wide: a log_config or log_level here would reconfigure
        # them, and access_log=False empties the access logger, so the service's own access
        # and error logs would go silent once this starts. Configure nothing: the simulated
        # systems' requests then appear in the service's access log too (paths /wms, /oms, ...).
        config = uvicorn.Config(create_app(state), log_config=None, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"simulated-systems-{self.port}",
            daemon=True,
        )
        self._emitter = FeedbackEmitter(state)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 10.0) -> SimulatedServer:
        self._thread.start()
        self._emitter.start()  # sends nothing until a subscriber is registered
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"simulated systems did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop_feedback(self) -> None:
        """Stop posting events in the background (a test then sends them with its own
        ``FeedbackEmitter.send_due``, e.g. into a ``TestClient``)."""
        self._emitter.stop()

    def stop(self) -> None:
        self._emitter.stop()
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._socket.close()


_SERVERS: dict[str, SimulatedServer] = {}
_SERVERS_LOCK = threading.Lock()


def shared_server(state_path: str | None) -> SimulatedServer:
    """The process's server for ``state_path`` (``None``: a new private in-memory state)."""
    if state_path is None:
        return SimulatedServer(SimulatedState()).start()
    with _SERVERS_LOCK:
        server = _SERVERS.get(state_path)
        if server is None:
            server = SimulatedServer(SimulatedState(state_path)).start()
            _SERVERS[state_path] = server
        return server
