"""The service under test and the simulated systems that report to it, built one way.

The WMS loop (``tests/connectors/test_simulated_feedback.py``) and the OMS parcel loop
(``tests/api/test_parcel_loop.py``, ``tests/api/test_orders.py``) drive the same harness: the
service over the test's pool with the tiny catalogue (on a real port when a simulated system's
emitter must reach it), signed events from a sender it has a secret for, the emitter drained,
and the service's subscription to an embedded system checked on a stand-in of its state.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from api.app import create_app
from api.auth import Role, create_api_key, seed_demo_keys
from api.signatures import signed_headers
from connectors import ConnectorSet
from connectors.simulated.state import OutgoingEvent, SimulatedState
from inventory.config import Settings
from inventory.db import session_scope
from tests.api.conftest import KEYS, served, tiny_catalog
from tests.utils.routing_pool import SKU, seed_routing_pool

#: How long a simulated emitter may take to post every event it queued (a hang, not a budget).
DRAIN_TIMEOUT_S = 60.0


def routing_pool_with_keys(engine: Engine, channels: dict[str, tuple[str, str]]) -> dict[str, str]:
    """The routing pool (``tests.utils.routing_pool``), the demo keys, and a channel key for
    each ``name → (key name, channel)``; every key by name, the demo ones too."""
    seed_demo_keys(engine)
    seed_routing_pool(engine)
    with session_scope(engine) as session:
        keys = {
            name: create_api_key(session, label, [Role.CHANNEL], channel=channel)
            for name, (label, channel) in channels.items()
        }
    return keys | KEYS


def tiny_service(engine: Engine, tmp_path: Path, **settings: object) -> FastAPI:
    """The service over ``engine``'s pool with the tiny catalogue, its data in ``tmp_path``;
    ``settings`` are the test's own (``clock``, ``fulfilment_secrets``, ``routing_file`` …)."""
    values: dict[str, object] = {
        "database_url": engine.url.render_as_string(hide_password=False),
        "data_dir": tmp_path,
    }
    return create_app(
        Settings(**(values | settings)),  # type: ignore[arg-type]
        engine=engine,
        catalog=tiny_catalog(engine),
    )


@contextmanager
def served_service(engine: Engine, tmp_path: Path, **settings: object) -> Iterator[str]:
    """``tiny_service`` on a real loopback port (its URL), for an emitter that posts over HTTP."""
    with served(tiny_service(engine, tmp_path, **settings)) as url:
        yield url


def drain(state: SimulatedState) -> list[OutgoingEvent]:
    """Wait until the simulated systems' emitter has posted every event it queued; all of them."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while any(item.status == "pending" for item in state.outgoing_events()):
        assert time.monotonic() < deadline, state.outgoing_events()[:3]
        time.sleep(0.1)
    return state.outgoing_events()


def post_signed(client: TestClient, sender: str, secret: str, body: dict):
    """A fulfilment event as a system posts it: the raw body signed with the sender's secret."""
    raw = json.dumps(body).encode()
    return client.post(
        "/v1/fulfilment/events", content=raw, headers=signed_headers(sender, secret, raw)
    )


def embedded_app_state(
    engine: Engine, systems: ConnectorSet, **settings: object
) -> SimpleNamespace:
    """What ``api.fulfilment_feedback`` reads of a running service with embedded simulated
    systems: its settings (loopback port 8342 on all interfaces), pool and connectors."""
    values = {"database_url": "sqlite://", "port": 8342, "host": "0.0.0.0"} | settings
    runner = SimpleNamespace(catalog=SimpleNamespace(runtime=SimpleNamespace(connectors=systems)))
    return SimpleNamespace(settings=Settings(**values), engine=engine, runner=runner)  # type: ignore[arg-type]


def order_body(order_id: str = "WEB-1", qty: int = 1, **fields: object) -> dict:
    """A channel's ``POST /v1/orders`` body on the routing pool: ``qty`` of its SKU to a
    Shanghai address; ``fields`` add to it or replace (``oms_ref``, ``lines`` …)."""
    return {
        "order_id": order_id,
        "lines": [{"sku": SKU, "qty": qty}],
        "destination": {"city": "上海", "address": "南京西路 1 号"},
    } | fields
