"""The model's context window, shared out: prompt and tool schemas, reply, history, tool results.

Every model call must fit ``context_tokens`` (``STOCKPILOT_LLM_CONTEXT_TOKENS``). The fixed part
(system prompt + tool schemas) is measured once; a reply reserve is kept back; what is left holds
the conversation, and one tool result may take a third of it (a turn usually reads two or three).
Older turns' tool results are the first to go (replaced by a one-line stub), then whole old turns.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from agents.graphs.ops_chat.compact import approx_tokens
from agents.llm.base import ToolDefinition

#: Tokens one tool result may take at least, however small the window (a page of a few rows).
MIN_RESULT_TOKENS = 250
#: Share of the free window one tool result may take.
RESULT_SHARE = 3


def prompt_tokens(system: str, tools: Sequence[ToolDefinition]) -> int:
    """Tokens of the system prompt plus the tool schemas, as sent on every call."""
    schemas = json.dumps([t.openai_schema() for t in tools], ensure_ascii=False)
    return approx_tokens(system) + approx_tokens(schemas)


@dataclass(frozen=True)
class ContextBudget:
    context_tokens: int
    fixed_tokens: int
    reply_tokens: int

    @classmethod
    def for_model(
        cls, context_tokens: int, fixed_tokens: int, max_output_tokens: int | None
    ) -> ContextBudget:
        reply = max_output_tokens or min(1024, context_tokens // 8)
        return cls(context_tokens=context_tokens, fixed_tokens=fixed_tokens, reply_tokens=reply)

    @property
    def history_tokens(self) -> int:
        """Tokens left for the conversation itself (messages after the system prompt)."""
        return max(MIN_RESULT_TOKENS, self.context_tokens - self.fixed_tokens - self.reply_tokens)

    @property
    def tool_result_tokens(self) -> int:
        return max(MIN_RESULT_TOKENS, self.history_tokens // RESULT_SHARE)


def message_tokens(message: BaseMessage) -> int:
    calls = json.dumps(getattr(message, "tool_calls", None) or [], ensure_ascii=False)
    return approx_tokens(message.text) + (approx_tokens(calls) if calls != "[]" else 0) + 4


def _stub(message: ToolMessage) -> ToolMessage:
    return message.model_copy(
        update={"content": f"[earlier result of {message.name or 'a tool'} left out to save room]"}
    )


def fit_history(messages: Sequence[BaseMessage], budget: int) -> list[BaseMessage]:
    """``messages`` within ``budget`` tokens: the current turn whole where possible, earlier tool
    results stubbed, then the oldest turns dropped (never splitting a call from its result)."""
    fitted = list(messages)
    if sum(message_tokens(m) for m in fitted) <= budget:
        return fitted
    last_human = max((i for i, m in enumerate(fitted) if isinstance(m, HumanMessage)), default=0)
    fitted = [
        _stub(m) if isinstance(m, ToolMessage) and i < last_human else m
        for i, m in enumerate(fitted)
    ]
    while sum(message_tokens(m) for m in fitted) > budget:
        starts = [i for i, m in enumerate(fitted) if isinstance(m, HumanMessage)]
        if len(starts) < 2:
            break
        fitted = fitted[starts[1] :]  # drop the oldest turn
    if sum(message_tokens(m) for m in fitted) > budget:
        # The current turn alone overflows: its older results become stubs, the newest stays.
        results = [i for i, m in enumerate(fitted) if isinstance(m, ToolMessage)]
        for i in results[:-1]:
            fitted[i] = _stub(fitted[i])  # type: ignore[arg-type]
    return fitted


def turn_of(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    """The messages after the last human message (this turn's calls, results and answers)."""
    for index in range(len(messages) - 1, -1, -1):
        if isinstance(messages[index], HumanMessage):
            return list(messages[index + 1 :])
    return []


def turn_call_ids(messages: Sequence[BaseMessage]) -> set[str]:
    return {
        call["id"] or ""
        for m in turn_of(messages)
        if isinstance(m, AIMessage)
        for call in m.tool_calls
    }
