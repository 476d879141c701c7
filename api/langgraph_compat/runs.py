"""Runs: streams (SSE), waits, background runs, join, reconnect and cancel, on threads.

What a run's input or command may do is ``commands``' job (the authority decides every
approval); the graph always decides as the authenticated caller. Runs go through the broker
(``broker``), which keeps their events for reconnects and joins.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool

from agents.runs import new_thread
from api import run_store
from api.auth import Principal, Role
from api.deps import BrokerDep, ReaderDep, RunCallerDep, RunnerDep, SessionDep
from api.errors import ERROR_RESPONSES, ApiError, not_found
from api.langgraph_compat.broker import RunBroker, RunLog
from api.langgraph_compat.catalog import AssistantSpec
from api.langgraph_compat.commands import authorise_command, check_input, check_owner
from api.langgraph_compat.lean import lean_event, lean_values
from api.langgraph_compat.models import RunCreate
from api.langgraph_compat.runner import GraphRunner, RunTicket, ThreadBusy, parse_stream_modes
from api.langgraph_compat.serialization import interrupt_json, to_jsonable
from api.langgraph_compat.streaming import sse_frame
from api.langgraph_compat.threads import tag_thread
from inventory.models import AgentThread, Approval, Run

router = APIRouter(tags=["langgraph-compatible"], responses=ERROR_RESPONSES)

PLATFORM_STATUS = {
    "admitted": "pending",
    "running": "running",
    "interrupted": "interrupted",
    "succeeded": "success",
    "failed": "error",
}

#: How long ``enqueue`` and ``interrupt`` wait for the thread's current run to let go.
ENQUEUE_WAIT_S = 300.0
INTERRUPT_WAIT_S = 60.0
#: Seconds without an event before the stream sends an SSE comment (as the Agent Server does).
HEARTBEAT_S = 10.0
#: Modes a background run keeps for ``join_stream`` when the creator named none.
BACKGROUND_MODES = ("values", "updates", "messages-tuple", "custom")

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
    stream_modes: tuple[str, ...] | None = None,
) -> RunTicket:
    spec = require_may_run(body, principal, runner)
    thread = session.get(AgentThread, thread_id)
    if thread is None:
        if body.if_not_exists != "create":
            raise not_found("thread", thread_id, field="thread_id")
        thread = new_thread(session, thread_id=thread_id, created_by=principal.name)
        session.commit()
    if body.command is None:
        check_owner(thread, principal)
        graph_input: Any = body.input
        command_record: dict[str, Any] | None = None
    else:
        # Judging the command may settle an expired approval and resume its thread to tell it
        # (a whole run) before refusing: the request's connection is let go first, never held
        # beside the ones that opens (``authorise_command``). The thread row stays loaded.
        session.close()
        graph_input, command_record = authorise_command(
            body.command, thread=thread, spec=spec, principal=principal, runner=runner
        )
    fork = fork_config(runner, session, thread_id, body)
    # The run opens its own connections; the request's must not sit idle on one meanwhile
    # (16+ runs in flight each holding two exhausted the pool).
    session.close()
    ticket = runner.admit(
        thread_id=thread_id,
        assistant_id=body.assistant_id,
        principal=principal,
        graph_input=graph_input,
        trigger="chat",
        stream_modes=parse_stream_modes(body.stream_mode) if stream_modes is None else stream_modes,
        run_input={
            "input": body.input,
            "command": command_record,
            "metadata": body.metadata or {},
            "multitask_strategy": body.multitask_strategy or "reject",
        },
    )
    # As the Agent Server does: the thread says which graph it runs, so clients that list
    # threads by {"metadata": {"graph_id": ...}} (agent-chat-ui) find it.
    tag_thread(runner, thread_id, body.assistant_id)
    return dataclasses.replace(ticket, config=fork) if fork else ticket


def fork_config(
    runner: GraphRunner, session: Session, thread_id: str, body: RunCreate
) -> dict[str, Any] | None:
    """The config that starts the run from ``body.checkpoint`` when it is not the thread's head.

    agent-chat-ui sends the head with every message (nothing to do) and an earlier checkpoint to
    edit or regenerate a message (a fork). A fork re-runs nodes after that checkpoint, so it is
    refused on a thread that recorded proposals: their orders and approvals live in the pool,
    and a replayed gate must not ask about them again.
    """
    checkpoint_id = body.checkpoint_id or (body.checkpoint or {}).get("checkpoint_id")
    if not checkpoint_id:
        return None
    namespace = (body.checkpoint or {}).get("checkpoint_ns") or ""
    graph = runner.graph(body.assistant_id)
    base = {"configurable": {"thread_id": thread_id, "checkpoint_ns": namespace}}
    head = graph.checkpointer.get_tuple(base) if graph.checkpointer else None
    if head is not None and head.config["configurable"].get("checkpoint_id") == checkpoint_id:
        return None
    target = {"configurable": {**base["configurable"], "checkpoint_id": checkpoint_id}}
    if graph.checkpointer is None or graph.checkpointer.get_tuple(target) is None:
        raise not_found("checkpoint", checkpoint_id, field="body.checkpoint.checkpoint_id")
    recorded = session.exec(select(Approval.id).where(Approval.thread_id == thread_id)).first()
    if recorded is not None:
        raise ApiError(
            409,
            f"thread {thread_id!r} has recorded proposals, so it is not forked from an earlier "
            "checkpoint (edit or regenerate); start a new thread instead",
            field="body.checkpoint",
            value=checkpoint_id,
        )
    return {"configurable": {"checkpoint_id": checkpoint_id, "checkpoint_ns": namespace}}


async def admit_run(
    *,
    thread_id: str,
    body: RunCreate,
    principal: Principal,
    session: Session,
    runner: GraphRunner,
    broker: RunBroker,
    stream_modes: tuple[str, ...] | None = None,
) -> RunTicket:
    """Admit a run on the thread, honouring ``multitask_strategy`` when the thread is busy.

    ``reject`` (the default here) answers 409; ``interrupt`` cancels the thread's running run
    and starts once it has let go; ``enqueue`` waits for it; ``rollback`` is refused — a run's
    proposals and approvals live in the pool and are never rolled back by a client.
    """
    strategy = body.multitask_strategy or "reject"
    if strategy == "rollback":
        raise ApiError(
            422,
            "multitask_strategy 'rollback' is not served: a run's proposals, approvals and "
            "orders are recorded in the pool and are not rolled back; use reject, interrupt "
            "or enqueue",
            field="body.multitask_strategy",
            value=strategy,
        )
    waited_s = {"interrupt": INTERRUPT_WAIT_S, "enqueue": ENQUEUE_WAIT_S}.get(strategy, 0.0)
    deadline = time.monotonic() + waited_s
    cancelled = False
    while True:
        try:
            return await run_in_threadpool(
                lambda: _admit(
                    thread_id=thread_id,
                    body=body,
                    principal=principal,
                    session=session,
                    runner=runner,
                    stream_modes=stream_modes,
                )
            )
        except ThreadBusy as exc:
            # Judged from the lease itself: a cancelled run may have marked its thread idle a
            # moment before it lets go of the lease, so the thread's status is no test of it.
            if strategy == "reject" or time.monotonic() > deadline:
                if strategy != "reject":
                    exc.message = f"{exc.message} (still busy after {waited_s:.0f} s)"
                raise
        if strategy == "interrupt" and not cancelled:
            active = broker.active_on(thread_id)
            if active is not None:
                active.cancel_requested.set()
            cancelled = True
        await asyncio.sleep(0.1)


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


def start_run(broker: RunBroker, runner: GraphRunner, ticket: RunTicket) -> RunLog:
    """Start the admitted run on its own thread: ``metadata`` first, its events, ``end`` last."""
    return broker.start(
        ticket.run_id,
        ticket.thread_id,
        lambda: runner.execute(ticket),
        first=("metadata", {"run_id": ticket.run_id, "thread_id": ticket.thread_id, "attempt": 1}),
        last=lambda: (
            "end",
            {"run_id": ticket.run_id, "status": _platform_status(runner, ticket.run_id)},
        ),
    )


async def _frames(log: RunLog, after: int = -1) -> AsyncIterator[bytes]:
    async for item in log.follow(after, heartbeat_s=HEARTBEAT_S):
        if item is None:  # a long step: keep proxies and the client's read timeout at bay
            yield b": heartbeat\n\n"
            continue
        event_id, event, data = item
        yield sse_frame(event, lean_event(event, data), event_id=str(event_id))


def _platform_status(runner: GraphRunner, run_id: str) -> str:
    with Session(runner.engine, expire_on_commit=False) as session:
        run = session.get(Run, run_id)
    return PLATFORM_STATUS.get(run.status, run.status) if run else "error"


def _stream_response(log: RunLog, after: int = -1) -> StreamingResponse:
    location = f"/threads/{log.thread_id}/runs/{log.run_id}"
    return StreamingResponse(
        _frames(log, after),
        media_type="text/event-stream",
        headers={
            "Content-Location": location,
            # where the SDKs reconnect (GET, with Last-Event-ID) when the stream drops
            "Location": f"{location}/stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        },
    )


def final_values(runner: GraphRunner, run_id: str, thread_id: str) -> dict[str, Any]:
    """What ``runs/wait`` and ``join`` answer: the thread's values, its interrupts, or the error."""
    with Session(runner.engine, expire_on_commit=False) as session:
        run = session.get(Run, run_id)
    if run is not None and run.status == "failed":
        return {"__error__": {"error": "RunFailed", "message": run.error or "the run failed"}}
    with Session(runner.engine, expire_on_commit=False) as session:
        thread = run_store.get_thread(session, thread_id)
    if thread.assistant_id is None:
        return {}
    graph = runner.graph(thread.assistant_id)
    state = graph.get_state({"configurable": {"thread_id": thread_id}})
    values = dict(lean_values(to_jsonable(state.values)) or {})
    if state.interrupts:
        values["__interrupt__"] = [interrupt_json(i) for i in state.interrupts]
    return values


@router.post(
    "/threads/{thread_id}/runs/stream",
    summary="Run an assistant on a thread, streaming events (SSE)",
    response_class=StreamingResponse,
    responses=_SSE_RESPONSES,
)
async def stream_run(
    thread_id: str,
    body: RunCreate,
    session: SessionDep,
    runner: RunnerDep,
    broker: BrokerDep,
    principal: RunCallerDep,
) -> StreamingResponse:
    ticket = await admit_run(
        thread_id=thread_id,
        body=body,
        principal=principal,
        session=session,
        runner=runner,
        broker=broker,
    )
    return _stream_response(start_run(broker, runner, ticket))


@router.post(
    "/runs/stream",
    summary="Run on a new thread, streaming events (SSE)",
    response_class=StreamingResponse,
    responses=_SSE_RESPONSES,
)
async def stream_stateless_run(
    body: RunCreate,
    session: SessionDep,
    runner: RunnerDep,
    broker: BrokerDep,
    principal: RunCallerDep,
) -> StreamingResponse:
    thread_id = await run_in_threadpool(_new_thread, body, principal, session, runner)
    ticket = await admit_run(
        thread_id=thread_id,
        body=body,
        principal=principal,
        session=session,
        runner=runner,
        broker=broker,
    )
    return _stream_response(start_run(broker, runner, ticket))


def _new_thread(
    body: RunCreate, principal: Principal, session: Session, runner: GraphRunner
) -> str:
    require_may_run(body, principal, runner)
    thread = new_thread(session, created_by=principal.name)
    session.commit()
    return thread.id


@router.post("/threads/{thread_id}/runs/wait", summary="Run on a thread and wait for its values")
async def wait_run(
    thread_id: str,
    body: RunCreate,
    session: SessionDep,
    runner: RunnerDep,
    broker: BrokerDep,
    principal: RunCallerDep,
) -> dict[str, Any]:
    ticket = await admit_run(
        thread_id=thread_id,
        body=body,
        principal=principal,
        session=session,
        runner=runner,
        broker=broker,
        stream_modes=(),
    )
    await start_run(broker, runner, ticket).wait_done()
    return await run_in_threadpool(final_values, runner, ticket.run_id, ticket.thread_id)


@router.post("/runs/wait", summary="Run on a new thread and wait for its values")
async def wait_stateless_run(
    body: RunCreate,
    session: SessionDep,
    runner: RunnerDep,
    broker: BrokerDep,
    principal: RunCallerDep,
) -> dict[str, Any]:
    thread_id = await run_in_threadpool(_new_thread, body, principal, session, runner)
    return await wait_run(thread_id, body, session, runner, broker, principal)


@router.post("/threads/{thread_id}/runs", summary="Start a run in the background")
async def create_run(
    thread_id: str,
    body: RunCreate,
    session: SessionDep,
    runner: RunnerDep,
    broker: BrokerDep,
    principal: RunCallerDep,
) -> dict[str, Any]:
    modes = BACKGROUND_MODES if "stream_mode" not in body.model_fields_set else None
    ticket = await admit_run(
        thread_id=thread_id,
        body=body,
        principal=principal,
        session=session,
        runner=runner,
        broker=broker,
        stream_modes=modes,
    )
    start_run(broker, runner, ticket)
    return await run_in_threadpool(_run_json, runner, ticket.run_id)


@router.post("/runs", summary="Start a run in the background on a new thread")
async def create_stateless_run(
    body: RunCreate,
    session: SessionDep,
    runner: RunnerDep,
    broker: BrokerDep,
    principal: RunCallerDep,
) -> dict[str, Any]:
    thread_id = await run_in_threadpool(_new_thread, body, principal, session, runner)
    return await create_run(thread_id, body, session, runner, broker, principal)


def _run_json(runner: GraphRunner, run_id: str) -> dict[str, Any]:
    with Session(runner.engine, expire_on_commit=False) as session:
        run = session.get(Run, run_id)
        if run is None:
            raise not_found("run", run_id, field="run_id")
        return platform_run_json(run)


def _run_of_thread(session: Session, thread_id: str, run_id: str) -> Run:
    run = session.get(Run, run_id)
    if run is None or run.thread_id != thread_id:
        raise not_found("run", run_id, field="run_id")
    return run


async def _until_settled(runner: GraphRunner, broker: RunBroker, run_id: str) -> None:
    """Wait for the run to end: on its log here, or by its row when another process runs it."""
    log = broker.get(run_id)
    if log is not None:
        await log.wait_done()
        return
    while await run_in_threadpool(_platform_status, runner, run_id) in ("pending", "running"):
        await asyncio.sleep(0.5)


@router.get("/threads/{thread_id}/runs/{run_id}/join", summary="Wait for a run; its final values")
async def join_run(
    thread_id: str,
    run_id: str,
    session: SessionDep,
    runner: RunnerDep,
    broker: BrokerDep,
    _: ReaderDep,
) -> dict[str, Any]:
    await run_in_threadpool(_run_of_thread, session, thread_id, run_id)
    await _until_settled(runner, broker, run_id)
    return await run_in_threadpool(final_values, runner, run_id, thread_id)


@router.get(
    "/threads/{thread_id}/runs/{run_id}/stream",
    summary="Join a run's event stream (resume with Last-Event-ID)",
    response_class=StreamingResponse,
    responses=_SSE_RESPONSES,
)
async def join_run_stream(
    thread_id: str,
    run_id: str,
    session: SessionDep,
    runner: RunnerDep,
    broker: BrokerDep,
    _: ReaderDep,
    last_event_id: str | None = Header(default=None, alias="Last-Event-ID"),
) -> StreamingResponse:
    """Replays the events after ``Last-Event-ID`` (all of them without it), then follows the run.

    A run started in another process, or finished long ago, has no events here: its stream is
    its final values and ``end``.
    """
    run = await run_in_threadpool(_run_of_thread, session, thread_id, run_id)
    after = -1  # everything; the JS SDK resumes from "-1" when it has seen nothing
    if last_event_id:
        try:
            after = max(-1, int(last_event_id))
        except ValueError:
            raise ApiError(
                422,
                "Last-Event-ID must be the id of an event of this run (or -1)",
                field="Last-Event-ID",
                value=last_event_id,
            ) from None
    log = broker.get(run_id)
    if log is None:
        await _until_settled(runner, broker, run_id)
        values = await run_in_threadpool(final_values, runner, run_id, thread_id)
        status = await run_in_threadpool(_platform_status, runner, run.id)
        log = RunLog(run_id, thread_id)
        log.append("values", values)
        log.append("end", {"run_id": run_id, "status": status})
        log.finish()
    return _stream_response(log, after)


@router.post("/threads/{thread_id}/runs/{run_id}/cancel", summary="Cancel a run")
async def cancel_run(
    thread_id: str,
    run_id: str,
    session: SessionDep,
    runner: RunnerDep,
    broker: BrokerDep,
    principal: RunCallerDep,
    wait: bool = False,
    action: Literal["interrupt", "rollback"] = Query(default="interrupt"),
) -> dict[str, Any] | None:
    """Stops the run after its current step; what it already proposed or decided stays."""
    if action == "rollback":
        raise ApiError(
            422,
            "cancel action 'rollback' is not served: a run's proposals, approvals and orders are "
            "recorded in the pool and are not rolled back; use action=interrupt",
            field="action",
            value=action,
        )
    await run_in_threadpool(_run_of_thread, session, thread_id, run_id)
    log = broker.get(run_id)
    if log is None or log.done.is_set():
        status = await run_in_threadpool(_platform_status, runner, run_id)
        if status in ("pending", "running"):
            raise ApiError(
                409,
                f"run {run_id!r} runs in another process of the service; cancel it there",
                field="run_id",
                value=run_id,
            )
        return None  # already over: nothing to cancel
    log.cancel_requested.set()
    if wait:
        await log.wait_done()
    return None


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
        "multitask_strategy": (run.input or {}).get("multitask_strategy", "reject"),
    }
