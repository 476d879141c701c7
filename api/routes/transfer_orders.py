"""``/v1/transfer-orders``: orders the agents proposed, with their lines and lifecycle status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlmodel import select

from api.deps import ReaderDep, SessionDep
from api.errors import ERROR_RESPONSES, not_found
from api.schemas.common import Page, Paging
from api.schemas.records import TransferOrderView
from inventory.models import OrderStatus, TransferLine, TransferOrder

router = APIRouter(prefix="/transfer-orders", tags=["transfers"], responses=ERROR_RESPONSES)


@router.get("", summary="Transfer orders, newest first", response_model=Page[TransferOrderView])
def list_transfer_orders(
    session: SessionDep,
    _: ReaderDep,
    paging: Annotated[Paging, Depends()],
    status: Annotated[OrderStatus | None, Query()] = None,
    source: Annotated[str | None, Query(max_length=64)] = None,
    dest: Annotated[str | None, Query(max_length=64)] = None,
    run_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[TransferOrderView]:
    query = select(TransferOrder).order_by(TransferOrder.created_at.desc())  # type: ignore[attr-defined]
    for column, value in (
        (TransferOrder.status, str(status) if status else None),
        (TransferOrder.source_code, source),
        (TransferOrder.dest_code, dest),
        (TransferOrder.run_id, run_id),
    ):
        if value is not None:
            query = query.where(column == value)
    return paging.page(session, query, TransferOrderView.from_row)


@router.get(
    "/{order_id}", summary="One transfer order with its lines", response_model=TransferOrderView
)
def get_transfer_order(order_id: str, session: SessionDep, _: ReaderDep) -> TransferOrderView:
    order = session.get(TransferOrder, order_id)
    if order is None:
        raise not_found("transfer order", order_id)
    lines = session.exec(select(TransferLine).where(TransferLine.order_id == order_id)).all()
    return TransferOrderView.from_row(order, list(lines))
