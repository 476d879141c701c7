"""The simulated enterprise systems (WMS, OMS, pricing, notify) as one small FastAPI app.

It behaves like the real systems where it matters to us: it honours idempotency keys, answers
with its own references, can be told to fail, and lets tests and evals list what arrived.
Endpoints are ``async``: a stall is an ``asyncio.sleep`` that holds no thread, so a process can
exit while a reply is being withheld (worker threads would keep it alive), and the state's
SQLite calls are short enough to run on the loop.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, FastAPI, Header, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from connectors.client import IDEMPOTENCY_HEADER
from connectors.models import (
    Ack,
    Notification,
    OmsOnlineOrder,
    OmsReservation,
    OmsShipment,
    OmsShipmentCancel,
    PriceChange,
    ReceivedRecord,
    SystemName,
    WmsTransferOrder,
    WmsTransferOrderRecord,
)
from connectors.simulated.feedback import FeedbackSubscription
from connectors.simulated.state import (
    FaultSpec,
    IdempotencyConflict,
    OutgoingEvent,
    ParcelShipped,
    RequestLogEntry,
    SimulatedState,
)

IdempotencyKey = Annotated[str, Header(alias=IDEMPOTENCY_HEADER, min_length=1, max_length=200)]


async def _accept(
    state: SimulatedState, system: SystemName, key: str, body: BaseModel
) -> Ack | JSONResponse:
    fault = state.take_fault(system, key)
    if fault is not None and fault.mode != "timeout_after_commit":
        if fault.mode == "timeout_before_commit":
            await asyncio.sleep(fault.delay_s)
        return JSONResponse(
            status_code=fault.status, content={"detail": f"injected fault ({fault.mode})"}
        )
    try:
        ack = state.record(system, key, body.model_dump(mode="json"), stalled=fault is not None)
    except IdempotencyConflict as conflict:
        raise HTTPException(status_code=422, detail=str(conflict)) from conflict
    if fault is not None:
        await asyncio.sleep(fault.delay_s)
    return ack


def create_app(state: SimulatedState | None = None) -> FastAPI:
    """Build the app around ``state`` (a fresh in-memory one by default)."""
    state = state or SimulatedState()
    app = FastAPI(
        title="Stockpilot simulated enterprise systems",
        description="WMS, OMS, pricing and notifications for demos, tests and evals.",
    )
    app.state.systems = state

    wms = APIRouter(prefix="/wms", tags=["wms"])

    @wms.post("/transfer-orders", response_model=Ack)
    async def create_transfer_order(
        order: WmsTransferOrder, key: IdempotencyKey
    ) -> Ack | JSONResponse:
        ack = await _accept(state, "wms", key, order)
        if isinstance(ack, Ack) and not ack.duplicate:
            state.plan_feedback(ack.reference, order)  # what the WMS will report back
        return ack

    @wms.get("/transfer-orders", response_model=list[WmsTransferOrderRecord])
    async def list_transfer_orders() -> list[WmsTransferOrderRecord]:
        return [
            WmsTransferOrderRecord(
                reference=record.reference,
                idempotency_key=record.idempotency_key,
                order=WmsTransferOrder.model_validate(record.payload),
                received_at=record.received_at,
            )
            for record in state.received("wms")
        ]

    oms = APIRouter(prefix="/oms", tags=["oms"])

    @oms.post("/reservations", response_model=Ack)
    async def create_reservation(body: OmsReservation, key: IdempotencyKey) -> Ack | JSONResponse:
        return await _accept(state, "oms", key, body)

    @oms.get("/reservations", response_model=list[ReceivedRecord])
    async def list_reservations() -> list[ReceivedRecord]:
        return [r for r in state.received("oms") if "reservation_id" in r.payload]

    @oms.post("/online-orders", response_model=Ack)
    async def accept_online_order(body: OmsOnlineOrder, key: IdempotencyKey) -> Ack | JSONResponse:
        """A channel's customer order (the stream evals replay); routed by Stockpilot."""
        return await _accept(state, "oms", key, body)

    @oms.get("/online-orders", response_model=list[ReceivedRecord])
    async def list_online_orders() -> list[ReceivedRecord]:
        return [
            r
            for r in state.received("oms")
            if "destination_city" in r.payload and "shipment_ref" not in r.payload
        ]

    @oms.post("/shipments", response_model=Ack)
    async def create_shipment(body: OmsShipment, key: IdempotencyKey) -> Ack | JSONResponse:
        """A routed parcel of an online order (Stockpilot's outbox sends one per parcel); with
        an ``oms`` subscriber, its story is reported back (``oms_feedback``)."""
        ack = await _accept(state, "oms", key, body)
        if isinstance(ack, Ack) and not ack.duplicate:
            state.plan_parcel_feedback(ack.reference, body)
        return ack

    @oms.get("/shipments", response_model=list[ReceivedRecord])
    async def list_shipments() -> list[ReceivedRecord]:
        return [
            r for r in state.received("oms") if "shipment_ref" in r.payload and "lines" in r.payload
        ]

    @oms.post(
        "/shipments/cancellations",
        response_model=Ack,
        responses={409: {"description": "The parcel already shipped."}},
    )
    async def cancel_shipment(body: OmsShipmentCancel, key: IdempotencyKey) -> Ack | JSONResponse:
        """Withdraw an accepted parcel: 409 once it shipped; a parcel not yet here is cancelled
        ahead (it never ships when it arrives)."""
        fault = state.take_fault("oms", key)
        if fault is not None:
            return JSONResponse(
                status_code=fault.status, content={"detail": f"injected fault ({fault.mode})"}
            )
        try:
            return state.cancel_shipment(key, body)
        except ParcelShipped as shipped:
            raise HTTPException(status_code=409, detail=str(shipped)) from shipped
        except IdempotencyConflict as conflict:
            raise HTTPException(status_code=422, detail=str(conflict)) from conflict

    @oms.get("/shipments/cancellations", response_model=list[ReceivedRecord])
    async def list_shipment_cancellations() -> list[ReceivedRecord]:
        return [
            r
            for r in state.received("oms")
            if "shipment_ref" in r.payload and "lines" not in r.payload
        ]

    pricing = APIRouter(prefix="/pricing", tags=["pricing"])

    @pricing.post("/price-changes", response_model=Ack)
    async def apply_price_change(body: PriceChange, key: IdempotencyKey) -> Ack | JSONResponse:
        return await _accept(state, "pricing", key, body)

    @pricing.get("/price-changes", response_model=list[ReceivedRecord])
    async def list_price_changes() -> list[ReceivedRecord]:
        return state.received("pricing")

    notify = APIRouter(prefix="/notify", tags=["notify"])

    @notify.post("/messages", response_model=Ack)
    async def send_message(body: Notification, key: IdempotencyKey) -> Ack | JSONResponse:
        return await _accept(state, "notify", key, body)

    @notify.get("/messages", response_model=list[ReceivedRecord])
    async def list_messages() -> list[ReceivedRecord]:
        return state.received("notify")

    admin = APIRouter(prefix="/admin", tags=["admin"])

    @admin.post("/faults", status_code=204)
    async def inject_fault(fault: FaultSpec) -> None:
        """Arm ``times`` failures for the next writes to one system (replaces an armed one)."""
        state.set_fault(fault)

    @admin.get("/requests", response_model=list[RequestLogEntry])
    async def list_requests() -> list[RequestLogEntry]:
        """Every write received, retries and injected failures included."""
        return state.requests()

    @admin.post("/subscriptions/wms", status_code=204)
    async def subscribe_wms(subscription: FeedbackSubscription) -> None:
        """Report shipped / delivered / cost / cancelled for every new transfer order."""
        state.subscribe(subscription, "wms")

    @admin.post("/subscriptions/oms", status_code=204)
    async def subscribe_oms(subscription: FeedbackSubscription) -> None:
        """Report shipped / picked short / delivered / cost / cancelled for every new parcel
        (``lanes`` plan (node, delivery zone) parcels: per-parcel cost as cost_per_shipment)."""
        state.subscribe(subscription, "oms")

    @admin.get("/events", response_model=list[OutgoingEvent])
    async def list_events() -> list[OutgoingEvent]:
        """Events queued, sent or refused by the subscriber (secrets left out)."""
        return state.outgoing_events()

    @admin.post("/reset", status_code=204)
    async def reset() -> None:
        state.reset()

    @app.get("/health", tags=["admin"])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    for router in (wms, oms, pricing, notify, admin):
        app.include_router(router)
    return app
