"""Request bodies of the LangGraph-Platform-compatible API (the fields langgraph-sdk sends).

Fields the SDK may send but that change nothing here (webhooks, multitask strategy, durability,
...) are accepted and ignored, so unmodified clients keep working.
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


class ThreadSearch(_Lenient):
    metadata: dict[str, Any] | None = None
    ids: list[str] | None = None
    status: Literal["idle", "busy", "interrupted", "error"] | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    sort_by: Literal["thread_id", "status", "created_at", "updated_at"] | None = None
    sort_order: Literal["asc", "desc"] | None = None


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
    if_not_exists: Literal["create", "reject"] | None = None


class ThreadRunCreate(RunCreate):
    pass


class StateUpdate(_Lenient):
    """``POST /threads/{id}/state`` (the SDK's ``threads.update_state``)."""

    values: dict[str, Any] | None = None
    as_node: str | None = None
    checkpoint: dict[str, Any] | None = None
    checkpoint_id: str | None = None
