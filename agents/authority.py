"""Who may decide an approval: the one rule the gate's verdict feeds, and the graph and the API ask.

The policy gate fixes an approval's terms when it asks for a human (which roles may approve, how
many different approvers, whether the requester is excluded, when it lapses) and they are stored
with the Approval row. Every decision — a ``command.resume`` in the graph, a REST decision, a
withdrawal — is judged here against those stored terms and the caller's own identity, never
against numbers or names carried in graph state.

The rules, in order (docs/api.md repeats them):

1. Only a pending approval can be decided (otherwise 409: already decided, withdrawn, expired).
2. A pending approval past ``expires_at`` cannot be decided (409); it is expired instead.
3. ``withdraw``: the requester, anyone holding one of the approver roles, or an admin.
4. ``reject``: anyone holding one of the approver roles, or an admin.
5. ``approve`` / ``edit``: anyone holding one of the approver roles, or an admin, except
   - the requester, when the terms say ``distinct_from_requester`` (four-eyes), and
   - the first approver again, when the terms need two approvers (the second must differ).
   When two approvers are needed and none approved yet, an approval is a *first* approval: the
   approval stays pending until a different approver confirms it.

A row without valid stored terms is judged on the strictest ones: role ``approver``, two
approvers, none of them its requester. ``admin`` counts as holding every approver role.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from inventory.models import Approval, ApprovalStatus

ADMIN_ROLE = "admin"


class Action(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    EDIT = "edit"
    WITHDRAW = "withdraw"


class ApprovalTerms(BaseModel):
    """What the gate decided a human decision needs; stored in ``Approval.payload``."""

    approver_roles: list[str] = Field(min_length=1)
    approvers_required: int = Field(ge=1, le=2)  # a first approver and one who confirms
    distinct_from_requester: bool

    @classmethod
    def of(cls, approval: Approval) -> ApprovalTerms:
        """The terms stored with ``approval``; a row without them needs the strictest terms."""
        payload = approval.payload or {}
        try:
            return cls.model_validate(
                {
                    "approver_roles": payload.get("approver_roles") or ["approver"],
                    "approvers_required": payload["approvers_required"],
                    "distinct_from_requester": payload["distinct_from_requester"],
                }
            )
        except (KeyError, ValueError):
            return cls(
                approver_roles=["approver"], approvers_required=2, distinct_from_requester=True
            )


class Caller(BaseModel):
    """Who acts: a name and roles, always taken from the authenticated caller."""

    name: str = Field(min_length=1)
    roles: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class Ruling:
    """Whether ``caller`` may take ``action``; ``status`` is the HTTP status a refusal maps to."""

    allowed: bool
    reason: str
    status: int = 200
    first_approval: bool = False
    expired: bool = False


def holds_approver_role(caller: Caller, approver_roles: Sequence[str]) -> bool:
    return ADMIN_ROLE in caller.roles or bool(set(caller.roles) & set(approver_roles))


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def is_due(approval: Approval, now: dt.datetime) -> bool:
    """Past its expiry (on the pool's clock)."""
    return approval.expires_at is not None and _aware(now) >= _aware(approval.expires_at)


def rule(approval: Approval, caller: Caller, action: Action | str, now: dt.datetime) -> Ruling:
    """May ``caller`` take ``action`` on ``approval`` at ``now``? Pure: reads nothing else."""
    action = Action(action)
    subject = f"approval {approval.id}"
    if approval.status != ApprovalStatus.PENDING:
        by = f" by {approval.decided_by}" if approval.decided_by else ""
        return Ruling(False, f"{subject} is already {approval.status}{by}", 409)
    if is_due(approval, now):
        expires = _aware(approval.expires_at).isoformat()  # type: ignore[arg-type]
        return Ruling(False, f"{subject} expired at {expires}", 409, expired=True)
    terms = ApprovalTerms.of(approval)
    approver = holds_approver_role(caller, terms.approver_roles)
    roles = sorted(terms.approver_roles)
    if action is Action.WITHDRAW:
        if approver or caller.name == approval.requested_by:
            return Ruling(True, f"{caller.name!r} withdraws {subject}")
        return Ruling(
            False,
            f"{caller.name!r} may not withdraw {subject}: only its requester "
            f"{approval.requested_by!r}, an approver ({', '.join(roles)}) or an admin may",
            403,
        )
    if not approver:
        return Ruling(
            False,
            f"{caller.name!r} (roles {sorted(caller.roles)}) may not {action} {subject}: "
            f"needs one of the roles {roles} or admin",
            403,
        )
    if action is Action.REJECT:
        return Ruling(True, f"{caller.name!r} rejects {subject}")
    if terms.distinct_from_requester and caller.name == approval.requested_by:
        return Ruling(
            False,
            f"four-eyes: {subject} was requested by {caller.name!r}, who may not {action} it; "
            "another approver must (the requester may still withdraw it)",
            403,
        )
    first = approval.decided_by if terms.approvers_required >= 2 else None
    if first is not None and first == caller.name:
        return Ruling(
            False,
            f"four-eyes: {subject} needs {terms.approvers_required} different approvers and "
            f"{caller.name!r} already gave the first approval; another approver must confirm",
            403,
        )
    first_approval = (
        action is Action.APPROVE and terms.approvers_required >= 2 and approval.decided_by is None
    )
    return Ruling(True, f"{caller.name!r} may {action} {subject}", first_approval=first_approval)


def caller_of(value: Any) -> Caller | None:
    """A ``Caller`` from a ``{name, roles}`` mapping (or any object with those attributes)."""
    if value is None:
        return None
    if isinstance(value, Caller):
        return value
    if isinstance(value, dict):
        return Caller.model_validate(value)
    return Caller(name=value.name, roles=[str(r) for r in value.roles])
