"""``/v1/audit``: the append-only trail of decisions and side effects."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlmodel import select

from api.deps import ReaderDep, SessionDep
from api.errors import ERROR_RESPONSES
from api.schemas.common import Page, Paging
from api.schemas.records import AuditEventView
from inventory.models import AuditEvent

router = APIRouter(prefix="/audit", tags=["audit"], responses=ERROR_RESPONSES)


@router.get("", summary="Audit events, newest first", response_model=Page[AuditEventView])
def list_audit_events(
    session: SessionDep,
    _: ReaderDep,
    paging: Annotated[Paging, Depends()],
    kind: Annotated[str | None, Query(max_length=64, description="e.g. approval.approved")] = None,
    subject_id: Annotated[str | None, Query(max_length=64)] = None,
    run_id: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[AuditEventView]:
    query = select(AuditEvent).order_by(AuditEvent.id.desc())  # type: ignore[union-attr]
    for column, value in (
        (AuditEvent.kind, kind),
        (AuditEvent.subject_id, subject_id),
        (AuditEvent.run_id, run_id),
        (AuditEvent.actor, actor),
    ):
        if value is not None:
            query = query.where(column == value)
    return paging.page(session, query, AuditEventView.from_row)
