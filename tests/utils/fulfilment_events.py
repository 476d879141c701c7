"""Fulfilment events as a WMS (or, for delivery zones, an OMS) would send them, for tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pydantic import TypeAdapter
from sqlalchemy.engine import Engine
from sqlmodel import Session

from inventory.db import retrying
from inventory.fulfilment import FulfilmentEventIn, record_event
from inventory.models import Lane

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
EVENT = TypeAdapter(FulfilmentEventIn)


def event_body(
    kind: str, ref: str, dest: str = "SHA-A1", origin: str = "DC-SHA", **fields: object
) -> dict:
    online = dest.startswith("zone-")  # a delivery zone: a routed online order
    return {
        "event_id": f"{ref}:{kind}",
        "type": kind,
        "system": "oms" if online else "wms",
        "order_kind": "online" if online else "transfer",
        "order_ref": ref,
        "origin": origin,
        "destination": dest,
        "occurred_at": T0.isoformat(),
    } | fields


def event(kind: str, ref: str, dest: str = "SHA-A1", **fields: object):
    return EVENT.validate_python(event_body(kind, ref, dest, **fields))


def story(
    ref: str,
    *,
    hours: float,
    dest: str = "SHA-A1",
    origin: str = "DC-SHA",
    shipped: Sequence[tuple[int, int]] = ((5, 5),),
    cost: float | None = None,
    units: int = 5,
) -> list[dict]:
    """One order's events: shipped (lines ordered/shipped) 2 h after release, delivered
    ``hours`` after release, and its cost when given."""
    lines = [
        {"line": str(n), "sku": f"SKU-{n}", "qty_ordered": asked, "qty_shipped": got}
        for n, (asked, got) in enumerate(shipped, start=1)
    ]
    at = {"origin": origin}
    bodies = [
        event_body(
            "shipped",
            ref,
            dest,
            released_at=T0.isoformat(),
            occurred_at=(T0 + dt.timedelta(hours=2)).isoformat(),
            lines=lines,
            **at,
        ),
        event_body(
            "delivered", ref, dest, occurred_at=(T0 + dt.timedelta(hours=hours)).isoformat(), **at
        ),
    ]
    if cost is not None:
        bodies.append(event_body("cost", ref, dest, amount=cost, units=units, **at))
    return bodies


def deliver(engine: Engine, ref: str, **kwargs) -> None:  # type: ignore[no-untyped-def]
    """Record ``story(ref, **kwargs)`` in the pool, as the webhook would."""
    for body in story(ref, **kwargs):
        parsed = EVENT.validate_python(body)
        retrying(engine, lambda s, e=parsed: record_event(s, "wms-sh", e, now=T0))


def add_network(
    session: Session, dests: Sequence[str] = ("SHA-A1",), *, lead_hours: float = 24.0
) -> None:
    """DC-SHA and the stores ``dests``, each on a lane of ``lead_hours``, ¥2 a unit, ¥40 a trip."""
    from tests.utils.factories import add_location

    add_location(session, "DC-SHA", kind="dc")
    for dest in dests:
        add_location(session, dest)
        session.add(
            Lane(
                source_code="DC-SHA",
                dest_code=dest,
                distance_km=10,
                lead_time_hours=lead_hours,
                cost_per_unit=2.0,
                cost_per_shipment=40.0,
            )
        )
