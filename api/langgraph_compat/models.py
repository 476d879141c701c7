"""Request bodies of the LangGraph-Platform-compatible API (the fields langgraph-sdk sends).

Fields the SDK may send but that change nothing here (webhooks, durability, feedback keys, ...)
are accepted and ignored, so unmodified clients keep working; fields whose meaning we do not
serve (``multitask_strategy: rollback``) are refused with a clear 422 where they are used.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AssistantSearch(_Lenient):
    metadata: dict[str, Any] | None = None
    graph_id: str | None = None
    name: str | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)


class ThreadCreate(_Lenient):
    thread_id: str | None = Field(default=None, min_length=1, max_length=64)
    metadata: dict[str, Any] | None = None
    if_exists: Literal["raise", "do_nothing"] = "raise"


ThreadField = Literal[
    "thread_id",
    "created_at",
    "updated_at",
    "metadata",
    "config",
    "context",
    "status",
    "values",
    "interrupts",
]

MultitaskStrategy = Literal["reject", "interrupt", "rollback", "enqueue"]


class ThreadSearch(_Lenient):
    metadata: dict[str, Any] | None = None
    ids: list[str] | None = None
    status: Literal["idle", "busy", "interrupted", "error"] | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    sort_by: Literal["thread_id", "status", "created_at", "updated_at"] | None = None
    sort_order: Literal["asc", "desc"] | None = None
    select: list[ThreadField] | None = Field(
        default=None,
        description="Fields to return; without it a thread's values are only its first "
        "message (what a thread list shows) — ask for `values` to get them whole.",
    )


class ThreadUpdate(_Lenient):
    """``PATCH /threads/{id}``: merge metadata (a key set to null is removed)."""

    metadata: dict[str, Any] = Field(default_factory=dict)


class HistoryRequest(_Lenient):
    limit: int = Field(default=10, ge=1, le=1000)
    before: dict[str, Any] | str | None = None
    metadata: dict[str, Any] | None = None
    checkpoint: dict[str, Any] | None = None


class CommandBody(_Lenient):
    """``Command``: ``resume`` answers a pending ``interrupt()`` (``{"decisions": [...]}``);
    ``goto: "__end__"`` withdraws what the thread waits for (agent-chat-ui's "resolve");
    ``update`` may write only ``messages``, and only for an admin."""

    resume: Any = None
    update: dict[str, Any] | None = None
    goto: str | list[str] | None = None

    @model_validator(mode="after")
    def _says_something(self) -> CommandBody:
        if self.resume is None and self.update is None and self.goto is None:
            raise ValueError("a command needs resume (a decision) or goto '__end__' (withdraw)")
        return self


class RunCreate(_Lenient):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "assistant_id": "ops_chat",
                    "input": {"messages": [{"role": "user", "content": "rain boots in Shanghai?"}]},
                    "stream_mode": ["values", "messages-tuple"],
                },
                {
                    "assistant_id": "ops_chat",
                    "command": {"resume": {"decisions": [{"type": "approve"}]}},
                },
            ]
        },
    )

    assistant_id: str = Field(min_length=1, max_length=200)
    input: dict[str, Any] | None = None
    command: CommandBody | None = None
    metadata: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    stream_mode: str | list[str] = "values"
    stream_subgraphs: bool = Field(
        default=False, description="Accepted; these graphs have no subgraphs to stream."
    )
    stream_resumable: bool = Field(
        default=False,
        description="Events always carry ids and are kept while the run lasts (and a while "
        "after), so `GET /threads/{id}/runs/{run_id}/stream` with `Last-Event-ID` resumes.",
    )
    multitask_strategy: MultitaskStrategy | None = Field(
        default=None,
        description="When the thread is busy: reject (409, the default here), interrupt "
        "(cancel the running run, then start), enqueue (wait for it, then start); rollback "
        "is refused.",
    )
    on_disconnect: Literal["cancel", "continue"] | None = None
    checkpoint: dict[str, Any] | None = Field(
        default=None,
        description="Run from this checkpoint of the thread (`{checkpoint_id, checkpoint_ns}`):"
        " the head is the usual run; an earlier one forks (edit / regenerate a message).",
    )
    checkpoint_id: str | None = Field(default=None, min_length=1, max_length=200)
    if_not_exists: Literal["create", "reject"] | None = None


class ThreadRunCreate(RunCreate):
    pass


class StateUpdate(_Lenient):
    """``POST /threads/{id}/state`` (the SDK's ``threads.update_state``)."""

    values: dict[str, Any] | None = None
    as_node: str | None = None
    checkpoint: dict[str, Any] | None = None
    checkpoint_id: str | None = None
