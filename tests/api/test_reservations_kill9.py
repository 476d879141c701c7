"""A real ``stockpilot serve`` taking concurrent reservations is SIGKILLed mid-stream and started
again; the channels retry every request they sent with the same idempotency key. Every
reservation then exists exactly once, every answer a client got names that one reservation, and
the stock positions hold exactly what the open reservations hold (issue 14: 0 lost or double
reservations across a kill -9), on SQLite and PostgreSQL.

Half the channels reserve one line per request and half in batches, at the same time against
the same service, so one kill -9 (and one restart) cuts both kinds of request mid-stream: a
service start is most of this test's cost, and each mode used to pay two of its own."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from api.auth import Role, create_api_key
from inventory.config import PROJECT_ROOT
from inventory.db import session_scope
from inventory.models import (
    ChannelEntitlement,
    ChannelReservation,
    MovementKind,
    StockMovement,
    StockPosition,
)
from tests.utils import factories

CHANNEL_KEY = "sp-test-kill9-tmall-key"
CLIENTS, PER_CLIENT = 8, 30  # even-numbered clients reserve one line a request, odd in batches
MODES = ("single", "batch")
ON_HAND = 1000
KILL_AFTER = 60  # answers (reservations named) received before the SIGKILL
BATCH = 5  # lines per batch request in the batch mode


def _port() -> int:
    """A port the OS picks from its ephemeral range: a fixed range collides with whatever else
    on the machine (another test worker, a developer's server) listens there."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _seed(engine: Engine) -> list[str]:
    with session_scope(engine) as session:
        # It ships parcels: tmall is an online channel, and a store that does not may hold nothing.
        factories.add_location(session, "SHA-A1", ship_from_store=True)
        session.add(ChannelEntitlement(location_code="SHA-A1", channel="tmall"))
        skus = [s.code for s in factories.add_skus(session, factories.add_style(session, "RB001"))]
        for sku in skus:
            factories.add_position(session, "SHA-A1", sku, on_hand=ON_HAND)
        create_api_key(session, "tmall-shop", [Role.CHANNEL], CHANNEL_KEY, channel="tmall")
    return skus


class Service:
    """``stockpilot serve`` in a child process, on a wall clock, without the alert worker."""

    def __init__(self, db: str, data_dir: Path, port: int) -> None:
        self.db, self.data_dir, self.port = db, data_dir, port
        self.child: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(PROJECT_ROOT),
            "STOCKPILOT_DATA_DIR": str(self.data_dir),
            "STOCKPILOT_CLOCK": "wall",
            "STOCKPILOT_DEMO": "0",
        }
        command = [sys.executable, "-m", "stockpilot_cli.main", "serve", "--db", self.db]
        command += ["--port", str(self.port), "--no-worker", "--log-level", "warning"]
        log = open(self.data_dir / "service.log", "ab")  # noqa: SIM115 - the child owns it
        self.child = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + 120
        while True:
            assert self.child.poll() is None, (self.data_dir / "service.log").read_text()
            assert time.monotonic() < deadline, "the service did not come up"
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).json()["status"] == "ok":
                    return
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.2)

    def kill(self) -> None:
        assert self.child is not None
        os.kill(self.child.pid, signal.SIGKILL)
        self.child.wait(timeout=30)
        assert self.child.returncode == -signal.SIGKILL

    def stop(self) -> None:
        if self.child is not None and self.child.poll() is None:
            self.child.terminate()
            try:
                self.child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.child.kill()


def _requests(number: int, skus: list[str], mode: str) -> list[tuple[str, dict, list[str]]]:
    """A client's requests: (path, body, the keys it holds), each retried until answered."""
    lines = []
    for n in range(PER_CLIENT):
        key = f"order-{number}-{n}"
        lines.append({"sku": skus[n % len(skus)], "qty": 1 + n % 3, "idempotency_key": key})
    if mode == "single":
        return [("/v1/reservations", line, [line["idempotency_key"]]) for line in lines]
    return [
        (
            "/v1/reservations/batch",
            {"lines": lines[start : start + BATCH]},
            [line["idempotency_key"] for line in lines[start : start + BATCH]],
        )
        for start in range(0, len(lines), BATCH)
    ]


def _named(answer: httpx.Response, mode: str) -> list[str] | str:
    """The reservation ids an answer names, in the order of its keys (or what went wrong)."""
    if mode == "single":
        return [answer.json()["id"]]
    lines = answer.json()["lines"]
    if any(line["outcome"] == "refused" for line in lines):
        return f"a line was refused: {lines}"
    return [line["reservation"]["id"] for line in lines]


def _mode(number: int) -> str:
    return MODES[number % len(MODES)]


@pytest.mark.slow
def test_no_reservation_is_lost_or_doubled_across_a_kill_9(engine: Engine, tmp_path: Path) -> None:
    skus = _seed(engine)
    service = Service(engine.url.render_as_string(hide_password=False), tmp_path, _port())
    service.start()
    answered: dict[str, list[str]] = {}  # idempotency key → reservation ids answered
    lock = threading.Lock()
    received = threading.Event()
    failures: list[str] = []

    def client(number: int) -> None:
        mode = _mode(number)
        with httpx.Client(base_url=service.url, headers={"x-api-key": CHANNEL_KEY}) as http:
            for path, body, keys in _requests(number, skus, mode):
                deadline = time.monotonic() + 180
                while True:  # the channel retries the same request until it gets an answer
                    try:
                        answer = http.post(path, json=body, timeout=10)
                    except httpx.TransportError:
                        answer = None
                    if answer is not None and answer.status_code in (200, 201):
                        named = _named(answer, mode)
                        if isinstance(named, str):
                            failures.append(f"{keys}: {named[:300]}")
                            break
                        with lock:
                            for key, reservation_id in zip(keys, named, strict=True):
                                answered.setdefault(key, []).append(reservation_id)
                            if sum(len(v) for v in answered.values()) >= KILL_AFTER:
                                received.set()
                        break
                    if answer is not None and answer.status_code not in (502, 503, 504):
                        failures.append(f"{keys}: {answer.status_code} {answer.text[:200]}")
                        break
                    if time.monotonic() > deadline:
                        failures.append(f"{keys}: no answer before the deadline")
                        break
                    time.sleep(0.1)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    try:
        for thread in threads:
            thread.start()
        assert received.wait(timeout=180), "no reservations were answered before the kill"
        service.kill()  # mid-stream: the clients have requests in flight and more to send
        with lock:
            before_kill = set(answered)
        service.start()
        for thread in threads:
            thread.join(timeout=300)
    finally:
        service.stop()
    assert not failures, failures[:5]
    keys = {f"order-{c}-{n}" for c in range(CLIENTS) for n in range(PER_CLIENT)}
    assert set(answered) == keys
    for mode in MODES:  # each kind of request was still being sent when the service died
        mine = {
            f"order-{c}-{n}" for c in range(CLIENTS) if _mode(c) == mode for n in range(PER_CLIENT)
        }
        assert not mine <= before_kill, f"the kill was not mid-stream for {mode} requests"

    with Session(engine) as session:
        rows = session.exec(select(ChannelReservation)).all()
        by_key = {row.idempotency_key.removeprefix("tmall:"): row for row in rows}
        # Exactly one reservation per key, and every answer named that one.
        assert len(rows) == len(keys) and set(by_key) == keys
        assert {k: set(ids) for k, ids in answered.items()} == {
            k: {r.id} for k, r in by_key.items()
        }
        # One reserve movement per reservation, none without one.
        moves = session.exec(
            select(StockMovement).where(StockMovement.kind == MovementKind.RESERVE)
        ).all()
        assert Counter(m.ref for m in moves) == Counter({r.id: 1 for r in rows})
        # The positions hold exactly what the open reservations hold; on-hand untouched.
        held = Counter()
        for row in rows:
            assert row.status == "open"
            held[row.sku_code] += row.qty
        positions = session.exec(
            select(StockPosition).where(col(StockPosition.sku_code).in_(skus))
        ).all()
        assert {p.sku_code: (p.on_hand, p.reserved) for p in positions} == {
            sku: (ON_HAND, held[sku]) for sku in skus
        }
