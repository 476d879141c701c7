"""The one small protocol every chat model adapter speaks.

Messages are LangChain messages so the ops_chat state is what agent-chat-ui and the
LangGraph-compatible API expect; tool calls come back on ``AIMessage.tool_calls``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from langchain_core.messages import AIMessage, BaseMessage
from pydantic import BaseModel, Field

#: The repair kind of an invalid optional argument dropped by an adapter (a lenient tool's);
#: the repair carries ``call_id`` and ``arguments`` (name → why), and the tools node tells the
#: model in the call's result.
DROPPED_ARGUMENTS = "dropped_invalid_arguments"


class LLMError(RuntimeError):
    """The model could not produce a usable answer (provider down, repeated malformed calls).

    What the failed call did spend and get wrong travels with the error: the invalid tool calls
    and repairs of the attempts before it gave up, and the tokens reported. A benchmark or a run
    log that only read them off returned messages lost every invalid call of a model call that
    then failed (measured: 6 of 9 calls valid, printed as validity 1.0).
    """

    def __init__(
        self,
        message: str,
        *,
        invalid_tool_calls: list[dict[str, Any]] | None = None,
        repairs: list[dict[str, Any]] | None = None,
        usage: dict[str, int] | None = None,
    ) -> None:
        super().__init__(message)
        self.invalid_tool_calls: list[dict[str, Any]] = list(invalid_tool_calls or [])
        self.repairs: list[dict[str, Any]] = list(repairs or [])
        self.usage: dict[str, int] = dict(usage or {})


class ToolDefinition(BaseModel):
    """What a model is told about one tool: the JSON schema of its pydantic input."""

    name: str
    description: str
    parameters: dict[str, Any] = Field(description="JSON schema of the arguments.")
    input_model: type[BaseModel] | None = Field(default=None, exclude=True, repr=False)
    lenient: bool = Field(
        default=False,
        exclude=True,
        description="An invalid optional argument is dropped (its default used, the model told) "
        "instead of refusing the call: for read tools, never for proposals.",
    )

    @classmethod
    def from_model(cls, name: str, description: str, model: type[BaseModel]) -> ToolDefinition:
        return cls(
            name=name,
            description=description,
            parameters=model.model_json_schema(),
            input_model=model,
        )

    def openai_schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


@runtime_checkable
class ChatModel(Protocol):
    """Turns a conversation and the tools on offer into the next assistant message."""

    name: str

    def invoke(self, messages: Sequence[BaseMessage], tools: Sequence[ToolDefinition]) -> AIMessage:
        """The next assistant message; its ``tool_calls`` name only tools from ``tools``."""
        ...
