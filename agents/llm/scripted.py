"""A chat model that replays a fixed script: the test double every agent test shares.

It ships with the product (as pydantic-ai's TestModel does) so anyone can drive a graph, including
a deliberately misbehaving "LLM", without a network.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from langchain_core.messages import AIMessage, BaseMessage

from agents.llm.base import LLMError, ToolDefinition

ScriptStep = AIMessage | Callable[[Sequence[BaseMessage]], AIMessage]


class ScriptedChatModel:
    """Returns the scripted messages in order; a step may be a function of the conversation."""

    name = "scripted"

    def __init__(self, steps: Sequence[ScriptStep]) -> None:
        self._steps = list(steps)
        self.calls: list[list[BaseMessage]] = []

    def invoke(self, messages: Sequence[BaseMessage], tools: Sequence[ToolDefinition]) -> AIMessage:
        self.calls.append(list(messages))
        if not self._steps:
            raise LLMError("scripted model ran out of steps")
        step = self._steps.pop(0)
        message = step(messages) if callable(step) else step
        return message.model_copy(deep=True)
