"""A dispatcher SIGKILLed after the WMS took the order: the next one must not duplicate it."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from agents.executor import orders
from agents.executor.dispatcher import Dispatcher, DispatchSettings
from connectors import ConnectorSet, RetryPolicy
from connectors.simulated.state import FaultSpec
from inventory.db import session_scope
from inventory.models import OrderStatus, OutboxMessage, OutboxStatus, TransferOrder
from tests.agents.executor_helpers import DEST, NOW, SOURCE, decided, position, seed_pool, shipment

PROJECT_ROOT = Path(__file__).resolve().parents[2]

_DISPATCH_ONCE = """
import sys
from agents.executor.dispatcher import Dispatcher
from connectors import ConnectorSet, RetryPolicy
from inventory.db import make_engine

db_url, wms_url = sys.argv[1], sys.argv[2]
connectors = ConnectorSet.at(wms_url, retry=RetryPolicy(attempts=1, timeout_s=60))
Dispatcher(make_engine(db_url), connectors).run_pending()
"""


def _wait_for(condition, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the subprocess"
        time.sleep(0.05)


def test_sigkill_between_wms_answer_and_commit(sqlite_engine: Engine, tmp_path: Path) -> None:
    skus = seed_pool(sqlite_engine)
    with session_scope(sqlite_engine) as session:
        order_id = orders.create_transfer_order(session, shipment([(skus[0], 3)]), at=NOW).id
        decided(session, order_id, "lee")
        orders.approve_transfer_order(session, order_id, decided_by="lee", at=NOW)

    with ConnectorSet.simulated(tmp_path / "systems.sqlite") as connectors:
        state = connectors.simulated_server.state
        # The WMS books the order and then sits on its answer: the dispatcher is mid-send.
        state.set_fault(FaultSpec(system="wms", mode="timeout_after_commit", delay_s=30))
        child = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _DISPATCH_ONCE,
                str(sqlite_engine.url),
                connectors.simulated_server.url,
            ],
            cwd=PROJECT_ROOT,
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        )
        try:
            _wait_for(lambda: len(state.received("wms")) == 1)
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=10)
        assert child.returncode == -signal.SIGKILL

        with Session(sqlite_engine) as session:
            row = session.get(OutboxMessage, 1)
            assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1)
            assert session.get(TransferOrder, order_id).status == OrderStatus.APPROVED

        after_lease = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=121)).replace(tzinfo=None)
        fast = ConnectorSet.at(
            connectors.simulated_server.url, retry=RetryPolicy(attempts=1, timeout_s=5)
        )
        with fast:
            report = Dispatcher(
                sqlite_engine, fast, clock=lambda: after_lease, settings=DispatchSettings()
            ).run_pending()

        assert report.sent == [orders.wms_idempotency_key(order_id)]
        wms_orders = connectors.wms.list_transfer_orders()
        assert [record.order.order_id for record in wms_orders] == [order_id]
        assert [r.outcome for r in state.requests()] == ["created+stalled", "duplicate"]

    with Session(sqlite_engine) as session:
        order = session.get(TransferOrder, order_id)
        assert (order.status, order.external_ref) == (
            OrderStatus.DISPATCHED,
            wms_orders[0].reference,
        )
    source, dest = position(sqlite_engine, SOURCE, skus[0]), position(sqlite_engine, DEST, skus[0])
    assert (source.on_hand, source.reserved, source.in_transit_out) == (7, 0, 3)
    assert dest.in_transit_in == 3
