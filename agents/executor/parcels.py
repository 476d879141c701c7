"""Online orders with their parcels: placing an order writes one outbox row per shipping node.

``inventory.online_orders`` routes and holds stock and knows nothing of side effects; this
module is the one way the API and the routing replay place or cancel an online order, so the
OMS hears of a routed parcel if and only if the order committed.

Cancelling: a parcel no dispatcher has tried yet is withdrawn from the outbox and its holds
released at once. A parcel the OMS may hold (sent, or tried) gets a cancellation through the
outbox (``oms.cancel``, one idempotent row per parcel); its holds stay and the order is
``cancelling`` until the OMS answers: confirmed → the holds go back (``withdrawal_confirmed``);
refused because it already shipped, failed for good for another reason (the dispatcher marks
the row failed), or never delivered while the OMS stayed unreachable (the dispatcher
dead-letters the row after its retry bound) → the order goes on (``routed``), the failure is
recorded on the row and in the audit, and the ``shipped`` event confirms the holds as for any
parcel (an OMS that did cancel says so with its ``cancelled`` event, which releases them). A
person who gives up on the cancellation's outbox row (``outbox_ops.cancel_message``) ends the
wait the same way at once (``withdrawal_abandoned``): the order goes on, its holds stay, and
the audit says who gave up and why — it never sits ``cancelling`` until its holds lapse. With
several parcels, the order stays ``cancelling`` while any of their cancellations is still asked
(a pending row), and goes on once none is.

Ops may re-send a refused or dead-lettered cancellation (``outbox_ops.requeue_message``): the
order is ``cancelling`` again (``withdrawal_requeued``, audited), so the OMS's confirmation
cancels it and releases the holds once, as a first request would; a re-send is refused (409)
once the order moved on (cancelled, or that parcel shipped or was withdrawn).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlmodel import Session

from agents.executor import outbox
from agents.executor.audit import record_event
from connectors.models import Ack, OmsShipment, OmsShipmentCancel, WmsLine
from inventory import online_orders
from inventory.clock import as_utc
from inventory.models import OnlineOrder, OnlineOrderStatus, OutboxMessage, OutboxStatus
from inventory.online_orders import OrderSpec, RoutedPart, Router, Routing

#: The outbox row of a routed parcel (``agents.executor.dispatcher`` sends it to the OMS).
SHIPMENT_TARGET, SHIPMENT_ACTION = "oms", "ship"
#: The outbox row withdrawing a parcel the OMS may already hold.
CANCEL_ACTION = "cancel"


def shipment_key(order_id: str, node: str) -> str:
    """The parcel's outbox idempotency key: one row per routed shipment, whatever retries."""
    return f"online-shipment:{order_id}:{node}"


def cancel_key(order_id: str, node: str) -> str:
    """The parcel's cancellation key: asked once per parcel, however often the caller asks."""
    return f"online-shipment-cancel:{order_id}:{node}"


def place_order(
    session: Session,
    spec: OrderSpec,
    router: Router,
    *,
    actor: str,
    now: dt.datetime,
    ttl_s: int,
    routing_day: dt.date,
) -> tuple[OnlineOrder, bool]:
    """``online_orders.place`` with the parcels' outbox rows in the same transaction."""
    return online_orders.place(
        session,
        spec,
        router,
        actor=actor,
        now=now,
        ttl_s=ttl_s,
        routing_day=routing_day,
        after_write=_enqueue_shipments,
    )


def cancel_order(
    session: Session, order_id: str, *, channel: str | None, actor: str, now: dt.datetime
) -> OnlineOrder:
    """Cancel: withdraw the parcels not yet tried and release their holds; ask the OMS to
    withdraw the others (see the module's docstring). Asking again changes nothing."""
    row = online_orders.get(session, order_id, channel=channel)
    kept: dict[str, OutboxMessage] = {}
    if row.status == OnlineOrderStatus.ROUTED:
        messages = outbox.messages_for(session, order_id)
        _refuse_if_answered(order_id, messages)
        for message in messages:
            if (message.target, message.action) != (SHIPMENT_TARGET, SHIPMENT_ACTION):
                continue
            node = message.payload.get("node", "")
            untried = message.status == OutboxStatus.PENDING and outbox.withdraw_untried(
                session, message.id, now=now
            )
            if not untried and message.status in (OutboxStatus.PENDING, OutboxStatus.SENT):
                kept[node] = message  # the OMS holds it, or may (a send was tried)
    row = online_orders.cancel(
        session, order_id, channel=channel, actor=actor, now=now, keep_nodes=frozenset(kept)
    )
    if row.status == OnlineOrderStatus.CANCELLING:
        for node, message in sorted(kept.items()):
            outbox.enqueue(
                session,
                target=SHIPMENT_TARGET,
                action=CANCEL_ACTION,
                subject_id=order_id,
                payload=OmsShipmentCancel(
                    shipment_ref=message.payload["shipment_ref"],
                    order_id=order_id,
                    node=node,
                    reason=f"order cancelled by {actor}",
                ),
                idempotency_key=cancel_key(order_id, node),
                at=now,
            )
    session.flush()
    return row


def _refuse_if_answered(order_id: str, messages: Sequence[OutboxMessage]) -> None:
    """A parcel's cancellation is asked once (``cancel_key``): once the OMS refused it, or a
    person gave it up in the outbox, asking again is a conflict — never an order left
    ``cancelling`` on a request nobody will send."""
    for message in messages:
        if (message.target, message.action) != (SHIPMENT_TARGET, CANCEL_ACTION):
            continue
        if message.status in (*outbox.NEEDS_A_PERSON, OutboxStatus.CANCELLED):
            what = _ANSWERED[message.status]
            raise online_orders.OrderError(
                "conflict",
                f"the cancellation of order {order_id}'s parcel from "
                f"{message.payload.get('node')} was {what} ({message.last_error}); it is not "
                f"asked again (ops may re-send it: POST /v1/outbox/{message.id}/requeue)",
                field="status",
            )


def withdrawal_confirmed(
    session: Session, message: OutboxMessage, ack: Ack, at: dt.datetime, actor: str
) -> None:
    """The dispatcher's booking of a confirmed cancellation: the parcel's holds go back (once:
    only open holds are released). An order left with another parcel's holds whose withdrawal
    nobody asks any more (refused, given up) goes on rather than wait on them."""
    online_orders.withdrawal_confirmed(
        session, message.subject_id, message.payload["node"], actor=actor, now=at
    )
    _go_on_unless_asked(session, message.subject_id, at)


def withdrawal_refused(
    session: Session, message: OutboxMessage, error: str, at: dt.datetime, actor: str
) -> None:
    """The cancellation failed for good — the OMS refused (it shipped), the row cannot be sent
    (its payload no longer fits) or it was dead-lettered: the order goes on once no other
    parcel's withdrawal is still asked; say so where ops and the channel look."""
    _go_on_unless_asked(session, message.subject_id, at)
    record_event(
        session,
        kind="online_order.cancel_refused",
        actor=actor,
        at=at,
        subject_type="online_order",
        subject_id=message.subject_id,
        payload={"node": message.payload.get("node"), "error": error},
    )


def withdrawal_abandoned(
    session: Session, message: OutboxMessage, *, by: str, reason: str, at: dt.datetime
) -> None:
    """A person cancelled the cancellation's outbox row: the OMS will not be asked (again), so
    the order goes on as after a refusal, with the refusal recorded as theirs. An order no
    longer waiting (a refusal already booked) is left as it is."""
    order = session.get(OnlineOrder, message.subject_id, populate_existing=True)
    if order is None or order.status != OnlineOrderStatus.CANCELLING:
        return
    withdrawal_refused(session, message, f"cancellation given up by {by}: {reason}", at, by)


def withdrawal_requeued(
    session: Session, message: OutboxMessage, *, by: str, at: dt.datetime
) -> None:
    """A person re-sends a cancellation the OMS refused or never heard
    (``outbox_ops.requeue_message``): the order is ``cancelling`` again and is cancelled, its
    holds released once, when the OMS confirms — or goes on again if it fails again. Refused
    (``online_orders.OrderError``, a conflict) once the order moved on (cancelled, or that
    parcel shipped or was withdrawn). Audited on the order (``online_order.cancel_requeued``)."""
    node = message.payload.get("node", "")
    was = online_orders.withdrawal_asked_again(session, message.subject_id, node, now=at)
    if was is None:
        return
    record_event(
        session,
        kind="online_order.cancel_requeued",
        actor=by,
        at=at,
        subject_type="online_order",
        subject_id=message.subject_id,
        payload={
            "node": node,
            "outbox_id": message.id,
            "status_was": was,
            "status": OnlineOrderStatus.CANCELLING,
        },
    )


def _go_on_unless_asked(session: Session, order_id: str, at: dt.datetime) -> None:
    """A ``cancelling`` order waits while some parcel's withdrawal is still being asked (a
    pending ``oms.cancel`` row); with none left it goes on (``routed``), unless it was
    cancelled meanwhile."""
    if not outbox.any_pending(
        session, subject_id=order_id, target=SHIPMENT_TARGET, action=CANCEL_ACTION
    ):
        online_orders.withdrawal_refused(session, order_id, now=at)


def _enqueue_shipments(
    session: Session,
    spec: OrderSpec,
    row: OnlineOrder,
    parts: Sequence[RoutedPart],
    reference: str,
    routing: Routing,
    now: dt.datetime,
) -> None:
    kinds = {
        parcel["node"]: parcel.get("node_kind", "")
        for parcel in (routing.decision.get("chosen") or {}).get("parcels", [])
    }
    by_node: dict[str, list[RoutedPart]] = {}
    for part in parts:
        by_node.setdefault(part.node, []).append(part)
    for node, node_parts in sorted(by_node.items()):
        outbox.enqueue(
            session,
            target=SHIPMENT_TARGET,
            action=SHIPMENT_ACTION,
            subject_id=row.id,
            payload=OmsShipment(
                shipment_ref=f"{reference}/{node}",
                order_id=row.id,
                channel=spec.channel,
                channel_order_id=spec.channel_order_id,
                oms_ref=spec.oms_ref,
                node=node,
                node_kind=kinds.get(node) or "unknown",
                destination_city=routing.destination_city,
                lines=[WmsLine(sku=p.sku, qty=p.qty) for p in node_parts],
                promised_by=as_utc(spec.promised_by),
            ),
            idempotency_key=shipment_key(row.id, node),
            at=now,
        )


def parcel_states(session: Session, order_id: str) -> list[dict]:
    """Each parcel of the order as the OMS knows it (from its outbox rows), for the order view:
    ``node``, ``shipment_ref``, ``oms`` (pending/sent/failed/withdrawn), ``oms_ref``,
    ``cancellation`` (requested/confirmed/refused or None) and ``detail``."""
    parcels: dict[str, dict] = {}
    cancels: dict[str, OutboxMessage] = {}
    for message in outbox.messages_for(session, order_id):
        if message.target != SHIPMENT_TARGET:
            continue
        node = message.payload.get("node", "")
        if message.action == CANCEL_ACTION:
            cancels[node] = message
        elif message.action == SHIPMENT_ACTION:
            parcels[node] = {
                "node": node,
                "shipment_ref": message.payload.get("shipment_ref", ""),
                "oms": _SHIP_STATES.get(message.status, "pending"),
                "oms_ref": message.external_ref,
                "cancellation": None,
                "detail": (message.last_error if message.status in outbox.NEEDS_A_PERSON else None),
            }
    for node, message in cancels.items():
        if node not in parcels:
            continue
        parcels[node]["cancellation"] = _CANCEL_STATES.get(message.status, "requested")
        if message.status == OutboxStatus.FAILED:
            # The OMS's refusal (``oms: rejected with HTTP 409: …``) or a failure of ours.
            parcels[node]["detail"] = f"the cancellation failed: {message.last_error}"
        elif message.status == OutboxStatus.DEAD:
            parcels[node]["detail"] = f"the cancellation was not delivered: {message.last_error}"
        elif message.status == OutboxStatus.CANCELLED:
            parcels[node]["detail"] = f"the cancellation was not sent: {message.last_error}"
        elif message.status == OutboxStatus.PENDING and message.last_error:
            parcels[node]["detail"] = f"cancellation not delivered yet: {message.last_error}"
    return [parcels[node] for node in sorted(parcels)]


_SHIP_STATES = {
    OutboxStatus.PENDING: "pending",
    OutboxStatus.SENT: "sent",
    OutboxStatus.FAILED: "failed",
    OutboxStatus.DEAD: "failed",  # parcels are retried until delivered; never dead in practice
    OutboxStatus.CANCELLED: "withdrawn",
}
_CANCEL_STATES = {
    OutboxStatus.PENDING: "requested",
    OutboxStatus.SENT: "confirmed",
    OutboxStatus.FAILED: "refused",
    OutboxStatus.DEAD: "undelivered",
    OutboxStatus.CANCELLED: "abandoned",
}
_ANSWERED = {
    OutboxStatus.FAILED: "refused",
    OutboxStatus.DEAD: "not delivered",
    OutboxStatus.CANCELLED: "given up",
}
