"""Fulfilment feedback: events become outcomes, outcomes become lane and node figures (both DBs)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from inventory import fulfilment_stats as stats
from inventory.db import retrying, session_scope
from inventory.fulfilment import FulfilmentRefused, record_event
from inventory.models import FulfilmentEvent, FulfilmentOutcome, Lane
from tests.utils import factories
from tests.utils.fulfilment_events import T0, add_network, deliver, event


def seed(engine: Engine) -> None:
    """DC-SHA ships to two stores: A1 on a 24 h / ¥2 per unit + ¥40 per trip lane, B1 on 12 h."""
    with session_scope(engine) as session:
        add_network(session, ["SHA-A1"])
        factories.add_location(session, "SHA-B1")
        session.add(
            Lane(
                source_code="DC-SHA",
                dest_code="SHA-B1",
                distance_km=10,
                lead_time_hours=12,
                cost_per_unit=2.0,
                cost_per_shipment=40.0,
            )
        )


def test_events_fold_into_one_outcome_in_any_order(engine: Engine) -> None:
    seed(engine)
    with session_scope(engine) as session:
        record_event(
            session,
            "wms-sh",
            event("delivered", "WMS-1", occurred_at=(T0 + dt.timedelta(hours=30)).isoformat()),
            now=T0,
        )
    deliver(engine, "WMS-1", hours=30, cost=60.0)
    with Session(engine) as session:
        order = session.exec(select(FulfilmentOutcome).where(FulfilmentOutcome.line == "")).one()
        assert (order.origin, order.destination, order.cost, order.units) == (
            "DC-SHA",
            "SHA-A1",
            60.0,
            5,
        )
        assert order.delivered_at - order.released_at == dt.timedelta(hours=30)  # type: ignore[operator]
        assert len(session.exec(select(FulfilmentEvent)).all()) == 3  # the repeat was a duplicate


def test_a_repeat_is_a_duplicate_and_a_changed_body_a_conflict(engine: Engine) -> None:
    seed(engine)
    first = event("cost", "WMS-2", amount=50.0, units=5)
    with session_scope(engine) as session:
        assert not record_event(session, "wms-sh", first, now=T0).duplicate
    with session_scope(engine) as session:
        assert record_event(session, "wms-sh", first, now=T0).duplicate
        # Another sender's ids are its own.
        assert not record_event(session, "oms", first, now=T0).duplicate
    with session_scope(engine) as session, pytest.raises(FulfilmentRefused) as refused:
        record_event(session, "wms-sh", event("cost", "WMS-2", amount=55.0, units=5), now=T0)
    assert refused.value.kind == "conflict" and "amount" in str(refused.value)


def test_an_order_keeps_its_lane_and_its_node_must_exist(engine: Engine) -> None:
    seed(engine)
    with session_scope(engine) as session:
        record_event(session, "wms-sh", event("cancelled", "WMS-3"), now=T0)
    with session_scope(engine) as session, pytest.raises(FulfilmentRefused) as moved:
        record_event(session, "wms-sh", event("delivered", "WMS-3", dest="SHA-B1"), now=T0)
    assert moved.value.kind == "conflict" and "DC-SHA → SHA-A1" in str(moved.value)
    with session_scope(engine) as session, pytest.raises(FulfilmentRefused) as unknown:
        record_event(session, "wms-sh", event("delivered", "WMS-4", origin="NOWHERE"), now=T0)
    assert unknown.value.kind == "invalid" and unknown.value.field == "origin"


def test_lead_time_and_cost_are_shrunk_towards_the_configured_lane(engine: Engine) -> None:
    seed(engine)
    with Session(engine) as session:
        fresh = stats.lane_figures_for(session, "DC-SHA", "SHA-A1")
    assert fresh is not None and fresh.effective == fresh.configured and not fresh.differs
    # Five deliveries at 48 h on a 24 h lane, each costing twice the configured ¥50 (40 + 5 × 2).
    for n in range(5):
        deliver(engine, f"WMS-{n}", hours=48, cost=100.0)
    with Session(engine) as session:
        lane = stats.lane_figures_for(session, "DC-SHA", "SHA-A1")
    assert lane is not None and lane.configured is not None and lane.effective is not None
    assert lane.learnt.deliveries == 5 and lane.learnt.lead_time_hours == pytest.approx(48)
    z = 5 / (5 + stats.LEAD_TIME_K)
    assert lane.effective.lead_time_hours == pytest.approx(z * 48 + (1 - z) * 24)
    assert lane.learnt.cost_ratio == pytest.approx(2.0)
    ratio = z * 2.0 + (1 - z)
    assert lane.effective.cost_per_unit == pytest.approx(2.0 * ratio)
    assert lane.effective.cost_per_shipment == pytest.approx(40.0 * ratio)
    assert lane.learnt.cost_per_trip == pytest.approx(100.0)
    assert lane.differs and "lead time 36 h vs 24 h configured (+50%" in lane.deviations[0]
    # The untouched lane keeps its configured figures; planning reads the effective ones.
    with Session(engine) as session:
        other = stats.lane_figures_for(session, "DC-SHA", "SHA-B1")
        planned = {(s, d): lead for s, d, lead, _, _ in stats.planning_lanes(session)}
    assert other is not None and other.effective == other.configured
    assert planned == {("DC-SHA", "SHA-A1"): pytest.approx(36.0), ("DC-SHA", "SHA-B1"): 12.0}


def test_thin_evidence_moves_little_and_is_not_called_material(engine: Engine) -> None:
    seed(engine)
    deliver(engine, "WMS-1", hours=72)
    with Session(engine) as session:
        lane = stats.lane_figures_for(session, "DC-SHA", "SHA-A1")
    assert lane is not None and lane.effective is not None
    assert lane.effective.lead_time_hours == pytest.approx(24 + (72 - 24) / 6)
    assert not lane.differs  # one delivery is below MIN_EVIDENCE


def test_cancelled_orders_do_not_count_as_deliveries(engine: Engine) -> None:
    seed(engine)
    deliver(engine, "WMS-1", hours=48)
    with session_scope(engine) as session:
        record_event(session, "wms-sh", event("cancelled", "WMS-1", reason="lost"), now=T0)
    with Session(engine) as session:
        lane = stats.lane_figures_for(session, "DC-SHA", "SHA-A1")
    assert lane is not None and lane.learnt.deliveries == 0 and lane.learnt.cancelled == 1
    assert lane.effective == lane.configured


def test_pick_short_rates_are_shrunk_towards_the_network_rate(engine: Engine) -> None:
    seed(engine)
    # SHA-A1's orders: 10 lines, 4 short; SHA-B1's: 10 lines, none short → network rate 4/20.
    deliver(engine, "WMS-1", hours=24, shipped=[(5, 3), (5, 4), (5, 5), (5, 5), (5, 0)])
    deliver(engine, "WMS-2", hours=24, shipped=[(5, 2), (5, 5), (5, 5), (5, 5), (5, 5)])
    deliver(engine, "WMS-3", hours=12, dest="SHA-B1", shipped=[(2, 2)] * 10)
    with Session(engine) as session:
        lanes = stats.lane_figures(session)
        (node,) = stats.node_figures(session)
    m, p0 = stats.PICK_SHORT_M, 4 / 20
    a1 = lanes[("DC-SHA", "SHA-A1")]
    assert (a1.learnt.lines, a1.learnt.picked_short) == (10, 4)
    assert a1.pick_short_rate == pytest.approx((4 + m * p0) / (10 + m))
    assert lanes[("DC-SHA", "SHA-B1")].pick_short_rate == pytest.approx(m * p0 / (10 + m))
    assert (node.node, node.orders, node.lines, node.picked_short) == ("DC-SHA", 3, 20, 4)
    assert node.pick_short_rate == pytest.approx((4 + m * p0) / (20 + m))
    assert node.handling_hours == pytest.approx(2.0)


def test_an_unconfigured_lane_is_what_was_observed(engine: Engine) -> None:
    """A routed online order from a store to a delivery zone has no configured prior."""
    seed(engine)
    for n in range(2):
        deliver(engine, f"OMS-{n}", hours=20 + 10 * n, dest="zone-SH-Pudong", cost=30.0, units=3)
    with Session(engine) as session:
        lane = stats.lane_figures_for(session, "DC-SHA", "zone-SH-Pudong")
        planned = {(s, d) for s, d, *_ in stats.planning_lanes(session)}
    assert lane is not None and lane.configured is None and lane.effective is not None
    assert lane.effective.lead_time_hours == pytest.approx(25.0)
    assert lane.effective.cost_per_unit == pytest.approx(10.0) and not lane.differs
    assert ("DC-SHA", "zone-SH-Pudong") not in planned  # planning keeps to configured lanes


def test_the_same_event_sent_concurrently_is_recorded_once(engine: Engine) -> None:
    seed(engine)
    story = event("cost", "WMS-9", amount=70.0, units=5)
    answers: list[bool] = []
    errors: list[BaseException] = []

    def send() -> None:
        try:
            recorded = retrying(engine, lambda s: record_event(s, "wms-sh", story, now=T0))
            answers.append(recorded.duplicate)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and sorted(answers) == [False] + [True] * 7
    with Session(engine) as session:
        assert len(session.exec(select(FulfilmentEvent)).all()) == 1
