"""Which stores ship no online order now (``stores_not_shipping_online``), on SQLite and
PostgreSQL: what availability leaves out on every request, so it is one statement."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from inventory.db import session_scope
from inventory.models import OnlineNodeLoad
from tests.inventory.test_online_orders import place, settings_with
from tests.utils.routing_pool import NOW, seed_routing_pool
from tools.route_order.pool import local_day, stores_not_shipping_online
from tools.route_order.settings import RoutingSettings, load_routing_settings

UNFLAGGED = {"SHA-OUT": "store does not ship online", "BEI-B1": "store does not ship online"}


@contextmanager
def one_statement(engine: Engine) -> Iterator[None]:
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(statements) == 1, statements


def closed(engine: Engine, settings: RoutingSettings) -> dict[str, str]:
    with Session(engine) as session:
        session.connection()  # checked out before counting (SQLite's first-connect pragmas)
        with one_statement(engine):
            return stores_not_shipping_online(session, NOW, settings)


def test_unflagged_stores_and_the_policy_switch(engine: Engine) -> None:
    seed_routing_pool(engine)
    settings = load_routing_settings()
    assert closed(engine, settings) == UNFLAGGED
    off = settings.model_copy(update={"ship_from_store": False})
    assert closed(engine, off) == dict.fromkeys(
        ["SHA-A1", "SHA-A2", "SHA-OUT", "BEI-B1"], "ship-from-store is off"
    )


def test_todays_capacity_and_share_cap(engine: Engine, tmp_path: Path) -> None:
    seed_routing_pool(engine)
    one_a_day = settings_with(
        tmp_path, stores={"daily_capacity_orders": 1, "max_share_per_day": 1.0}
    )
    assert place(engine, "A", settings=one_a_day)[2][0].node_code == "SHA-A1"
    with session_scope(engine) as session:  # a load on an unflagged store keeps its reason
        session.add(OnlineNodeLoad(day=local_day(NOW, one_a_day), node_code="SHA-OUT", orders=3))
    assert closed(engine, one_a_day) == {
        **UNFLAGGED,
        "SHA-A1": "pick/pack capacity reached (1 of 1 orders today)",
    }
    capped = settings_with(tmp_path, stores={"max_share_per_day": 0.5, "share_floor_orders": 0})
    assert closed(engine, capped) == {
        **UNFLAGGED,
        "SHA-A1": "share cap: 1 of today's 1 orders already (at most 50%, floor 0)",
    }
    assert closed(engine, load_routing_settings()) == UNFLAGGED  # 1 of 40, floor 3: open
