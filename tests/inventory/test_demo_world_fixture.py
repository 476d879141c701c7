"""The world_engine fixture other packages rely on: a private, migrated copy of the small world."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from inventory import schema
from inventory.models import Location, StockPosition, WorldMeta


def test_world_engine_is_migrated_and_has_the_clock(world_engine: Engine) -> None:
    assert schema.current_revision(world_engine) == schema.head_revision()
    with Session(world_engine) as session:
        clock = session.get(WorldMeta, "clock")
        assert clock is not None
        assert dt.datetime.fromisoformat(clock.value["now"]) == dt.datetime(2015, 7, 1, 9, 0)
        stores = session.exec(select(Location).where(Location.kind == "store")).all()
        assert len(stores) == 8
        assert {s.city for s in stores} == {"Shanghai", "Guangzhou", "Beijing"}


def test_world_engine_copies_are_private(world_engine: Engine, small_world_template) -> None:
    with Session(world_engine) as session:
        position = session.exec(select(StockPosition)).first()
        assert position is not None
        position_id, changed = position.id, position.on_hand + 1000
        position.on_hand = changed
        session.add(position)
        session.commit()
    template = sa.create_engine(f"sqlite:///{small_world_template}")
    with template.connect() as conn:
        on_hand = conn.execute(
            sa.text("SELECT on_hand FROM stock_position WHERE id = :id"), {"id": position_id}
        ).scalar_one()
    template.dispose()
    assert on_hand == changed - 1000
