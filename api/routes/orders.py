"""``/v1/orders``: a channel posts an online order; the pool routes it and holds its units.

The routing decision (``tools.route_order``) and the holds (``inventory.online_orders`` through
the single stock writer) run in one transaction; the answer explains the chosen node(s) and the
two runners-up. A channel key sees and cancels only its own channel's orders.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from agents.executor import parcels
from api.auth import Principal, Role
from api.channel_access import acting_channel, as_api_error, channel_scope
from api.deps import AppStateDep, SessionDep, require_role
from api.errors import ERROR_RESPONSES, ApiError
from api.schemas.common import Page, Paging
from api.schemas.orders import DEFAULT_PROMISE_HOURS, OrderCreate, OrderView, ParcelView
from inventory import online_orders
from inventory.clock import as_utc
from inventory.models import OnlineOrder, OnlineOrderStatus
from inventory.online_orders import OrderError, OrderSpec
from tools.route_order.models import OrderLineInput, RouteOrderInput
from tools.route_order.pool import local_day
from tools.route_order.router import order_router
from tools.route_order.settings import load_routing_settings

router = APIRouter(prefix="/orders", tags=["channels"], responses=ERROR_RESPONSES)

#: Posting and cancelling: the channels themselves and ops (admin always passes).
OrderCallerDep = Annotated[Principal, Depends(require_role(Role.CHANNEL, Role.OPS))]
#: Reading: every role; a channel key reads its own channel's orders only.
OrderReaderDep = Annotated[Principal, Depends(require_role(*Role))]


def _view(session: SessionDep, row: OnlineOrder) -> OrderView:
    lines = online_orders.lines_of(session, row.id)
    shipments = [ParcelView(**p) for p in parcels.parcel_states(session, row.id)]
    return OrderView.from_rows(row, lines, online_orders.hold_states(session, lines), shipments)


@router.post(
    "",
    summary="Route an online order and hold its units (by order id: 201 new, 200 a replay)",
    response_model=OrderView,
    status_code=201,
)
def create_order(
    body: OrderCreate,
    response: Response,
    state: AppStateDep,
    session: SessionDep,
    principal: OrderCallerDep,
) -> OrderView:
    channel = acting_channel(principal, body.channel)
    now = state.clock()
    if body.promised_by is not None:
        promised_by = as_utc(body.promised_by)
        hours = (promised_by - now).total_seconds() / 3600
        if hours <= 0:
            raise ApiError(
                422,
                f"promised_by {promised_by.isoformat()} is not after now ({now.isoformat()})",
                field="promised_by",
            )
    else:
        hours = body.promise_hours or DEFAULT_PROMISE_HOURS
        promised_by = now + dt.timedelta(hours=hours)
    settings = load_routing_settings(state.settings.routing_file)
    request = RouteOrderInput(
        lines=[OrderLineInput(sku=line.sku, qty=line.qty) for line in body.lines],
        destination_city=body.destination.city,
        channel=channel,
        promise_hours=min(hours, 336),
    )
    spec = OrderSpec(
        channel=channel,
        channel_order_id=body.order_id,
        lines=tuple((line.sku, line.qty) for line in body.lines),
        destination_city=body.destination.city,
        address=body.destination.address,
        promised_by=promised_by,
        oms_ref=body.oms_ref,
        promise_asked=None if body.promised_by is not None else f"{hours:g}h",
    )
    try:
        row, created = parcels.place_order(
            session,
            spec,
            order_router(request, settings, now),
            actor=principal.name,
            now=now,
            ttl_s=int(settings.reservation_ttl_hours * 3600),
            routing_day=local_day(now, settings),
        )
        view = _view(session, row)
        session.commit()
    except OrderError as error:
        session.rollback()
        raise as_api_error(error) from error
    if not created:
        response.status_code = 200
    return view


@router.get("", summary="Online orders, newest first (a channel sees its own)")
def list_orders(
    session: SessionDep,
    principal: OrderReaderDep,
    paging: Annotated[Paging, Depends()],
    status: Annotated[OnlineOrderStatus | None, Query()] = None,
    node: Annotated[str | None, Query(max_length=64, description="Shipped from this node.")] = None,
) -> Page[OrderView]:
    query = online_orders.query_for(channel=channel_scope(principal), status=status, node=node)
    return paging.page(session, query, lambda row: _view(session, row))


@router.get("/{order_id}", summary="One order with its routing decision", response_model=OrderView)
def get_order(order_id: str, session: SessionDep, principal: OrderReaderDep) -> OrderView:
    try:
        row = online_orders.get(session, order_id, channel=channel_scope(principal))
    except OrderError as error:
        raise as_api_error(error) from error
    return _view(session, row)


@router.post(
    "/{order_id}/cancel",
    summary="Cancel: open holds return to ATP (200); parcels the OMS holds are asked back (202)",
    response_model=OrderView,
    responses={
        202: {
            "description": "cancelling: the OMS holds parcels of it and was asked to withdraw "
            "them; their holds stay until it answers (`parcels[].cancellation`). If it refuses "
            "because a parcel shipped, the order goes back to routed and `detail` says why."
        }
    },
)
def cancel_order(
    order_id: str,
    state: AppStateDep,
    session: SessionDep,
    principal: OrderCallerDep,
    response: Response,
) -> OrderView:
    try:
        row = parcels.cancel_order(
            session,
            order_id,
            channel=channel_scope(principal),
            actor=principal.name,
            now=state.clock(),
        )
        view = _view(session, row)
        session.commit()
    except OrderError as error:
        session.rollback()
        raise as_api_error(error) from error
    if view.status == OnlineOrderStatus.CANCELLING:
        response.status_code = 202
    return view
