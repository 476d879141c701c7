"""Channel availability and reservations on the single stock writer, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from inventory import movements, reservations
from inventory.availability import availability, availability_json
from inventory.db import session_scope
from inventory.models import (
    ChannelEntitlement,
    ChannelReservation,
    MovementKind,
    StockMovement,
    StockPosition,
)
from inventory.reservations import ReservationError, ReservationRequest
from tests.utils import factories
from tests.utils.racing import race

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
SKU = "RB001-BLK-38"
#: location → (kind, tier, on_hand, safety, entitled channels)
NETWORK = {
    "SHA-DC": ("dc", "A", 40, 0, ()),
    "SHA-A1": ("store", "A", 12, 2, ("store", "online")),
    "SHA-A2": ("store", "A", 6, 0, ("store", "online")),
    "SHA-OUT": ("store", "outlet", 30, 0, ("store",)),
}


def seed(engine: Engine, network: dict = NETWORK) -> None:
    with session_scope(engine) as session:
        factories.add_skus(session, factories.add_style(session, "RB001"))
        for code, (kind, tier, on_hand, safety, channels) in network.items():
            factories.add_location(session, code, kind=kind, tier=tier)
            factories.add_position(session, code, SKU, on_hand=on_hand, safety=safety)
            for channel in ("store", "online"):
                session.add(
                    ChannelEntitlement(
                        location_code=code, channel=channel, allowed=channel in channels
                    )
                )


def request(key: str = "k1", qty: int = 2, **overrides: object) -> ReservationRequest:
    values: dict = {"channel": "online", "sku": SKU, "qty": qty, "idempotency_key": key}
    values |= {"ttl_s": 600} | overrides
    return ReservationRequest(**values)


def create(engine: Engine, req: ReservationRequest, now: dt.datetime = T0) -> ChannelReservation:
    with session_scope(engine) as session:
        row, _ = reservations.create(session, req, actor="tmall-key", now=now)
    return row


def position(engine: Engine, location: str) -> StockPosition:
    with Session(engine) as session:
        stmt = select(StockPosition).where(
            StockPosition.location_code == location, StockPosition.sku_code == SKU
        )
        return session.exec(stmt).one()


def sellable(engine: Engine, channel: str) -> dict[str, int]:
    with Session(engine) as session:
        (item,) = availability(session, channel, [SKU])
    return {loc.location: loc.atp for loc in item.locations}


def test_outlet_stock_never_sells_online_and_dc_on_no_channel(engine: Engine) -> None:
    seed(engine)
    # A1: on-hand 12 less safety 2; the outlet and the DC are not entitled online.
    assert sellable(engine, "online") == {"SHA-A1": 10, "SHA-A2": 6}
    assert sellable(engine, "store") == {"SHA-OUT": 30, "SHA-A1": 10, "SHA-A2": 6}
    assert sellable(engine, "douyin") == {}  # a channel without entitlement rows sells nothing


def test_unknown_and_repeated_skus_answer_once_in_order(engine: Engine) -> None:
    seed(engine)
    with Session(engine) as session:
        items = availability(session, "online", ["NOPE", SKU, "NOPE"])
    assert [(i.sku, i.known, i.sellable) for i in items] == [("NOPE", False, 0), (SKU, True, 16)]


def test_open_reservations_lower_sellable_and_auto_pick_takes_most_atp(engine: Engine) -> None:
    seed(engine)
    row = create(engine, request(qty=3))
    assert row.location_code == "SHA-A1"  # ATP 10 beats SHA-A2's 6
    assert sellable(engine, "online") == {"SHA-A1": 7, "SHA-A2": 6}
    assert position(engine, "SHA-A1").reserved == 3


def test_auto_pick_skips_locations_too_small_and_refuses_beyond_any_one(engine: Engine) -> None:
    seed(engine)
    create(engine, request("a", qty=9))  # SHA-A1 left with ATP 1
    assert create(engine, request("b", qty=4)).location_code == "SHA-A2"
    with pytest.raises(ReservationError, match="at most 2 at one location") as refused:
        create(engine, request("c", qty=5))
    assert refused.value.kind == "refused"


def test_a_location_not_entitled_is_refused(engine: Engine) -> None:
    seed(engine)
    with pytest.raises(ReservationError, match="SHA-OUT may not sell on channel 'online'"):
        create(engine, request(location="SHA-OUT"))
    assert position(engine, "SHA-OUT").reserved == 0


def test_same_key_same_reservation_and_other_body_conflicts(engine: Engine) -> None:
    seed(engine)
    first = create(engine, request("order-1", qty=2))
    with session_scope(engine) as session:
        again, created = reservations.create(session, request("order-1", qty=2), actor="x", now=T0)
    assert (again.id, created) == (first.id, False)
    assert position(engine, first.location_code).reserved == 2
    with pytest.raises(ReservationError, match="already used for reservation") as conflict:
        create(engine, request("order-1", qty=3))
    assert conflict.value.kind == "conflict"
    # Keys are per channel: the store channel may use the same one.
    assert create(engine, request("order-1", channel="store")).id != first.id


def test_confirm_deducts_on_hand_once(engine: Engine) -> None:
    seed(engine)
    row = create(engine, request(qty=2, location="SHA-A2"))
    for _ in range(2):
        with session_scope(engine) as session:
            done = reservations.confirm(session, row.id, channel="online", actor="k", now=T0)
            assert done.status == "confirmed"
    after = position(engine, "SHA-A2")
    assert (after.on_hand, after.reserved) == (4, 0)
    with Session(engine) as session:
        sales = session.exec(
            select(StockMovement).where(
                StockMovement.ref == row.id, StockMovement.kind == MovementKind.SALE
            )
        ).all()
    assert len(sales) == 1
    too_late = "is confirmed; it can no longer be released"
    with pytest.raises(ReservationError, match=too_late), session_scope(engine) as session:
        reservations.release(session, row.id, channel="online", actor="k", now=T0)


def test_release_restores_atp_and_is_idempotent(engine: Engine) -> None:
    seed(engine)
    row = create(engine, request(qty=5, location="SHA-A1"))
    for _ in range(2):
        with session_scope(engine) as session:
            reservations.release(session, row.id, channel=None, actor="ops", now=T0)
    after = position(engine, "SHA-A1")
    assert (after.on_hand, after.reserved) == (12, 0)
    assert sellable(engine, "online")["SHA-A1"] == 10
    with pytest.raises(ReservationError, match="is released"), session_scope(engine) as session:
        reservations.confirm(session, row.id, channel=None, actor="ops", now=T0)


def test_another_channel_may_not_touch_a_reservation(engine: Engine) -> None:
    seed(engine)
    row = create(engine, request(qty=1))
    not_yours = "belongs to channel 'online'"
    with (
        pytest.raises(ReservationError, match=not_yours) as denied,
        session_scope(engine) as session,
    ):
        reservations.release(session, row.id, channel="store", actor="pos", now=T0)
    assert denied.value.kind == "forbidden"
    assert position(engine, row.location_code).reserved == 1


def test_ttl_expiry_by_sweep_and_lazily_on_read(engine: Engine) -> None:
    seed(engine)
    swept = create(engine, request("a", qty=2, location="SHA-A1", ttl_s=60))
    lazy = create(engine, request("b", qty=1, location="SHA-A2", ttl_s=120))
    kept = create(engine, request("c", qty=1, location="SHA-A2", ttl_s=3600))
    later = T0 + dt.timedelta(seconds=90)
    with session_scope(engine) as session:
        assert reservations.sweep_expired(session, now=later) == 1
    with session_scope(engine) as session:
        assert reservations.sweep_expired(session, now=later) == 0
    assert position(engine, "SHA-A1").reserved == 0
    much_later = T0 + dt.timedelta(seconds=150)
    with session_scope(engine) as session:
        read = reservations.get(session, lazy.id, channel="online", now=much_later)
        assert read.status == "expired"
    with session_scope(engine) as session:
        assert reservations.get(session, swept.id, channel=None, now=later).status == "expired"
        assert reservations.get(session, kept.id, channel=None, now=much_later).status == "open"
    assert position(engine, "SHA-A2").reserved == 1
    with pytest.raises(ReservationError, match="is expired"), session_scope(engine) as session:
        reservations.confirm(session, lazy.id, channel="online", actor="k", now=much_later)


def test_confirm_after_ttl_is_refused_and_the_units_are_back(engine: Engine) -> None:
    seed(engine)
    row = create(engine, request(qty=4, location="SHA-A2", ttl_s=60))
    late = T0 + dt.timedelta(minutes=5)
    with pytest.raises(ReservationError, match="is expired"), session_scope(engine) as session:
        try:
            reservations.confirm(session, row.id, channel="online", actor="k", now=late)
        finally:
            session.commit()  # as the route does: the expiry stands
    after = position(engine, "SHA-A2")
    assert (after.on_hand, after.reserved) == (6, 0)


THREADS, LAST_UNITS = 16, 5


def test_racing_channels_never_oversell_the_last_units(engine: Engine) -> None:
    seed(engine, {"SHA-A1": ("store", "A", LAST_UNITS, 0, ("online",))})
    won: list[str] = []
    refused: list[str] = []

    def racer(own: Engine, index: int) -> None:
        for attempt in range(2):
            req = request(f"t{index}-{attempt}", qty=1)
            try:
                won.append(create(own, req).id)
            except ReservationError as error:
                refused.append(error.message)

    race(engine, THREADS, racer)
    assert len(won) == LAST_UNITS and len(set(won)) == LAST_UNITS
    assert len(refused) == 2 * THREADS - LAST_UNITS
    after = position(engine, "SHA-A1")
    assert (after.on_hand, after.reserved) == (LAST_UNITS, LAST_UNITS)
    with Session(engine) as session:
        assert len(session.exec(select(ChannelReservation)).all()) == LAST_UNITS
        reserves = session.exec(
            select(StockMovement).where(StockMovement.kind == MovementKind.RESERVE)
        ).all()
    assert sum(m.qty for m in reserves) == LAST_UNITS


def test_movements_stay_the_only_writer(engine: Engine) -> None:
    """A walk-in sale cannot take units a channel holds (the writer's own guard)."""
    seed(engine)
    create(engine, request(qty=6, location="SHA-A2"))
    with pytest.raises(movements.MovementRefused), session_scope(engine) as session:
        movements.record_sale(session, "SHA-A2", SKU, 1)


def test_racing_retries_of_one_key_hold_once(engine: Engine) -> None:
    seed(engine)
    ids: list[str] = []
    race(engine, 8, lambda own, _: ids.append(create(own, request("same-order", qty=3)).id))
    assert len(ids) == 8 and len(set(ids)) == 1
    assert position(engine, "SHA-A1").reserved + position(engine, "SHA-A2").reserved == 3


def test_a_refused_movement_leaves_the_reservation_open(engine: Engine) -> None:
    seed(engine)
    row = create(engine, request(qty=2, location="SHA-A2"))
    with engine.begin() as conn:  # someone changed the position behind the pool's back
        conn.execute(
            sa.update(StockPosition.__table__)
            .where(StockPosition.__table__.c.location_code == "SHA-A2")
            .values(reserved=0)
        )
    with session_scope(engine) as session:
        with pytest.raises(ReservationError, match="release exceeds reserved"):
            reservations.release(session, row.id, channel="online", actor="k", now=T0)
        assert reservations.sweep_expired(session, now=T0 + dt.timedelta(days=1)) == 0
    with Session(engine) as session:
        assert session.get(ChannelReservation, row.id).status == "open"


def test_the_json_answer_is_the_same_availability(engine: Engine) -> None:
    """The API's JSON path (the database aggregates) says exactly what ``availability`` says:
    the same SKUs in the order asked (once each, unknown ones included), the same locations
    most ATP first (ties by code), the same sellable totals."""
    import json

    stores = {f"SHA-S{n:02d}": ("store", "A", (n * 7) % 11, n % 3, ("online",)) for n in range(12)}
    seed(engine, {**NETWORK, **stores})
    create(engine, request("held", qty=4, location="SHA-S03"))
    asked = ["NOPE", SKU, "RB001-BLK-39", SKU, "ANOTHER"]
    with Session(engine) as session:
        expected = [
            {
                "sku": item.sku,
                "known": item.known,
                "sellable": item.sellable,
                "locations": [{"location": loc.location, "atp": loc.atp} for loc in item.locations],
            }
            for item in availability(session, "online", asked)
        ]
        answered = [json.loads(item) for item in availability_json(session, "online", asked).items]
    assert answered == expected
    assert [item["sku"] for item in answered] == ["NOPE", SKU, "RB001-BLK-39", "ANOTHER"]
    assert answered[1]["sellable"] > 0 and answered[2] == {
        "sku": "RB001-BLK-39",
        "known": True,
        "sellable": 0,
        "locations": [],
    }
    atps = [loc["atp"] for loc in answered[1]["locations"]]
    assert atps == sorted(atps, reverse=True) and len(set(atps)) < len(atps)  # ties exist


def test_a_lapsed_hold_is_swept_before_an_availability_answer(engine: Engine) -> None:
    seed(engine)
    create(engine, request("short", qty=3, location="SHA-A2", ttl_s=60))
    create(engine, request("long", qty=1, location="SHA-A2", ttl_s=3600))
    with session_scope(engine) as session:
        assert (
            reservations.sweep_expired(session, now=T0 + dt.timedelta(seconds=30), skus=[SKU]) == 0
        )
        assert (
            reservations.sweep_expired(session, now=T0 + dt.timedelta(seconds=90), skus=[SKU]) == 1
        )
    assert position(engine, "SHA-A2").reserved == 1


def test_a_closed_location_is_never_picked_and_refused_by_name(engine: Engine) -> None:
    """``closed``: what the API leaves out for the channel (stores that ship no online orders).
    SHA-A1 has the most ATP, but a hold goes to SHA-A2 (the fast path, and the checked path's
    refusal when SHA-A2 cannot cover it); named, it is refused; a key held there before it
    closed still replays; a batch follows the same rules."""
    seed(engine)
    held_before = create(engine, request("before", location="SHA-A1"))
    closed = {"SHA-A1": "store does not ship online"}

    def hold(req: ReservationRequest) -> tuple[ChannelReservation, bool]:
        with session_scope(engine) as session:
            return reservations.create(session, req, actor="tmall-key", now=T0, closed=closed)

    assert hold(request("auto"))[0].location_code == "SHA-A2"
    with pytest.raises(ReservationError) as too_many:
        hold(request("too-many", qty=5))  # SHA-A2 has 4 left; SHA-A1's 8 are not offered
    assert too_many.value.field == "qty"
    with pytest.raises(ReservationError) as named:
        hold(request("named", location="SHA-A1"))
    assert named.value.kind == "refused" and named.value.field == "location"
    assert named.value.message == "SHA-A1 does not ship online orders: store does not ship online"
    replay, created = hold(request("before", location="SHA-A1"))
    assert (replay.id, created) == (held_before.id, False)
    with session_scope(engine) as session:
        auto, refused = reservations.create_batch(
            session,
            "online",
            [request("batch-auto", qty=1), request("batch-named", qty=1, location="SHA-A1")],
            actor="tmall-key",
            now=T0,
            closed=closed,
        )
    assert auto.reservation is not None and auto.reservation.location_code == "SHA-A2"
    assert refused.error is not None and refused.error.field == "location"
    assert position(engine, "SHA-A1").reserved == 2  # only the hold from before it closed
