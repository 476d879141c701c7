"""Placing online orders: routed and held in one transaction, idempotent, never oversold."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
import yaml
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from agents.executor import parcels
from inventory import online_orders
from inventory.db import make_engine, session_scope
from inventory.models import (
    ChannelReservation,
    OnlineOrder,
    OnlineOrderLine,
    ReservationStatus,
    StockPosition,
)
from inventory.online_orders import OrderError, OrderSpec
from tests.utils.routing_pool import NOW, SKU, seed_routing_pool
from tools.route_order.models import OrderLineInput, RouteOrderInput
from tools.route_order.pool import local_day
from tools.route_order.router import order_router
from tools.route_order.settings import DEFAULT_ROUTING_FILE, load_routing_settings


def settings_with(tmp_path: Path, **changes: object):
    if not changes:
        return load_routing_settings()
    raw = yaml.safe_load(DEFAULT_ROUTING_FILE.read_text()) | changes
    path = tmp_path / f"routing-{len(list(tmp_path.iterdir()))}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_routing_settings(path)


def place(
    engine: Engine,
    order_id: str,
    *,
    qty: int = 1,
    sku: str = SKU,
    city: str = "Shanghai",
    settings=None,
    channel: str = "online",
):
    settings = settings or load_routing_settings()
    spec = OrderSpec(
        channel=channel,
        channel_order_id=order_id,
        lines=((sku, qty),),
        destination_city=city,
        address="",
        promised_by=NOW + dt.timedelta(hours=48),
    )
    request = RouteOrderInput(
        lines=[OrderLineInput(sku=sku, qty=qty)], destination_city=city, channel=channel
    )
    with session_scope(engine) as session:
        row, created = parcels.place_order(
            session,
            spec,
            order_router(request, settings, NOW),
            actor="tmall-key",
            now=NOW,
            ttl_s=3600,
            routing_day=local_day(NOW, settings),
        )
        lines = online_orders.lines_of(session, row.id)
    return row, created, lines


def reserved(engine: Engine, location: str, sku: str = SKU) -> int:
    with Session(engine) as session:
        stmt = select(StockPosition.reserved).where(
            StockPosition.location_code == location, StockPosition.sku_code == sku
        )
        return session.exec(stmt).one()


def test_an_order_is_routed_and_held_at_the_chosen_node(engine: Engine) -> None:
    seed_routing_pool(engine)
    row, created, lines = place(engine, "TM-1", qty=2)
    assert created and row.status == "routed" and row.units == 2 and row.shipments == 1
    (line,) = lines
    assert line.node_code == "SHA-A1" and line.shipment_ref == f"{row.id}/SHA-A1"
    assert reserved(engine, "SHA-A1") == 2
    with Session(engine) as session:
        held = session.get(ChannelReservation, line.reservation_id)
        assert held.status == ReservationStatus.OPEN and held.location_code == "SHA-A1"
    assert row.decision["chosen"]["nodes"] == ["SHA-A1"]
    assert len(row.decision["runners_up"]) == 2


def test_the_same_order_id_is_answered_once_and_a_different_order_is_refused(
    engine: Engine,
) -> None:
    seed_routing_pool(engine)
    first, _, _ = place(engine, "TM-1")
    again, created, _ = place(engine, "TM-1")
    assert not created and again.id == first.id
    assert reserved(engine, "SHA-A1") == 1
    with pytest.raises(OrderError, match="different order") as refused:
        place(engine, "TM-1", qty=3)
    assert refused.value.kind == "conflict"


def test_an_unroutable_order_is_refused_and_holds_nothing(engine: Engine) -> None:
    seed_routing_pool(engine)
    with pytest.raises(OrderError, match="asked") as refused:
        place(engine, "TM-9", qty=100)
    assert refused.value.kind == "refused"
    with Session(engine) as session:
        assert session.exec(select(OnlineOrder)).all() == []
        assert session.exec(select(ChannelReservation)).all() == []


def test_store_capacity_and_the_daily_share_cap_move_orders_elsewhere(
    engine: Engine, tmp_path: Path
) -> None:
    seed_routing_pool(engine)
    one_a_day = settings_with(
        tmp_path, stores={"daily_capacity_orders": 1, "max_share_per_day": 1.0}
    )
    assert place(engine, "A", settings=one_a_day)[2][0].node_code == "SHA-A1"
    second = place(engine, "B", settings=one_a_day)
    assert second[2][0].node_code == "DC-SHA"
    assert "capacity reached" in str(second[0].decision["excluded"])
    capped = settings_with(tmp_path, stores={"max_share_per_day": 0.5, "share_floor_orders": 0})
    # SHA-A1 shipped 1 of 2 orders today: a third would make it 2 of 3 (> 50 %).
    third = place(engine, "C", settings=capped)
    assert third[2][0].node_code == "DC-SHA"
    assert "share cap" in str(third[0].decision["excluded"])


def test_cancel_releases_the_holds_once(engine: Engine) -> None:
    seed_routing_pool(engine)
    row, _, _ = place(engine, "TM-1", qty=3)
    for _ in range(2):
        with session_scope(engine) as session:
            cancelled = parcels.cancel_order(
                session, row.id, channel="online", actor="ops", now=NOW
            )
        assert cancelled.status == "cancelled"
    assert reserved(engine, "SHA-A1") == 0
    with session_scope(engine) as session, pytest.raises(OrderError) as foreign:
        parcels.cancel_order(session, row.id, channel="douyin", actor="x", now=NOW)
    assert foreign.value.kind == "forbidden"


def test_orders_racing_for_the_last_units_never_oversell(engine: Engine) -> None:
    """12 one-unit orders race for the 5 units a Shanghai customer can get (both databases)."""
    seed_routing_pool(
        engine, stock={"SHA-A1": 2, "SHA-A2": 1, "DC-SHA": 4, "DC-BEI": 3, "SHA-OUT": 0}
    )
    # SHA-A1 gives 1 (min display), SHA-A2 0, DC-SHA 2 (safety 2), DC-BEI 1 (safety 2): 4 units.
    url = engine.url.render_as_string(hide_password=False)
    results: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(12)

    def worker(n: int) -> None:
        own = make_engine(url)
        try:
            barrier.wait()
            try:
                place(own, f"RACE-{n}")
                outcome = "placed"
            except OrderError as error:
                outcome = error.kind
        finally:
            own.dispose()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("placed") == 4 and results.count("refused") == 8
    with Session(engine) as session:
        positions = session.exec(select(StockPosition).where(StockPosition.sku_code == SKU)).all()
        for position in positions:
            assert 0 <= position.reserved <= position.on_hand
            assert position.on_hand - position.reserved - position.safety >= 0 or (
                position.reserved == 0
            )
        held = sum(line.qty for line in session.exec(select(OnlineOrderLine)))
    assert held == 4
    assert reserved(engine, "SHA-A1") == 1  # its display unit stays, however the race ran


def test_the_same_order_posted_concurrently_is_placed_once(engine: Engine) -> None:
    seed_routing_pool(engine)
    url = engine.url.render_as_string(hide_password=False)
    outcomes: list[tuple[str, bool]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def worker() -> None:
        own = make_engine(url)
        try:
            barrier.wait()
            row, created, _ = place(own, "SAME-1", qty=2)
        finally:
            own.dispose()
        with lock:
            outcomes.append((row.id, created))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 6 and len({order_id for order_id, _ in outcomes}) == 1
    assert sum(created for _, created in outcomes) == 1
    assert reserved(engine, "SHA-A1") == 2
