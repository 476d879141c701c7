"""The one small protocol every chat model adapter speaks.

Messages are LangChain messages so the ops_chat state is what agent-chat-ui and the
LangGraph-compatible API expect; tool calls come back on ``AIMessage.tool_calls``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from langchain_core.messages import AIMessage, BaseMessage
from pydantic import BaseModel, Field


class LLMError(RuntimeError):
    """The model could not produce a usable answer (provider down, repeated malformed calls)."""


class ToolDefinition(BaseModel):
    """What a model is told about one tool: the JSON schema of its pydantic input."""

    name: str
    description: str
    parameters: dict[str, Any] = Field(description="JSON schema of the arguments.")
    input_model: type[BaseModel] | None = Field(default=None, exclude=True, repr=False)

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
