"""Runs: ``/threads/{id}/runs/stream`` (SSE), ``/threads/{id}/runs/wait``, ``/runs/wait``.

What a run's input or command may do is ``commands``' job (the authority decides every
approval); the graph always decides as the authenticated caller.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool

from api import run_store
from api.auth import Principal, Role
from api.deps import ReaderDep, RunCallerDep, RunnerDep, SessionDep
from api.errors import ERROR_RESPONSES, ApiError, not_found
from api.langgraph_compat.catalog import AssistantSpec
from api.langgraph_compat.commands import authorise_command, check_input, check_owner
from api.langgraph_compat.models import RunCreate
from api.langgraph_compat.runner import GraphRunner, RunTicket, parse_stream_modes
from api.langgraph_compat.streaming import sse_frame, stream_in_thread
from inventory.models import AgentThread, Run

router = APIRouter(tags=["langgraph-compatible"], responses=ERROR_RESPONSES)

PLATFORM_STATUS = {
    "admitted": "pending",
    "running": "running",
    "interrupted": "interrupted",
    "succeeded": "success",
    "failed": "error",
}

_SSE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"},
    **ERROR_RESPONSES,
}


def _admit(
    *,
    thread_id: str,
    body: RunCreate,
    principal: Principal,
    session: Session,
    runner: GraphRunner,
) -> RunTicket:
    spec = require_may_run(body, principal, runner)
    thread = session.get(AgentThread, thread_id)
    if thread is None:
        if body.if_not_exists != "create":
            raise not_found("thread", thread_id, field="thread_id")
        thread = run_store.create_thread(session, thread_id=thread_id, created_by=principal.name)
        session.commit()
    if body.command is None:
        check_owner(thread, principal)
        graph_input: Any = body.input
        command_record: dict[str, Any] | None = None
    else:
        graph_input, command_record = authorise_command(
            body.command,
            thread=thread,
            spec=spec,
            principal=principal,
            runner=runner,
            session=session,
        )
    return runner.admit(
        thread_id=thread_id,
        assistant_id=body.assistant_id,
        principal=principal,
        graph_input=graph_input,
        trigger="chat",
        stream_modes=parse_stream_modes(body.stream_mode),
        run_input={"input": body.input, "command": command_record, "metadata": body.metadata or {}},
    )


def require_may_run(body: RunCreate, principal: Principal, runner: GraphRunner) -> AssistantSpec:
    """Checks made before anything is written: the assistant exists; starting a run needs ops
    and an input the assistant accepts. Commands are judged by ``authorise_command``."""
    runner.graph(body.assistant_id)  # 404 for an unknown assistant
    spec = runner.catalog.specs[body.assistant_id]
    if body.command is None:
        if not principal.has_any(Role.OPS):
            raise ApiError(
                403,
                f"{principal.name!r} may not start runs; needs the ops role "
                "(approvers may only answer approvals)",
                field="role",
                value=[str(r) for r in principal.roles],
            )
        check_input(spec, body.input)
    return spec


async def _events(runner: GraphRunner, ticket: RunTicket) -> AsyncIterator[bytes]:
    yield sse_frame(
        "metadata", {"run_id": ticket.run_id, "thread_id": ticket.thread_id, "attempt": 1}
    )
    async for event, data in stream_in_thread(lambda: runner.execute(ticket)):
        yield sse_frame(event, data)
    status = await run_in_threadpool(_platform_status, runner, ticket.run_id)
    yield sse_frame("end", {"run_id": ticket.run_id, "status": status})


def _platform_status(runner: GraphRunner, run_id: str) -> str:
    with Session(runner.engine, expire_on_commit=False) as session:
        run = session.get(Run, run_id)
    return PLATFORM_STATUS.get(run.status, run.status) if run else "error"


def _stream_response(runner: GraphRunner, ticket: RunTicket) -> StreamingResponse:
    return StreamingResponse(
        _events(runner, ticket),
        media_type="text/event-stream",
        headers={
            "Content-Location": f"/threads/{ticket.thread_id}/runs/{ticket.run_id}",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        },
    )


def _wait(runner: GraphRunner, ticket: RunTicket) -> dict[str, Any]:
    outcome = runner.run_to_end(ticket)
    if outcome.error is not None:
        return {"__error__": outcome.error}
    values = dict(outcome.values)
    if outcome.interrupts:
        values["__interrupt__"] = outcome.interrupts
    return values


@router.post(
    "/threads/{thread_id}/runs/stream",
    summary="Run an assistant on a thread, streaming events (SSE)",
    response_class=StreamingResponse,
    responses=_SSE_RESPONSES,
)
def stream_run(
    thread_id: str,
    body: RunCreate,
    session: SessionDep,
    runner: RunnerDep,
    principal: RunCallerDep,
) -> StreamingResponse:
    ticket = _admit(
        thread_id=thread_id,
        body=body,
        principal=principal,
        session=session,
        runner=runner,
    )
    return _stream_response(runner, ticket)


@router.post(
    "/runs/stream",
    summary="Run on a new thread, streaming events (SSE)",
    response_class=StreamingResponse,
    responses=_SSE_RESPONSES,
)
def stream_stateless_run(
    body: RunCreate,
    session: SessionDep,
    runner: RunnerDep,
    principal: RunCallerDep,
) -> StreamingResponse:
    require_may_run(body, principal, runner)
    thread = run_store.create_thread(session, created_by=principal.name)
    session.commit()
    ticket = _admit(
        thread_id=thread.id,
        body=body,
        principal=principal,
        session=session,
        runner=runner,
    )
    return _stream_response(runner, ticket)


@router.post("/threads/{thread_id}/runs/wait", summary="Run on a thread and wait for its values")
async def wait_run(
    thread_id: str,
    body: RunCreate,
    session: SessionDep,
    runner: RunnerDep,
    principal: RunCallerDep,
) -> dict[str, Any]:
    ticket = await run_in_threadpool(
        lambda: _admit(
            thread_id=thread_id,
            body=body,
            principal=principal,
            session=session,
            runner=runner,
        )
    )
    return await run_in_threadpool(_wait, runner, ticket)


@router.post("/runs/wait", summary="Run on a new thread and wait for its values")
async def wait_stateless_run(
    body: RunCreate,
    session: SessionDep,
    runner: RunnerDep,
    principal: RunCallerDep,
) -> dict[str, Any]:
    def admit() -> RunTicket:
        require_may_run(body, principal, runner)
        thread = run_store.create_thread(session, created_by=principal.name)
        session.commit()
        return _admit(
            thread_id=thread.id,
            body=body,
            principal=principal,
            session=session,
            runner=runner,
        )

    ticket = await run_in_threadpool(admit)
    return await run_in_threadpool(_wait, runner, ticket)


@router.get("/threads/{thread_id}/runs", summary="The thread's runs, newest first")
def list_runs(thread_id: str, session: SessionDep, _: ReaderDep) -> list[dict[str, Any]]:
    run_store.get_thread(session, thread_id)
    runs = session.exec(
        select(Run).where(Run.thread_id == thread_id).order_by(Run.created_at.desc())  # type: ignore[attr-defined]
    ).all()
    return [platform_run_json(r) for r in runs]


@router.get("/threads/{thread_id}/runs/{run_id}", summary="One run")
def get_run(thread_id: str, run_id: str, session: SessionDep, _: ReaderDep) -> dict[str, Any]:
    run = session.get(Run, run_id)
    if run is None or run.thread_id != thread_id:
        raise not_found("run", run_id, field="run_id")
    return platform_run_json(run)


def platform_run_json(run: Run) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "thread_id": run.thread_id,
        "assistant_id": run.assistant_id,
        "created_at": run.created_at.isoformat(),
        "updated_at": run.updated_at.isoformat(),
        "status": PLATFORM_STATUS.get(run.status, run.status),
        "metadata": (run.input or {}).get("metadata", {}),
        "multitask_strategy": "reject",
    }
