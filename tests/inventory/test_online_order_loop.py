"""The routed order's loop: parcels to the OMS through the outbox, fulfilment events settling the
holds through the stock writer, and store day caps that concurrent orders cannot overrun."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import TypeAdapter
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from agents.executor import parcels
from agents.executor.dispatcher import Dispatcher
from connectors import ConnectorSet, RetryPolicy
from inventory.db import make_engine, retrying, session_scope
from inventory.fulfilment import FulfilmentEventIn, record_event
from inventory.models import (
    ChannelReservation,
    OnlineNodeLoad,
    OnlineOrder,
    OnlineOrderLine,
    OutboxMessage,
    ReservationStatus,
    StockMovement,
    StockPosition,
)
from inventory.online_orders import OrderError
from tests.inventory.test_online_orders import place, settings_with
from tests.utils import factories
from tests.utils.routing_pool import NODES, NOW, SKU, seed_routing_pool

EVENT_AT = NOW + dt.timedelta(minutes=30)  # the test orders' holds last an hour


@pytest.fixture
def connectors() -> Iterator[ConnectorSet]:
    retry = RetryPolicy(attempts=2, initial_wait_s=0.01, max_wait_s=0.02, timeout_s=0.4)
    with ConnectorSet.simulated(retry=retry) as connector_set:
        yield connector_set


def position(engine: Engine, node: str, sku: str = SKU) -> tuple[int, int]:
    with Session(engine) as session:
        row = session.exec(
            select(StockPosition).where(
                StockPosition.location_code == node, StockPosition.sku_code == sku
            )
        ).one()
        return row.on_hand, row.reserved


def hold(engine: Engine, line: OnlineOrderLine) -> str:
    with Session(engine) as session:
        return session.get(ChannelReservation, line.reservation_id).status


def send(engine: Engine, body: dict):
    event = TypeAdapter(FulfilmentEventIn).validate_python(body)
    with session_scope(engine) as session:
        return record_event(session, "demo-oms", event, now=EVENT_AT)


def online_event(kind: str, order: OnlineOrder, node: str, suffix: str = "", **fields) -> dict:
    return {
        "event_id": f"{order.id}:{node}:{kind}{suffix}",
        "type": kind,
        "system": "oms",
        "order_kind": "online",
        "order_ref": order.id,
        "client_ref": order.id,
        "origin": node,
        "destination": f"zone-{order.destination_city}",
        "occurred_at": EVENT_AT.isoformat(),
    } | fields


def shipped(order: OnlineOrder, node: str, got: int, asked: int, suffix: str = "") -> dict:
    return online_event(
        "shipped",
        order,
        node,
        suffix,
        released_at=NOW.isoformat(),
        lines=[{"line": "1", "sku": SKU, "qty_ordered": asked, "qty_shipped": got}],
    )


# --- parcels to the OMS through the outbox -------------------------------------------------


def test_each_routed_parcel_is_one_outbox_row_sent_to_the_oms_once(
    engine: Engine, connectors: ConnectorSet
) -> None:
    seed_routing_pool(engine)
    row, _, lines = place(engine, "TM-1", qty=2)
    again, created, _ = place(engine, "TM-1", qty=2)  # the channel retries the post
    assert not created and again.id == row.id
    with Session(engine) as session:
        rows = session.exec(select(OutboxMessage)).all()
    assert [(m.target, m.action, m.subject_id) for m in rows] == [("oms", "ship", row.id)]
    assert rows[0].idempotency_key == parcels.shipment_key(row.id, "SHA-A1")
    assert rows[0].payload["lines"] == [{"sku": SKU, "qty": 2}]
    assert rows[0].payload["shipment_ref"] == lines[0].shipment_ref

    dispatcher = Dispatcher(engine, connectors, clock=lambda: NOW)
    assert len(dispatcher.run_pending().sent) == 1
    assert dispatcher.run_pending().sent == []  # nothing left to send
    received = connectors.oms.list_shipments()
    assert len(received) == 1 and received[0].payload["node"] == "SHA-A1"
    assert connectors.oms.list_online_orders() == []  # a parcel is not a customer order


def test_a_cancelled_order_withdraws_its_unsent_parcels(engine: Engine) -> None:
    seed_routing_pool(engine)
    row, _, _ = place(engine, "TM-1")
    with session_scope(engine) as session:
        parcels.cancel_order(session, row.id, channel="online", actor="ops", now=NOW)
    with Session(engine) as session:
        (message,) = session.exec(select(OutboxMessage)).all()
    assert message.status == "cancelled"


# --- fulfilment events settle the holds ----------------------------------------------------


def test_shipped_deducts_the_held_units_once_however_often_it_is_replayed(engine: Engine) -> None:
    seed_routing_pool(engine)
    before, _ = position(engine, "SHA-A1")
    row, _, (line,) = place(engine, "TM-1", qty=2)
    assert position(engine, "SHA-A1") == (before, 2)
    first = send(engine, shipped(row, "SHA-A1", 2, 2))
    assert not first.duplicate
    assert position(engine, "SHA-A1") == (before - 2, 0)
    assert hold(engine, line) == ReservationStatus.CONFIRMED
    assert send(engine, shipped(row, "SHA-A1", 2, 2)).duplicate  # the same event again
    send(engine, online_event("delivered", row, "SHA-A1"))  # and delivery after it
    send(engine, shipped(row, "SHA-A1", 2, 2, suffix="-resent"))  # a new id, same news
    assert position(engine, "SHA-A1") == (before - 2, 0)
    with Session(engine) as session:
        sales = session.exec(select(StockMovement).where(StockMovement.kind == "sale")).all()
    assert [(m.location_code, m.qty) for m in sales] == [("SHA-A1", 2)]


def test_a_parcel_shipped_after_its_hold_lapsed_is_still_booked_once(engine: Engine) -> None:
    seed_routing_pool(engine)
    before, _ = position(engine, "SHA-A1")
    row, _, (line,) = place(engine, "TM-1", qty=2)
    late = shipped(row, "SHA-A1", 2, 2) | {"occurred_at": (NOW + dt.timedelta(hours=3)).isoformat()}
    for suffix in ("", "-again"):
        body = late | {"event_id": late["event_id"] + suffix}
        event = TypeAdapter(FulfilmentEventIn).validate_python(body)
        with session_scope(engine) as session:
            record_event(session, "demo-oms", event, now=NOW + dt.timedelta(hours=3))
    assert hold(engine, line) == ReservationStatus.EXPIRED
    assert position(engine, "SHA-A1") == (before - 2, 0)


def test_delivered_without_shipped_still_closes_the_hold(engine: Engine) -> None:
    seed_routing_pool(engine)
    before, _ = position(engine, "SHA-A1")
    row, _, (line,) = place(engine, "TM-1", qty=1)
    send(engine, online_event("delivered", row, "SHA-A1"))
    assert position(engine, "SHA-A1") == (before - 1, 0)
    assert hold(engine, line) == ReservationStatus.CONFIRMED


def test_picked_short_sells_what_left_and_writes_off_the_missing_units(engine: Engine) -> None:
    seed_routing_pool(engine)
    before, _ = position(engine, "SHA-A1")
    row, _, (line,) = place(engine, "TM-1", qty=3)
    for suffix in ("", "-again"):
        send(engine, shipped(row, "SHA-A1", 1, 3, suffix=suffix))
    # One unit sold, two not on the shelf: on-hand falls by 3 in all, nothing stays held.
    assert position(engine, "SHA-A1") == (before - 3, 0)
    assert hold(engine, line) == ReservationStatus.RELEASED
    with Session(engine) as session:
        kinds = sorted(
            (m.kind, m.qty)
            for m in session.exec(
                select(StockMovement).where(StockMovement.ref == row.id)  # type: ignore[arg-type]
            )
        )
    assert kinds == [("adjust", -2), ("sale", 1)]


def test_cancelled_releases_the_hold_cancels_the_order_and_frees_its_slot(engine: Engine) -> None:
    seed_routing_pool(engine)
    before, _ = position(engine, "SHA-A1")
    row, _, (line,) = place(engine, "TM-1", qty=2)
    send(engine, online_event("cancelled", row, "SHA-A1", reason="customer cancelled"))
    send(engine, online_event("cancelled", row, "SHA-A1", suffix="-again"))
    assert position(engine, "SHA-A1") == (before, 0)
    assert hold(engine, line) == ReservationStatus.RELEASED
    with Session(engine) as session:
        assert session.get(OnlineOrder, row.id).status == "cancelled"
        (load,) = session.exec(select(OnlineNodeLoad)).all()
    assert (load.node_code, load.orders) == ("SHA-A1", 0)


def test_an_event_about_an_order_we_did_not_route_books_no_stock(engine: Engine) -> None:
    seed_routing_pool(engine)
    before = position(engine, "SHA-A1")
    stranger = OnlineOrder(id="ord-unknown", destination_city="Shanghai")  # type: ignore[call-arg]
    body = online_event("delivered", stranger, "SHA-A1")
    assert not send(engine, body).duplicate
    assert position(engine, "SHA-A1") == before


# --- store day caps under concurrency ------------------------------------------------------


def add_styles(engine: Engine, n: int) -> list[str]:
    """``n`` more styles stocked like RB001 (orders of different styles do not queue on each
    other's stock locks, so only the day counter keeps the cap)."""
    codes = []
    with session_scope(engine) as session:
        for i in range(n):
            style = factories.add_style(session, f"RC{i:03d}")
            for sku in factories.add_skus(session, style):
                for node, (kind, *_rest, units, safety) in NODES.items():
                    factories.add_position(
                        session,
                        node,
                        sku.code,
                        on_hand=units,
                        safety=safety,
                        min_display=1 if kind == "store" else 0,
                    )
            codes.append(f"RC{i:03d}-BLK-38")
    return codes


def test_concurrent_orders_never_overrun_a_store_day_capacity(
    engine: Engine, tmp_path: Path
) -> None:
    """10 orders of 10 styles race; SHA-A1 (the best node) may take 2 a day: exactly 2 ship
    from it, the rest from the DC (both databases; counting committed orders let PostgreSQL
    overrun)."""
    seed_routing_pool(engine)
    skus = add_styles(engine, 10)
    two_a_day = settings_with(
        tmp_path, stores={"daily_capacity_orders": 2, "max_share_per_day": 1.0}
    )
    url = engine.url.render_as_string(hide_password=False)
    nodes: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(10)

    def worker(n: int) -> None:
        own = make_engine(url)
        try:
            barrier.wait()
            try:
                _, _, lines = place(own, f"RACE-{n}", sku=skus[n], settings=two_a_day)
                outcome = lines[0].node_code
            except OrderError as error:
                outcome = error.kind
        finally:
            own.dispose()
        with lock:
            nodes.append(outcome)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert nodes.count("SHA-A1") == 2, nodes
    assert len(nodes) == 10 and all(node in {"SHA-A1", "DC-SHA"} for node in nodes), nodes
    with Session(engine) as session:
        (load,) = session.exec(
            select(OnlineNodeLoad).where(OnlineNodeLoad.node_code == "SHA-A1")
        ).all()
        shipped_from_store = {
            line.order_id
            for line in session.exec(
                select(OnlineOrderLine).where(OnlineOrderLine.node_code == "SHA-A1")
            )
        }
    assert load.orders == 2 == len(shipped_from_store)


def test_a_webhook_replayed_concurrently_deducts_the_stock_once(engine: Engine) -> None:
    """Eight deliveries of the same shipped event, and four of the same news under other ids
    (a sender that restarted and re-sent), race on their own connections: on-hand falls once."""
    seed_routing_pool(engine)
    before, _ = position(engine, "SHA-A1")
    row, _, (line,) = place(engine, "TM-RACE", qty=2)
    url = engine.url.render_as_string(hide_password=False)
    bodies = [shipped(row, "SHA-A1", 2, 2)] * 8 + [
        shipped(row, "SHA-A1", 2, 2, suffix=f"-resent-{n}") for n in range(4)
    ]
    barrier = threading.Barrier(len(bodies))
    errors: list[BaseException] = []

    def worker(body: dict) -> None:
        own = make_engine(url)
        try:
            event = TypeAdapter(FulfilmentEventIn).validate_python(body)
            barrier.wait()
            retrying(own, lambda s: record_event(s, "demo-oms", event, now=EVENT_AT))
        except BaseException as error:
            errors.append(error)
        finally:
            own.dispose()

    threads = [threading.Thread(target=worker, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert position(engine, "SHA-A1") == (before - 2, 0)
    assert hold(engine, line) == ReservationStatus.CONFIRMED
    with Session(engine) as session:
        sales = session.exec(select(StockMovement).where(StockMovement.kind == "sale")).all()
    assert [(m.location_code, m.qty) for m in sales] == [("SHA-A1", 2)]
