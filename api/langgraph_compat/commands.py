"""What a LangGraph ``Command`` and a run ``input`` may do here: the gate in front of the graphs.

Graph state carries the approval flow (proposals, verdicts, decisions), so no caller writes it:

* ``input`` must match the assistant's input model (ops_chat: human messages only); an
  assistant without one (alert_response) never starts from a run — only from a signed alert.
* ``command.update`` is refused (403) except for an admin, and then only ``messages`` (422
  for any other key).
* ``command.goto`` is refused, except ``"__end__"`` on a thread that waits for a decision:
  that withdraws what it waits for, if the authority lets the caller withdraw each approval.
* ``command.resume`` must answer the pending interrupt (one decision per action request, of an
  allowed type) and each decision must be allowed by ``agents.authority.rule`` for the caller,
  on the stored Approval row. The graph decides as the authenticated caller, whatever the
  resume says about a principal.
"""

from __future__ import annotations

from typing import Any

from langgraph.types import Command
from pydantic import BaseModel, ValidationError
from sqlmodel import Session

from agents.approvals import HITLResponse, approval_id
from agents.authority import Action
from api.approval_waits import interrupt_requests
from api.auth import Principal, Role
from api.decisions import authorise, service_clock
from api.errors import ApiError, conflict
from api.langgraph_compat.catalog import AssistantSpec
from api.langgraph_compat.models import CommandBody
from api.langgraph_compat.runner import GraphRunner
from inventory.models import AgentThread, Approval, ApprovalStatus

#: What an admin may write into a thread's state directly (``command.update``).
UPDATABLE_KEYS = frozenset({"messages"})
END = "__end__"


def _invalid(exc: ValidationError, prefix: str) -> ApiError:
    """A 422 naming the first bad field in full (``body.input.messages.0.role``)."""
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in (prefix, *first["loc"]))
    return ApiError(422, f"{where}: {first['msg']}", field=where, value=first.get("input"))


def check_input(spec: AssistantSpec, graph_input: dict[str, Any] | None) -> None:
    """Raise 403/422 unless ``graph_input`` may start a run of ``spec``."""
    if not spec.starts_from_input:
        raise ApiError(
            403,
            f"{spec.assistant_id!r} runs start only from a signed alert (POST /v1/alerts), "
            "never from a run's input",
            field="body.assistant_id",
            value=spec.assistant_id,
        )
    if spec.input_model is None:
        return
    _validate(spec.input_model, graph_input or {}, "body.input")


def _validate(model: type[BaseModel], value: Any, field: str) -> None:
    try:
        model.model_validate(value)
    except ValidationError as exc:
        raise _invalid(exc, field) from None


def check_owner(thread: AgentThread, principal: Principal) -> None:
    """A conversation belongs to whoever created it (an admin may write into any)."""
    if Role.ADMIN not in principal.roles and thread.created_by != principal.name:
        raise ApiError(
            403,
            f"thread {thread.id!r} belongs to {thread.created_by!r}; start your own thread",
            field="thread_id",
            value=thread.id,
        )


def authorise_command(
    command: CommandBody,
    *,
    thread: AgentThread,
    spec: AssistantSpec,
    principal: Principal,
    runner: GraphRunner,
) -> tuple[Command, dict[str, Any]]:
    """The Command to run and its JSON record, or the 403/409/422 that says why not.

    Takes no request session: refusing a decision on an expired approval first settles it and
    resumes its thread to tell it (a whole run, ``api.decisions.expire_and_recheck``), and the
    caller's connection must not sit idle across that. Approvals are read in a short session of
    their own, closed before any of them is judged (as ``api.decisions.decide`` does)."""
    update = _checked_update(command.update, spec, principal)
    goto = command.goto
    if goto is not None:
        if goto != END and goto != [END]:
            raise ApiError(
                403,
                "command.goto is refused: the graph chooses its own next step; only "
                f"goto {END!r} (withdraw what the thread waits for) is served",
                field="body.command.goto",
                value=goto,
            )
        if command.resume is not None:
            raise ApiError(
                422,
                f"send either command.resume or goto {END!r}, not both",
                field="body.command",
            )
    if command.resume is None and goto is None:
        return Command(update=update), {"update": update}
    requests = interrupt_requests(runner, spec.assistant_id, thread.id)
    if not requests or thread.status != "interrupted":
        raise conflict(
            f"thread {thread.id!r} is not waiting for a decision (status {thread.status})",
            field="thread_id",
            value=thread.id,
        )
    if goto is not None:
        decisions = [{"type": "withdraw"} for _ in requests]
    else:
        decisions = _decisions(command.resume, len(requests))
    subjects = [(request.get("args") or {}).get("subject_id") for request in requests]
    with Session(runner.engine, expire_on_commit=False) as session:
        approvals = {
            str(subject): session.get(Approval, approval_id(str(subject)))
            for subject in subjects
            if subject is not None
        }
    for request, decision, subject in zip(requests, decisions, subjects, strict=True):
        _authorise_one(
            request,
            decision,
            runner,
            principal,
            subject,
            approvals.get(str(subject)),
            withdrawal=goto is not None,
        )
    resume = {"decisions": decisions, "principal": principal.as_resume_principal()}
    return Command(resume=resume, update=update), {"resume": resume, "update": update}


def _checked_update(
    update: dict[str, Any] | None, spec: AssistantSpec, principal: Principal
) -> dict[str, Any] | None:
    if update is None:
        return None
    if Role.ADMIN not in principal.roles:
        raise ApiError(
            403,
            "command.update writes graph state directly (where proposals, verdicts and "
            "decisions live); refused — only an admin may, and only messages",
            field="body.command.update",
            value=sorted(update),
        )
    check_update_values(update, spec, "body.command.update")
    return update


def check_update_values(values: dict[str, Any], spec: AssistantSpec, field: str) -> None:
    """422 unless ``values`` writes only ``messages``, in the assistant's input form."""
    extra = sorted(set(values) - UPDATABLE_KEYS)
    if extra or not values:
        raise ApiError(
            422,
            f"{field} may write only {sorted(UPDATABLE_KEYS)}, not {extra or 'nothing'}",
            field=field,
            value=extra,
        )
    if spec.input_model is not None:
        _validate(spec.input_model, values, field)


def _decisions(resume: Any, expected: int) -> list[dict[str, Any]]:
    if not isinstance(resume, dict) or "decisions" not in resume:
        raise ApiError(
            422,
            'command.resume must be {"decisions": [...]}, one per action request',
            field="body.command.resume",
        )
    try:
        response = HITLResponse.model_validate({"decisions": resume["decisions"]})
    except ValidationError as exc:
        raise _invalid(exc, "body.command.resume") from None
    if len(response.decisions) != expected:
        raise ApiError(
            422,
            f"the interrupt asks for {expected} decisions, got {len(response.decisions)}",
            field="body.command.resume.decisions",
            value=len(response.decisions),
        )
    return [d.model_dump(mode="json", exclude_none=True) for d in response.decisions]


def _authorise_one(
    request: dict[str, Any],
    decision: dict[str, Any],
    runner: GraphRunner,
    principal: Principal,
    subject_id: Any,
    approval: Approval | None,
    *,
    withdrawal: bool,
) -> None:
    """Raise unless ``principal`` may take ``decision`` on ``approval`` (the row of the
    request's ``subject_id``, read beforehand; no session is open here)."""
    kind = decision["type"]
    allowed = request.get("allowed_decisions") or ["approve", "edit", "reject"]
    if kind != Action.WITHDRAW and kind not in allowed:
        raise ApiError(
            422,
            f"decision {kind!r} is not allowed for {request.get('name')!r}; allowed: {allowed}",
            field="body.command.resume.decisions",
            value=kind,
        )
    if subject_id is None:  # an interrupt that names no approval (embedders' own graphs)
        needed = (Role.OPS, Role.APPROVER) if kind == Action.WITHDRAW else (Role.APPROVER,)
        if not principal.has_any(*needed):
            raise ApiError(
                403,
                f"{principal.name!r} may not {kind}; needs one of {[str(r) for r in needed]}",
                field="role",
                value=[str(r) for r in principal.roles],
            )
        return
    if approval is None:
        raise conflict(f"no approval for {subject_id!r}", field="subject_id", value=subject_id)
    if withdrawal and approval.status != ApprovalStatus.PENDING:
        return  # settled already: the graph reports it as it stands
    authorise(runner, approval, principal, kind, service_clock(runner))
