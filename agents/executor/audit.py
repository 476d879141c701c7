"""Append-only audit rows for every executor decision and side effect."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from inventory.models import AuditEvent


def record_event(
    session: Session,
    *,
    kind: str,
    actor: str,
    at: datetime,
    subject_type: str,
    subject_id: str,
    run_id: str | None = None,
    payload: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        at=at,
        actor=actor,
        kind=kind,
        subject_type=subject_type,
        subject_id=subject_id,
        run_id=run_id,
        payload=payload or {},
    )
    session.add(event)
    return event
