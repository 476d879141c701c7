"""Runs in the background of the request that started them, with their events kept for listeners.

A graph run goes on its own thread (LangGraph's sync ``stream`` sets context variables per call,
so the whole run stays on one thread) and appends its events to the run's log. Whoever listens —
the ``runs/stream`` response, a reconnect with ``Last-Event-ID``, ``runs/{id}/join`` or a
background ``POST /threads/{id}/runs`` — reads that log, so a dropped connection never stops a
run and a reconnect replays exactly what was missed. Logs live in this process only, for the
run and a while after it (the last ``keep`` finished runs); the run itself is in the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from api.logs import run_context

log = logging.getLogger(__name__)

Produce = Callable[[], Iterator[tuple[str, Any]]]


class RunLog:
    """The events of one run in order; ids are their positions, as strings (SSE ``id:``)."""

    def __init__(self, run_id: str, thread_id: str) -> None:
        self.run_id = run_id
        self.thread_id = thread_id
        self.cancel_requested = threading.Event()
        self.done = threading.Event()
        self._events: list[tuple[str, Any]] = []
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def append(self, event: str, data: Any) -> None:
        with self._lock:
            self._events.append((event, data))
        self._wake()

    def finish(self) -> None:
        self.done.set()
        self._wake()

    def _wake(self) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for loop, flag in waiters:
            # The loop may be gone (the server shut down mid-run); the run still completes.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(flag.set)

    async def follow(
        self, after: int = -1, *, heartbeat_s: float | None = None
    ) -> AsyncIterator[tuple[int, str, Any] | None]:
        """Events with ids above ``after`` as they come, until the run has ended; ``None`` after
        ``heartbeat_s`` without one (a long step), so the listener can keep the line alive."""
        loop = asyncio.get_running_loop()
        position = after + 1
        while True:
            flag = asyncio.Event()
            waiter = (loop, flag)
            with self._lock:
                self._waiters.add(waiter)
                batch = self._events[position:]
                finished = self.done.is_set()
            try:
                for offset, (event, data) in enumerate(batch):
                    yield position + offset, event, data
                position += len(batch)
                if finished and not batch:
                    return
                if not batch:
                    try:
                        await asyncio.wait_for(flag.wait(), heartbeat_s)
                    except TimeoutError:
                        yield None
            finally:
                with self._lock:
                    self._waiters.discard(waiter)

    async def wait_done(self) -> None:
        with self._lock:
            after = len(self._events) - 1
        async for _ in self.follow(after):
            pass


class RunBroker:
    """Starts runs on their own threads and keeps their logs for listeners."""

    def __init__(self, keep: int = 64) -> None:
        self.keep = keep
        self._logs: OrderedDict[str, RunLog] = OrderedDict()
        self._lock = threading.Lock()

    def start(
        self,
        run_id: str,
        thread_id: str,
        produce: Produce,
        *,
        first: tuple[str, Any] | None = None,
        last: Callable[[], tuple[str, Any]] | None = None,
    ) -> RunLog:
        """Run ``produce`` on a new thread; ``first``/``last`` frame its events (metadata, end)."""
        log = RunLog(run_id, thread_id)
        if first is not None:
            log.append(*first)
        with self._lock:
            self._logs[run_id] = log
            self._evict()
        worker = threading.Thread(
            target=self._pump, args=(log, produce, last), name=f"graph-run-{run_id[:8]}"
        )
        worker.daemon = True
        worker.start()
        return log

    @staticmethod
    def _pump(run: RunLog, produce: Produce, last: Callable[[], tuple[str, Any]] | None) -> None:
        with run_context(run.run_id):
            log.info("run started on thread %s", run.thread_id)
            events = produce()
            try:
                for event, data in events:
                    run.append(event, data)
                    if run.cancel_requested.is_set():
                        log.info("run cancelled")
                        break
            finally:
                try:
                    events.close()  # a cancelled run closes as cancelled, and frees its thread
                    if last is not None:
                        run.append(*last())
                finally:
                    run.finish()
                    log.info("run ended")

    def get(self, run_id: str) -> RunLog | None:
        with self._lock:
            return self._logs.get(run_id)

    def active_on(self, thread_id: str) -> RunLog | None:
        with self._lock:
            for log in self._logs.values():
                if log.thread_id == thread_id and not log.done.is_set():
                    return log
        return None

    def _evict(self) -> None:
        finished = [run_id for run_id, log in self._logs.items() if log.done.is_set()]
        for run_id in finished[: max(0, len(finished) - self.keep)]:
            del self._logs[run_id]
