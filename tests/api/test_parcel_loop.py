"""The online parcel's closed loop through the API, as an outsider drives it (SQLite and
PostgreSQL): a channel key posts orders, the outbox sends the parcels to the simulated OMS, the
OMS's signed webhooks (shipped, picked short, delivered, cost, cancelled; resent and out of
order) settle the held stock once, cancelling an accepted parcel asks the OMS (which refuses
once it shipped), and availability stops offering a store that reached its day limit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from agents.executor.dispatcher import Dispatcher, DispatchSettings
from api.auth import Role, create_api_key, seed_demo_keys
from connectors import ConnectorSet, RetryPolicy
from connectors.models import OmsShipmentCancel
from connectors.simulated.feedback import FeedbackEmitter, FeedbackSubscription
from connectors.simulated.state import FaultSpec, SimulatedState
from inventory.db import session_scope
from inventory.models import AuditEvent, Location, OutboxMessage, StockMovement, StockPosition
from tests.api.conftest import KEYS
from tests.utils.routing_pool import SKU, seed_routing_pool
from tests.utils.service import (
    drain,
    embedded_app_state,
    order_body,
    post_signed,
    routing_pool_with_keys,
    served_service,
    tiny_service,
)
from tools.route_order.settings import DEFAULT_ROUTING_FILE

SENDER, SECRET = "demo-oms", "a-long-test-secret-of-the-simulated-oms"
EVENTS_URL = "http://testserver/v1/fulfilment/events"


@dataclass
class Loop:
    client: TestClient
    engine: Engine
    keys: dict[str, str]
    oms: SimulatedState
    dispatcher: Dispatcher

    def order(self, order_id: str, qty: int = 1, key: str = "web", **body: object):
        return self.client.post(
            "/v1/orders",
            json=order_body(order_id, qty, oms_ref=order_id, **body),
            headers={"x-api-key": self.keys[key]},
        )

    def get(self, order_id: str) -> dict:
        answer = self.client.get(f"/v1/orders/{order_id}", headers={"x-api-key": self.keys["web"]})
        assert answer.status_code == 200, answer.text
        return answer.json()

    def cancel(self, order_id: str):
        return self.client.post(
            f"/v1/orders/{order_id}/cancel", headers={"x-api-key": self.keys["web"]}
        )

    def subscribe(self, seconds_per_hour: float) -> None:
        self.oms.subscribe(
            FeedbackSubscription(
                url=EVENTS_URL, sender=SENDER, secret=SECRET, seconds_per_hour=seconds_per_hour
            ),
            "oms",
        )

    def emit(self) -> int:
        """The simulated OMS's emitter, posting its due events to the service under test."""
        return FeedbackEmitter(self.oms).send_due(self.client)

    def bounded(self, dead_letter_after_attempts: int) -> Dispatcher:
        """A dispatcher without backoff that dead-letters a cancellation after that many sends."""
        settings = DispatchSettings(
            backoff_initial_s=0,
            backoff_max_s=0,
            dead_letter_after_attempts=dead_letter_after_attempts,
        )
        return Dispatcher(
            self.engine, self.dispatcher.connectors, clock=self.dispatcher.clock, settings=settings
        )

    def post_event(self, body: dict):
        return post_signed(self.client, SENDER, SECRET, body)

    def offered(self, key: str) -> dict[str, int]:
        """The locations ``/v1/availability`` offers the SKU from to the key's channel."""
        answer = self.client.get(
            "/v1/availability", params={"sku": SKU}, headers={"x-api-key": self.keys[key]}
        )
        assert answer.status_code == 200, answer.text
        return {item["location"]: item["atp"] for item in answer.json()["items"][0]["locations"]}

    def position(self, node: str) -> tuple[int, int]:
        with Session(self.engine) as session:
            row = session.exec(
                select(StockPosition).where(
                    StockPosition.location_code == node, StockPosition.sku_code == SKU
                )
            ).one()
            return row.on_hand, row.reserved


def routing_file(tmp_path: Path, **changes: object) -> Path:
    raw = yaml.safe_load(DEFAULT_ROUTING_FILE.read_text()) | changes
    path = tmp_path / "routing.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def make_loop(engine: Engine, tmp_path: Path, **routing: object) -> Iterator[Loop]:
    keys = routing_pool_with_keys(
        engine, {"web": ("web-shop", "online"), "pos": ("sha-a1-till", "store")}
    )
    app = tiny_service(
        engine,
        tmp_path,
        clock="world",
        fulfilment_secrets={SENDER: SECRET},
        routing_file=routing_file(tmp_path, **routing) if routing else None,
    )
    retry = RetryPolicy(attempts=2, initial_wait_s=0.01, max_wait_s=0.02, timeout_s=5)
    with TestClient(app) as client, ConnectorSet.simulated(retry=retry) as connectors:
        assert connectors.simulated_server is not None
        connectors.simulated_server.stop_feedback()  # the test posts the events (``emit``)
        clock = app.state.stockpilot.clock
        yield Loop(
            client,
            engine,
            keys,
            connectors.simulated_server.state,
            Dispatcher(engine, connectors, clock=clock),
        )


@pytest.fixture
def loop(engine: Engine, tmp_path: Path) -> Iterator[Loop]:
    yield from make_loop(engine, tmp_path)


def parcel_events(oms: SimulatedState, reference: str) -> list[dict]:
    return [e.body for e in oms.outgoing_events() if e.body["order_ref"] == reference]


# --- the simulated OMS reports every parcel it accepted ----------------------------------------


def test_the_oms_reports_each_parcel_and_the_stock_and_figures_follow(loop: Loop) -> None:
    """Ten orders; the OMS's noisy story of each parcel (short picks, resends, delivered before
    shipped) settles every hold: on-hand falls by exactly what left or was found missing, once,
    however often the webhooks are replayed; outcomes and node/lane figures are learnt."""
    loop.subscribe(seconds_per_hour=0)  # compressed to nothing: every event is due at once
    before = {node: loop.position(node) for node in ("SHA-A1", "DC-SHA")}
    orders = []
    for n in range(10):
        placed = loop.order(f"WEB-{n}", qty=1 + n % 2)
        assert placed.status_code == 201, placed.text
        orders.append(placed.json())
    assert len(loop.dispatcher.run_pending().sent) == 10
    sent = {
        p["shipment_ref"]: p for o in map(loop.get, (o["id"] for o in orders)) for p in o["parcels"]
    }
    assert {p["oms"] for p in sent.values()} == {"sent"}
    assert loop.emit() > 0
    assert [e.status for e in loop.oms.outgoing_events()].count("sent") == len(
        loop.oms.outgoing_events()
    )  # the service took every event (resends answered as duplicates)

    expected_drop: dict[str, int] = {}
    delivered = 0
    for order in orders:
        shown = loop.get(order["id"])
        (parcel,) = shown["parcels"]
        events = {e["type"]: e for e in parcel_events(loop.oms, parcel["oms_ref"])}
        node = parcel["node"]
        (line,) = shown["lines"]
        if "shipped" in events:  # what left is sold, what was missing written off: all of it
            expected_drop[node] = expected_drop.get(node, 0) + line["qty"]
            (item,) = events["shipped"]["lines"]
            short = item["qty_shipped"] < item["qty_ordered"]
            assert line["hold"] == ("released" if short else "confirmed"), (shown, events)
            nothing = item["qty_shipped"] == 0
            assert shown["status"] == ("cancelled" if nothing else "routed")
        else:  # cancelled by the OMS before picking
            assert shown["status"] == "cancelled" and line["hold"] == "released"
        delivered += "delivered" in events
    for node, (on_hand, _) in before.items():
        assert loop.position(node) == (on_hand - expected_drop.get(node, 0), 0), node

    viewer = {"x-api-key": loop.keys["demo-viewer"]}
    outcomes = loop.client.get(
        "/v1/fulfilment/outcomes", params={"system": "oms", "limit": 100}, headers=viewer
    ).json()
    assert outcomes["total"] == 10
    assert sum(o["delivered_at"] is not None for o in outcomes["items"]) == delivered > 0
    lanes = loop.client.get(
        "/v1/fulfilment/lanes", params={"observed_only": True}, headers=viewer
    ).json()
    learnt = {(lane["origin"], lane["destination"]): lane["learnt"] for lane in lanes}
    assert sum(item["deliveries"] for item in learnt.values()) == delivered
    assert all(dest == "zone-Shanghai" for _, dest in learnt)
    nodes = loop.client.get("/v1/fulfilment/nodes", headers=viewer).json()
    assert sum(n["orders"] for n in nodes) == 10

    # Crash safety: the OMS (or a proxy) replays every webhook after a restart: all duplicates,
    # and no unit moves again.
    movements = _movement_count(loop.engine)
    for event in loop.oms.outgoing_events():
        answer = loop.post_event(event.body)
        assert answer.status_code == 200 and answer.json()["duplicate"] is True
    assert _movement_count(loop.engine) == movements
    for node, (on_hand, _) in before.items():
        assert loop.position(node) == (on_hand - expected_drop.get(node, 0), 0)


def _movement_count(engine: Engine) -> int:
    with Session(engine) as session:
        return len(session.exec(select(StockMovement)).all())


def _event(kind: str, order: dict, node: str, **fields: object) -> dict:
    return {
        "event_id": f"OMS-{order['oms_ref']}-{node}:{kind}",
        "type": kind,
        "system": "oms",
        "order_kind": "online",
        "order_ref": f"OMS-{order['oms_ref']}-{node}",
        "client_ref": order["id"],
        "origin": node,
        "destination": "zone-Shanghai",
        "occurred_at": "2015-07-01T20:00:00+00:00",
    } | fields


def _shipped(order: dict, node: str, shipped: int, asked: int) -> dict:
    return _event(
        "shipped",
        order,
        node,
        occurred_at="2015-07-01T12:00:00+00:00",
        released_at="2015-07-01T09:30:00+00:00",
        lines=[{"line": "1", "sku": SKU, "qty_ordered": asked, "qty_shipped": shipped}],
    )


def test_delivered_before_shipped_and_replays_book_the_parcel_once(loop: Loop) -> None:
    order = loop.order("WEB-OOO", qty=2).json()
    node = order["lines"][0]["node"]
    on_hand, _ = loop.position(node)
    delivered = _event("delivered", order, node)
    assert loop.post_event(delivered).json()["duplicate"] is False
    assert loop.position(node) == (on_hand - 2, 0)  # delivery proves it left in full
    assert loop.post_event(_shipped(order, node, 2, 2)).json()["duplicate"] is False
    for body in (delivered, _shipped(order, node, 2, 2)):
        assert loop.post_event(body).json()["duplicate"] is True
    changed = loop.post_event(delivered | {"occurred_at": "2015-07-02T08:00:00+00:00"})
    assert changed.status_code == 409 and "differs in: occurred_at" in changed.text
    assert loop.position(node) == (on_hand - 2, 0)
    assert loop.get(order["id"])["lines"][0]["hold"] == "confirmed"


def test_picked_short_cancels_what_the_node_did_not_have(loop: Loop) -> None:
    """The documented rule: missing units are not re-routed; they are cancelled on the order
    (written off at the node, the hold released). An order of which nothing shipped is
    cancelled and its store-day slot returned; a partly shipped one goes on."""
    viewer = {"x-api-key": loop.keys["demo-viewer"]}
    nothing = loop.order("WEB-NONE", qty=1).json()
    node = nothing["lines"][0]["node"]
    assert node == "SHA-A1"  # the store ships it: its day slot is counted
    on_hand, _ = loop.position(node)
    assert loop.post_event(_shipped(nothing, node, 0, 1)).status_code == 200
    shown = loop.get(nothing["id"])
    assert shown["status"] == "cancelled" and shown["lines"][0]["hold"] == "released"
    assert loop.position(node) == (on_hand - 1, 0)  # the missing unit is written off

    part = loop.order("WEB-PART", qty=3).json()
    node = part["lines"][0]["node"]
    on_hand, _ = loop.position(node)
    assert loop.post_event(_shipped(part, node, 2, 3)).status_code == 200
    shown = loop.get(part["id"])
    assert shown["status"] == "routed" and shown["lines"][0]["hold"] == "released"
    assert loop.position(node) == (on_hand - 3, 0)  # 2 sold, 1 written off
    refused = loop.cancel(part["id"])  # its hold is released, yet two units left the store
    assert refused.status_code == 409 and "shipped parts" in refused.text
    (outcome,) = loop.client.get(
        "/v1/fulfilment/outcomes", params={"order_ref": f"OMS-WEB-PART-{node}"}, headers=viewer
    ).json()["items"]
    assert outcome["origin"] == node
    nodes = {n["node"]: n for n in loop.client.get("/v1/fulfilment/nodes", headers=viewer).json()}
    assert nodes[node]["picked_short"] >= 1


# --- cancelling a parcel the OMS accepted ------------------------------------------------------


def test_cancel_before_the_parcel_is_sent_withdraws_it(loop: Loop) -> None:
    order = loop.order("WEB-C0").json()
    answer = loop.cancel(order["id"])
    assert answer.status_code == 200 and answer.json()["status"] == "cancelled"
    assert answer.json()["parcels"][0]["oms"] == "withdrawn"
    assert loop.dispatcher.run_pending().sent == []
    assert loop.oms.received("oms") == []


def test_cancel_of_an_accepted_parcel_asks_the_oms_once_and_releases_on_its_word(
    loop: Loop,
) -> None:
    loop.subscribe(seconds_per_hour=3600)  # the store has not picked it yet
    order = loop.order("WEB-C1", qty=2).json()
    node = order["lines"][0]["node"]
    on_hand, _ = loop.position(node)
    loop.dispatcher.run_pending()
    asked = loop.cancel(order["id"])
    assert asked.status_code == 202, asked.text
    view = asked.json()
    assert view["status"] == "cancelling" and view["lines"][0]["hold"] == "open"
    assert view["parcels"][0]["cancellation"] == "requested"
    assert loop.position(node) == (on_hand, 2)  # held until the OMS answers
    again = loop.cancel(order["id"])
    assert again.status_code == 202 and again.json()["parcels"] == view["parcels"]

    report = loop.dispatcher.run_pending()
    assert report.sent == [f"online-shipment-cancel:{order['id']}:{node}"]
    shown = loop.get(order["id"])
    assert shown["status"] == "cancelled" and shown["lines"][0]["hold"] == "released"
    assert shown["parcels"][0]["cancellation"] == "confirmed"
    assert loop.position(node) == (on_hand, 0)
    assert len(loop.oms.received("oms")) == 2  # the parcel and its one cancellation
    assert loop.emit() == 1  # the OMS's own "cancelled" webhook: accepted, nothing moves
    assert loop.position(node) == (on_hand, 0)
    assert loop.cancel(order["id"]).status_code == 200


def test_cancel_after_the_parcel_shipped_is_refused_and_the_caller_is_told(loop: Loop) -> None:
    loop.subscribe(seconds_per_hour=0)  # picked and shipped at once
    order = loop.order("WEB-C2", qty=1).json()
    node = order["lines"][0]["node"]
    on_hand, _ = loop.position(node)
    loop.dispatcher.run_pending()
    assert loop.cancel(order["id"]).status_code == 202
    report = loop.dispatcher.run_pending()
    assert report.failed == [f"online-shipment-cancel:{order['id']}:{node}"]
    shown = loop.get(order["id"])
    assert shown["status"] == "routed"  # it goes on: the customer will get it
    (parcel,) = shown["parcels"]
    assert parcel["cancellation"] == "refused"
    assert "already shipped from" in parcel["detail"] and "409" in parcel["detail"]
    audit = loop.client.get(
        "/v1/audit", params={"subject_id": order["id"]}, headers={"x-api-key": KEYS["demo-admin"]}
    )
    assert "online_order.cancel_refused" in audit.text
    loop.emit()  # the story: shipped (maybe short), delivered, cost
    drop = on_hand - loop.position(node)[0]
    assert drop == 1 and loop.position(node)[1] == 0
    assert loop.dispatcher.run_pending().sent == []  # nothing resent


def test_a_cancellation_failing_for_good_otherwise_surfaces_as_a_refusal_does(loop: Loop) -> None:
    """Not a 4xx: the ``oms.cancel`` row cannot be sent at all (its payload no longer fits the
    OMS's model, as a row an older version wrote), so the dispatcher fails it for good. The
    order does not sit ``cancelling`` on a row nobody will send: it is ``routed`` again, the
    failure shown on the parcel and in the audit, as after the OMS's refusal."""
    loop.subscribe(seconds_per_hour=3600)
    order = loop.order("WEB-C4", qty=1).json()
    node = order["lines"][0]["node"]
    loop.dispatcher.run_pending()  # the OMS holds the parcel
    assert loop.cancel(order["id"]).status_code == 202
    key = f"online-shipment-cancel:{order['id']}:{node}"
    with session_scope(loop.engine) as session:
        row = session.exec(select(OutboxMessage).where(OutboxMessage.idempotency_key == key)).one()
        row.payload = {k: v for k, v in row.payload.items() if k != "shipment_ref"}
        session.add(row)
    assert loop.dispatcher.run_pending().failed == [key]
    shown = loop.get(order["id"])
    assert shown["status"] == "routed" and shown["lines"][0]["hold"] == "open"
    (parcel,) = shown["parcels"]
    assert parcel["cancellation"] == "refused"
    assert "payload does not fit" in parcel["detail"] and "shipment_ref" in parcel["detail"]
    audit = loop.client.get(
        "/v1/audit", params={"subject_id": order["id"]}, headers={"x-api-key": KEYS["demo-admin"]}
    )
    assert "online_order.cancel_refused" in audit.text and "payload does not fit" in audit.text
    assert loop.oms.received("oms") and len(loop.oms.received("oms")) == 1  # the parcel only
    assert loop.cancel(order["id"]).status_code == 409  # not asked again behind ops' back


def test_giving_up_on_the_cancellation_in_the_outbox_lets_the_order_go_on_at_once(
    loop: Loop,
) -> None:
    """A person cancels the ``oms.cancel`` row (say the OMS is down): the order does not sit
    ``cancelling`` until its holds lapse; it is ``routed`` again at once, the holds stay for the
    parcel the OMS still holds, and the order and the audit say who gave up and why."""
    loop.subscribe(seconds_per_hour=3600)
    order = loop.order("WEB-C3", qty=1).json()
    node = order["lines"][0]["node"]
    loop.dispatcher.run_pending()  # the OMS holds the parcel
    assert loop.cancel(order["id"]).status_code == 202
    ops = {"x-api-key": KEYS["demo-ops"]}
    rows = loop.client.get("/v1/outbox", params={"status": "pending"}, headers=ops).json()
    (row,) = [r for r in rows["items"] if r["subject_id"] == order["id"]]
    assert row["idempotency_key"] == f"online-shipment-cancel:{order['id']}:{node}"
    given_up = loop.client.post(
        f"/v1/outbox/{row['id']}/cancel", json={"reason": "OMS down for the day"}, headers=ops
    )
    assert given_up.status_code == 200, given_up.text
    shown = loop.get(order["id"])
    assert shown["status"] == "routed" and shown["lines"][0]["hold"] == "open"
    (parcel,) = shown["parcels"]
    assert parcel["cancellation"] == "abandoned" and "OMS down for the day" in parcel["detail"]
    audit = loop.client.get(
        "/v1/audit", params={"subject_id": order["id"]}, headers={"x-api-key": KEYS["demo-admin"]}
    )
    assert "online_order.cancel_refused" in audit.text and "given up by" in audit.text
    assert loop.dispatcher.run_pending().sent == []  # nothing more is asked of the OMS
    again = loop.cancel(order["id"])  # not asked again behind the person's back
    assert again.status_code == 409 and "given up" in again.text
    assert loop.get(order["id"])["status"] == "routed"


#: Every caller of the outbox's verbs: (who, expected status) for list / requeue / cancel.
OUTBOX_CALLERS = {
    "no key": 401,
    "web": 403,  # a channel key
    "demo-viewer": 403,
    "demo-approver": 403,
    "demo-ops": 200,
    "demo-admin": 200,
}


def test_a_cancellation_the_oms_never_hears_is_dead_lettered_and_ops_resend_it(
    loop: Loop,
) -> None:
    """The OMS answers 503 to every cancellation: the ``oms.cancel`` row is retried up to its
    bound, then dead-lettered — not retried forever. The order does not sit ``cancelling``: it
    goes on (holds kept for the parcel the OMS holds), the parcel says ``undelivered``, the
    audit has ``outbox.dead_lettered``, ops are notified and see it in ``?status=dead``. Only
    ops (and admin) may re-send it; a re-send that fails again is dead again at once (one more
    send, not a new budget), and once the OMS is back it is confirmed and the holds go back."""
    loop.subscribe(seconds_per_hour=3600)  # the store has not picked it yet
    order = loop.order("WEB-D1", qty=2).json()
    node = order["lines"][0]["node"]
    on_hand, _ = loop.position(node)
    loop.dispatcher.run_pending()  # the OMS holds the parcel
    bounded = loop.bounded(dead_letter_after_attempts=3)
    # 3 sends x 2 calls each (the client's own retry), then one more failing re-send.
    loop.oms.set_fault(FaultSpec(system="oms", mode="error", status=503, times=8))
    assert loop.cancel(order["id"]).status_code == 202
    key = f"online-shipment-cancel:{order['id']}:{node}"
    assert bounded.run_pending().retried == [key]
    assert bounded.run_pending().retried == [key]
    assert loop.get(order["id"])["status"] == "cancelling"
    report = bounded.run_pending()
    assert report.dead_lettered == [key] and report.retried == []

    shown = loop.get(order["id"])
    assert shown["status"] == "routed" and shown["lines"][0]["hold"] == "open"
    (parcel,) = shown["parcels"]
    assert parcel["cancellation"] == "undelivered"
    assert "not delivered after 3 attempts" in parcel["detail"] and "503" in parcel["detail"]
    assert loop.position(node) == (on_hand, 2)  # held: the OMS may still ship it
    again = loop.cancel(order["id"])
    assert again.status_code == 409 and "not delivered" in again.text and "requeue" in again.text
    with Session(loop.engine) as session:
        (event,) = session.exec(
            select(AuditEvent).where(AuditEvent.kind == "outbox.dead_lettered")
        ).all()
        assert event.payload["idempotency_key"] == key and event.payload["attempts"] == 3
        row = session.exec(select(OutboxMessage).where(OutboxMessage.idempotency_key == key)).one()
    # ops are told through the notification system, once
    assert bounded.run_pending().sent == [f"notify:outbox-dead:{row.id}:3"]
    (note,) = loop.oms.received("notify")
    assert (
        note.payload["recipient"] == "ops"
        and f"/v1/outbox/{row.id}/requeue" in note.payload["body"]
    )

    def call(verb: str, who: str):
        headers = {} if who == "no key" else {"x-api-key": loop.keys[who]}
        if verb == "list":
            return loop.client.get("/v1/outbox", params={"status": "dead"}, headers=headers)
        body = {"reason": "checking"} if verb == "cancel" else None
        return loop.client.post(f"/v1/outbox/{row.id}/{verb}", json=body, headers=headers)

    for who, expected in OUTBOX_CALLERS.items():
        listed = call("list", who)
        assert listed.status_code == expected, (who, listed.text)
        if expected == 200:
            (entry,) = listed.json()["items"]
            assert (entry["id"], entry["status"], entry["alerting"]) == (row.id, "dead", True)
    for verb in ("cancel", "requeue"):  # the refused callers first: nothing changes for them
        for who, expected in OUTBOX_CALLERS.items():
            if expected != 200:
                assert call(verb, who).status_code == expected, (verb, who)
    assert loop.get(order["id"])["parcels"][0]["cancellation"] == "undelivered"
    for who in ("demo-admin", "demo-ops"):  # both may re-send (a pending row may be re-sent)
        resent = call("requeue", who)
        assert resent.status_code == 200 and resent.json()["status"] == "pending", resent.text
    assert bounded.run_pending().dead_lettered == [key]  # the OMS still fails: dead at once
    assert bounded.run_pending().sent == [f"notify:outbox-dead:{row.id}:4"]

    assert call("requeue", "demo-ops").status_code == 200  # the OMS is back (faults used up)
    assert bounded.run_pending().sent == [key]
    shown = loop.get(order["id"])
    assert shown["status"] == "cancelled" and shown["lines"][0]["hold"] == "released"
    assert shown["parcels"][0]["cancellation"] == "confirmed"
    assert loop.position(node) == (on_hand, 0)
    for who, expected in OUTBOX_CALLERS.items():  # a delivered row can be neither re-sent nor
        if expected == 200:  # cancelled: ops are told so; the others are refused as before
            expected = 409
        assert call("cancel", who).status_code == expected, who
    with Session(loop.engine) as session:
        kinds = session.exec(
            select(AuditEvent.kind).where(AuditEvent.kind.like("outbox.%"))  # type: ignore[attr-defined]
        ).all()
    assert kinds.count("outbox.dead_lettered") == 2 and kinds.count("outbox.requeued") == 3


# --- ops re-send a cancellation: the order waits on it again, or the re-send is refused ---------


def _dead_cancellation(loop: Loop, order_id: str, qty: int = 2) -> tuple[dict, Dispatcher]:
    """An order whose parcels the OMS holds, cancelled while the OMS answers 503 to every
    cancellation: each parcel's ``oms.cancel`` row is dead-lettered at its first send and the
    order goes on (``routed``). Returns the order, the bounded dispatcher, the faults used."""
    loop.subscribe(seconds_per_hour=3600)  # the store has not picked it yet
    order = loop.order(order_id, qty=qty).json()
    assert loop.dispatcher.run_pending().sent  # the OMS holds the parcels
    bounded = loop.bounded(dead_letter_after_attempts=1)
    parcels = len(order["parcels"])
    # one send a parcel, two calls each (the client's own retry)
    loop.oms.set_fault(FaultSpec(system="oms", mode="error", status=503, times=2 * parcels))
    assert loop.cancel(order["id"]).status_code == 202
    assert len(bounded.run_pending().dead_lettered) == parcels
    assert loop.get(order["id"])["status"] == "routed"
    notices = bounded.run_pending().sent  # ops are told of each dead letter, once
    assert len(notices) == parcels and all("outbox-dead" in key for key in notices)
    return order, bounded


def _cancel_row(loop: Loop, order_id: str, node: str) -> int:
    with Session(loop.engine) as session:
        key = f"online-shipment-cancel:{order_id}:{node}"
        row = session.exec(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))
        return row.one().id  # type: ignore[return-value]


def _audit_kinds(engine: Engine, subject_id: str) -> list[str]:
    with Session(engine) as session:
        return list(
            session.exec(select(AuditEvent.kind).where(AuditEvent.subject_id == subject_id)).all()
        )


def _releases(engine: Engine) -> int:
    """Movements that gave held units back (one per hold, keyed ``reservation:<id>:release``)."""
    with Session(engine) as session:
        keys = session.exec(select(StockMovement.idempotency_key)).all()
    return sum(1 for key in keys if key and key.endswith(":release"))


def test_a_requeued_cancellation_puts_the_order_back_to_cancelling_and_releases_once(
    loop: Loop,
) -> None:
    """Ops re-send a dead-lettered parcel cancellation: the order is ``cancelling`` again (not
    left ``routed`` while the OMS is asked), audited on the order; when the OMS confirms, it is
    cancelled and its holds released once — however often the row is re-sent, the send is
    repeated after a dispatcher died before booking it, or the OMS's webhooks are replayed."""
    order, bounded = _dead_cancellation(loop, "WEB-RQ1")
    node = order["lines"][0]["node"]
    on_hand, _ = loop.position(node)
    row = _cancel_row(loop, order["id"], node)
    requeue = f"/v1/outbox/{row}/requeue"
    for who, expected in OUTBOX_CALLERS.items():  # the refused callers change nothing
        if expected != 200:
            headers = {} if who == "no key" else {"x-api-key": loop.keys[who]}
            assert loop.client.post(requeue, headers=headers).status_code == expected, who
    assert loop.get(order["id"])["status"] == "routed"
    assert "online_order.cancel_requeued" not in _audit_kinds(loop.engine, order["id"])

    for who in ("demo-ops", "demo-admin"):  # twice: the second changes nothing more
        resent = loop.client.post(requeue, headers={"x-api-key": loop.keys[who]})
        assert resent.status_code == 200 and resent.json()["status"] == "pending", resent.text
        shown = loop.get(order["id"])
        assert shown["status"] == "cancelling" and shown["lines"][0]["hold"] == "open"
        assert shown["parcels"][0]["cancellation"] == "requested"
    assert loop.position(node) == (on_hand, 2)  # nothing released before the OMS confirms
    with Session(loop.engine) as session:
        events = session.exec(
            select(AuditEvent).where(AuditEvent.kind == "online_order.cancel_requeued")
        ).all()
    assert [(e.actor, e.payload["status_was"]) for e in events] == [
        ("demo-ops", "routed"),
        ("demo-admin", "cancelling"),
    ]
    assert {e.payload["outbox_id"] for e in events} == {row} and events[0].subject_id == order["id"]

    # A dispatcher sends it and dies before booking: the OMS cancelled the parcel, the row is
    # still pending. The next send under the same key is answered as a duplicate, booked once.
    releases = _releases(loop.engine)
    with Session(loop.engine) as session:
        message = session.get(OutboxMessage, row)
        assert message is not None
        first = loop.dispatcher.connectors.oms.cancel_shipment(
            OmsShipmentCancel.model_validate(message.payload),
            idempotency_key=message.idempotency_key,
        )
    report = bounded.run_pending()
    assert report.sent == [f"online-shipment-cancel:{order['id']}:{node}"], report
    shown = loop.get(order["id"])
    assert shown["status"] == "cancelled" and shown["lines"][0]["hold"] == "released"
    assert shown["parcels"][0]["cancellation"] == "confirmed"
    assert shown["parcels"][0]["oms"] == "sent"
    with Session(loop.engine) as session:
        (sent,) = [
            event
            for event in session.exec(select(AuditEvent).where(AuditEvent.kind == "outbox.sent"))
            if event.payload["idempotency_key"] == f"online-shipment-cancel:{order['id']}:{node}"
        ]
    assert sent.payload["duplicate"] is True and sent.payload["reference"] == first.reference
    assert loop.position(node) == (on_hand, 0) and _releases(loop.engine) == releases + 1

    assert bounded.run_pending().sent == []  # delivered: nothing is sent again
    assert loop.emit() >= 1  # the OMS's own "cancelled" webhook (and any resend): nothing moves
    replayed = [e for e in loop.oms.outgoing_events() if e.status == "sent"]
    assert [e.body["type"] for e in replayed] == ["cancelled"]
    for event in replayed:
        assert loop.post_event(event.body).json()["duplicate"] is True
    assert loop.position(node) == (on_hand, 0) and _releases(loop.engine) == releases + 1
    again = loop.client.post(requeue, headers={"x-api-key": loop.keys["demo-ops"]})
    assert again.status_code == 409 and "is sent" in again.json()["error"]["message"]
    assert loop.get(order["id"])["status"] == "cancelled"


def test_a_requeued_cancellation_that_fails_again_lets_the_order_go_on_again(loop: Loop) -> None:
    """The OMS is still down: the re-sent row is dead again at once and the order is ``routed``
    again with its holds, the refusal recorded once more."""
    order, bounded = _dead_cancellation(loop, "WEB-RQ2")
    node = order["lines"][0]["node"]
    on_hand, _ = loop.position(node)
    row = _cancel_row(loop, order["id"], node)
    loop.oms.set_fault(FaultSpec(system="oms", mode="error", status=503, times=2))
    ops = {"x-api-key": loop.keys["demo-ops"]}
    assert loop.client.post(f"/v1/outbox/{row}/requeue", headers=ops).status_code == 200
    assert loop.get(order["id"])["status"] == "cancelling"
    assert bounded.run_pending().dead_lettered == [f"online-shipment-cancel:{order['id']}:{node}"]
    shown = loop.get(order["id"])
    assert shown["status"] == "routed" and shown["lines"][0]["hold"] == "open"
    assert shown["parcels"][0]["cancellation"] == "undelivered"
    assert loop.position(node) == (on_hand, 2)
    assert _audit_kinds(loop.engine, order["id"]).count("online_order.cancel_refused") == 2


@pytest.mark.parametrize("moved_on", ["shipped", "cancelled by the OMS"])
def test_a_cancellation_is_not_requeued_once_the_order_moved_on(loop: Loop, moved_on: str) -> None:
    """After the dead letter the OMS shipped the parcel (or cancelled it on its own): re-sending
    the cancellation would ask the OMS for what it cannot or did already do. Ops get a 409 that
    says why and how to clear the row; the row, the order and its holds are left as they were,
    and cancelling the row (to clear the alert) leaves the order alone."""
    order, bounded = _dead_cancellation(loop, f"WEB-MO-{moved_on[:4]}", qty=1)
    node = order["lines"][0]["node"]
    if moved_on == "shipped":
        assert loop.post_event(_shipped(order, node, 1, 1)).status_code == 200
        status, hold, why = "routed", "confirmed", "has shipped"
    else:
        assert loop.post_event(_event("cancelled", order, node)).status_code == 200
        status, hold, why = "cancelled", "released", "is cancelled already"
    position = loop.position(node)
    row = _cancel_row(loop, order["id"], node)
    ops = {"x-api-key": loop.keys["demo-ops"]}
    refused = loop.client.post(f"/v1/outbox/{row}/requeue", headers=ops)
    assert refused.status_code == 409, refused.text
    message = refused.json()["error"]["message"]
    assert why in message and f"/v1/outbox/{row}/cancel" in message
    listed = loop.client.get("/v1/outbox", params={"status": "dead"}, headers=ops).json()
    assert [r["id"] for r in listed["items"]] == [row]  # still dead, not re-sent
    shown = loop.get(order["id"])
    assert (shown["status"], shown["lines"][0]["hold"]) == (status, hold)
    kinds = _audit_kinds(loop.engine, order["id"])
    assert "online_order.cancel_requeued" not in kinds and "outbox.requeued" not in kinds
    assert bounded.run_pending().sent == []  # neither the row nor its notice goes out again
    cleared = loop.client.post(f"/v1/outbox/{row}/cancel", json={"reason": "moved on"}, headers=ops)
    assert cleared.status_code == 200 and cleared.json()["alerting"] is False
    assert loop.get(order["id"])["status"] == status and loop.position(node) == position


def test_a_split_order_stays_cancelling_while_a_parcels_cancellation_is_asked(loop: Loop) -> None:
    """Two parcels, both cancellations dead-lettered; ops re-send both. One fails again (the
    OMS still cannot take it): the order stays ``cancelling`` while the other is asked, then
    goes on with the parcel the OMS keeps once the other is confirmed — never left
    ``cancelling`` on holds whose withdrawal nobody asks."""
    order, bounded = _dead_cancellation(loop, "WEB-SPLIT", qty=25)
    nodes = sorted(p["node"] for p in order["parcels"])
    assert len(nodes) == 2, order["parcels"]
    rows = {node: _cancel_row(loop, order["id"], node) for node in nodes}
    ops = {"x-api-key": loop.keys["demo-ops"]}
    for row in rows.values():
        assert loop.client.post(f"/v1/outbox/{row}/requeue", headers=ops).status_code == 200
    assert loop.get(order["id"])["status"] == "cancelling"
    kept, withdrawn = nodes
    with session_scope(loop.engine) as session:  # the first fails for good: its payload is spoilt
        message = session.get(OutboxMessage, rows[kept])
        message.payload = {k: v for k, v in message.payload.items() if k != "shipment_ref"}
        session.add(message)
    report = bounded.run_pending(subject_ids=[order["id"]], limit=1)
    assert report.failed == [f"online-shipment-cancel:{order['id']}:{kept}"], report
    assert loop.get(order["id"])["status"] == "cancelling"  # the other is still asked
    report = bounded.run_pending(subject_ids=[order["id"]])
    assert report.sent == [f"online-shipment-cancel:{order['id']}:{withdrawn}"], report
    shown = loop.get(order["id"])
    holds = {line["node"]: line["hold"] for line in shown["lines"]}
    assert shown["status"] == "routed"
    assert holds == {kept: "open", withdrawn: "released"}


# --- availability reads the store day counters -------------------------------------------------


@pytest.fixture
def capped_loop(engine: Engine, tmp_path: Path) -> Iterator[Loop]:
    stores = {
        "daily_capacity_orders": 1,
        "capacity_overrides": {},
        "max_share_per_day": 1.0,
        "share_floor_orders": 1,
        "in_store_channels": ["store", "pos"],
    }
    yield from make_loop(engine, tmp_path, stores=stores)


def test_a_store_at_its_day_capacity_offers_no_online_atp_but_its_till_still_sells(
    capped_loop: Loop,
) -> None:
    loop = capped_loop
    offered = loop.offered
    assert "SHA-A1" in offered("web") and "SHA-A1" in offered("pos")
    first = loop.order("WEB-CAP-1").json()
    assert first["lines"][0]["node"] == "SHA-A1"  # its one order of the day
    assert "SHA-A1" not in offered("web")  # nothing more ships from it today
    assert "SHA-A1" in offered("pos")  # the store's own till is not limited
    second = loop.order("WEB-CAP-2").json()
    assert second["lines"][0]["node"] != "SHA-A1"  # routing agrees with availability
    loop.cancel(first["id"])  # its slot comes back
    assert "SHA-A1" in offered("web")


@pytest.mark.parametrize("switched_off", ["policy", "store"])
def test_a_store_that_may_not_ship_is_not_offered_online_and_not_routed(
    engine: Engine, tmp_path: Path, switched_off: str
) -> None:
    """The routing policy's ``ship_from_store: false`` (every store), or a store not flagged
    ``ship_from_store`` though entitled online: its stock is offered to the till only, and an
    online order goes elsewhere — availability and routing agree."""
    routing = {"ship_from_store": False} if switched_off == "policy" else {}
    off = {"SHA-A1", "SHA-A2"} if switched_off == "policy" else {"SHA-A1"}
    with contextmanager(make_loop)(engine, tmp_path, **routing) as loop:
        if switched_off == "store":
            with session_scope(engine) as session:
                session.get(Location, "SHA-A1").ship_from_store = False  # type: ignore[union-attr]
        web, pos = loop.offered("web"), loop.offered("pos")
        assert not off & set(web) and "DC-SHA" in web
        assert off <= set(pos)  # the store's own till still sells its shelf
        assert (switched_off == "store") == ("SHA-A2" in web)
        placed = loop.order("WEB-NOSFS")
        assert placed.status_code == 201, placed.text
        assert placed.json()["lines"][0]["node"] in set(web)


def test_a_store_that_may_not_ship_holds_nothing_online_but_its_till_still_holds(
    engine: Engine, tmp_path: Path
) -> None:
    """Reservations agree with availability: a store not flagged ``ship_from_store``, though it
    has the most ATP, is never picked for an online hold (single or batch), asked for by name
    it is refused with the reason, and the in-store channel still holds there."""
    why = "SHA-A1 does not ship online orders: store does not ship online"
    with contextmanager(make_loop)(engine, tmp_path) as loop:
        with session_scope(engine) as session:
            session.get(Location, "SHA-A1").ship_from_store = False  # type: ignore[union-attr]
            session.exec(
                select(StockPosition).where(
                    StockPosition.location_code == "SHA-A1", StockPosition.sku_code == SKU
                )
            ).one().on_hand = 50  # the most ATP of any node
        web, pos = ({"x-api-key": loop.keys[name]} for name in ("web", "pos"))
        offered = set(loop.offered("web"))
        assert "SHA-A1" not in offered

        def hold(headers: dict[str, str], key: str, **line: object):
            body = {"sku": SKU, "qty": 1, "idempotency_key": key} | line
            return loop.client.post("/v1/reservations", json=body, headers=headers)

        single = hold(web, "hold-auto")
        assert single.status_code == 201, single.text
        assert single.json()["location"] in offered
        named = hold(web, "hold-named", location="SHA-A1")
        assert named.status_code == 409, named.text
        assert named.json()["error"]["message"] == why
        assert named.json()["error"]["field"] == "location"
        batch = loop.client.post(
            "/v1/reservations/batch",
            json={
                "lines": [
                    {"sku": SKU, "qty": 1, "idempotency_key": "batch-auto"},
                    {"sku": SKU, "qty": 1, "idempotency_key": "batch-named", "location": "SHA-A1"},
                ]
            },
            headers=web,
        )
        assert batch.status_code == 200, batch.text
        auto, refused = batch.json()["lines"]
        assert auto["outcome"] == "reserved" and auto["reservation"]["location"] in offered
        assert refused["outcome"] == "refused" and refused["status"] == 409
        assert refused["error"]["message"] == why and refused["error"]["field"] == "location"
        assert loop.position("SHA-A1") == (50, 0)  # no online hold landed there
        till = hold(pos, "till-auto")
        assert till.status_code == 201, till.text
        assert till.json()["location"] == "SHA-A1"  # the most ATP, for the store's own channel
        till_named = hold(pos, "till-named", location="SHA-A1")
        assert till_named.status_code == 201, till_named.text
        assert loop.position("SHA-A1") == (50, 2)


def test_a_two_line_parcel_keyed_by_sku_settles_each_line(loop: Loop) -> None:
    """The OMS keys a parcel's lines by SKU: the short one is released, the other confirmed."""
    other = SKU.replace("-38", "-39")
    order = loop.order("WEB-TWO", lines=[{"sku": SKU, "qty": 1}, {"sku": other, "qty": 2}]).json()
    nodes = {line["node"] for line in order["lines"]}
    assert len(nodes) == 1, order["lines"]  # one parcel
    (node,) = nodes
    body = _event(
        "shipped",
        order,
        node,
        released_at="2015-07-01T09:30:00+00:00",
        occurred_at="2015-07-01T12:00:00+00:00",
        lines=[
            {"line": SKU, "sku": SKU, "qty_ordered": 1, "qty_shipped": 1},
            {"line": other, "sku": other, "qty_ordered": 2, "qty_shipped": 1},
        ],
    )
    assert loop.post_event(body).status_code == 200
    holds = {line["sku"]: line["hold"] for line in loop.get(order["id"])["lines"]}
    assert holds == {SKU: "confirmed", other: "released"}


# --- the same loop over real HTTP: the OMS's own emitter posts to a running service -----------


@pytest.fixture
def service_url(engine: Engine, tmp_path: Path) -> Iterator[str]:
    seed_demo_keys(engine)
    seed_routing_pool(engine)
    with served_service(
        engine, tmp_path, clock="world", fulfilment_secrets={SENDER: SECRET}
    ) as url:
        yield url


def test_the_oms_emitter_closes_the_loop_over_real_http(engine: Engine, service_url: str) -> None:
    with session_scope(engine) as session:
        web = create_api_key(session, "web-shop", [Role.CHANNEL], channel="online")
    with ConnectorSet.simulated() as systems, httpx.Client(base_url=service_url) as http:
        state = systems.simulated_server.state  # type: ignore[union-attr]
        url = f"{service_url}/v1/fulfilment/events"
        state.subscribe(
            FeedbackSubscription(url=url, sender=SENDER, secret=SECRET, seconds_per_hour=0.001),
            "oms",
        )
        for n in range(6):
            placed = http.post(
                "/v1/orders", json=order_body(f"HTTP-{n}"), headers={"x-api-key": web}
            )
            assert placed.status_code == 201, placed.text
        assert len(Dispatcher(engine, systems).run_pending().sent) == 6
        assert {item.status for item in drain(state)} == {"sent"}
        orders = http.get("/v1/orders", headers={"x-api-key": web}).json()["items"]
    holds = [line["hold"] for order in orders for line in order["lines"]]
    assert len(holds) == 6 and "open" not in holds  # every parcel's story settled its hold


def test_the_service_subscribes_to_the_embedded_oms_with_routings_parcel_plans(
    engine: Engine,
) -> None:
    from api.fulfilment_feedback import subscribe_simulated_oms

    seed_routing_pool(engine)
    with ConnectorSet.simulated() as systems:

        def app_state(**settings: object) -> SimpleNamespace:
            return embedded_app_state(engine, systems, **settings)

        state = systems.simulated_server.state  # type: ignore[union-attr]
        assert not subscribe_simulated_oms(app_state())  # no secret for demo-oms
        assert not subscribe_simulated_oms(
            app_state(fulfilment_secrets={SENDER: SECRET}, oms_url="http://oms.example")
        )
        assert subscribe_simulated_oms(app_state(fulfilment_secrets={SENDER: SECRET}))
        subscribed = state.subscription("oms")
    assert subscribed is not None and subscribed.sender == SENDER
    plans = {(lane.source, lane.dest): lane for lane in subscribed.lanes}
    assert ("SHA-A1", "zone-Shanghai") in plans and ("DC-BEI", "zone-Beijing") in plans
    near, far = plans[("SHA-A1", "zone-Shanghai")], plans[("DC-BEI", "zone-Shanghai")]
    assert near.lead_time_hours < far.lead_time_hours
