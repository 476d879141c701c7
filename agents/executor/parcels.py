"""Online orders with their parcels: placing an order writes one outbox row per shipping node.

``inventory.online_orders`` routes and holds stock and knows nothing of side effects; this
module is the one way the API and the routing replay place or cancel an online order, so the
OMS hears of a routed parcel if and only if the order committed, and a cancelled order's parcels
that no dispatcher has tried yet are withdrawn.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlmodel import Session

from agents.executor import outbox
from connectors.models import OmsShipment, WmsLine
from inventory import online_orders
from inventory.clock import as_utc
from inventory.models import OnlineOrder
from inventory.online_orders import OrderSpec, RoutedPart, Router, Routing

#: The outbox row of a routed parcel (``agents.executor.dispatcher`` sends it to the OMS).
SHIPMENT_TARGET, SHIPMENT_ACTION = "oms", "ship"


def shipment_key(order_id: str, node: str) -> str:
    """The parcel's outbox idempotency key: one row per routed shipment, whatever retries."""
    return f"online-shipment:{order_id}:{node}"


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
    """Release the order's holds and withdraw its parcels not yet tried (one the OMS already
    holds needs its own cancellation there)."""
    row = online_orders.cancel(session, order_id, channel=channel, actor=actor, now=now)
    outbox.cancel_unsent(
        session, subject_id=order_id, target=SHIPMENT_TARGET, action=SHIPMENT_ACTION, now=now
    )
    session.flush()
    return row


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
