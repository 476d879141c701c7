"""One chat turn under control: steps, tokens and time are bounded, failures are said plainly.

When the model fails (provider error, repeated unusable output, budget spent), the turn says so
and, with ``STOCKPILOT_LLM_FALLBACK=offline`` (the default), the offline planner answers the
request if it can parse it, continuing the same turn with its own tool calls. A final answer that
claims an action no tool performed is replaced by what actually happened (``claims``); one that
misreads the turn's tool results (a figure no tool returned, a recited call, an echoed error, no
words at all) is replaced by the answer from those results (``grounded``,
``STOCKPILOT_LLM_GROUNDED_ANSWERS``), or, when no result answers anything, handled as a failure.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from agents.executor.audit import record_event
from agents.graphs.ops_chat import claims, grounded, plans
from agents.graphs.ops_chat.budget import ContextBudget, fit_history, turn_call_ids
from agents.graphs.ops_chat.state import ChatState
from agents.llm import tokens
from agents.llm.base import ChatModel, LLMError, ToolDefinition
from agents.llm.factory import make_chat_model
from agents.llm.offline import OfflinePlanner
from agents.llm.offline_parse import parse_request
from inventory.db import session_scope
from inventory.vocabulary import vocabulary_of

if TYPE_CHECKING:
    from agents.runtime import AgentRuntime

#: Model turns per user message before the loop stops and says so.
MAX_STEPS_PER_TURN = 8
FALLBACK = "offline"


def _last_human(messages: Sequence[BaseMessage]) -> int | None:
    for index in range(len(messages) - 1, -1, -1):
        if isinstance(messages[index], HumanMessage):
            return index
    return None


def _question(messages: Sequence[BaseMessage]) -> str:
    human = _last_human(messages)
    return messages[human].text if human is not None else ""


def offline_view(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    """The conversation as the offline planner should see it in a fallback: up to the user's
    message, then only its own calls and their results (the failed model's are left out)."""
    start = _last_human(messages)
    if start is None:
        return list(messages)
    own = {
        call["id"]
        for m in messages[start + 1 :]
        if isinstance(m, AIMessage) and m.response_metadata.get("fallback") == FALLBACK
        for call in m.tool_calls
    }
    turn = [
        m
        for m in messages[start + 1 :]
        if (isinstance(m, AIMessage) and m.response_metadata.get("fallback") == FALLBACK)
        or (isinstance(m, ToolMessage) and m.tool_call_id in own)
    ]
    return [*messages[: start + 1], *turn]


def offline_planner(runtime: AgentRuntime) -> ChatModel:
    """The offline planner as the factory builds it for this runtime (the fallback's model)."""
    if isinstance(runtime.llm, OfflinePlanner):
        return runtime.llm
    without_llm = runtime.settings.model_copy(update={"llm_base_url": None, "llm_model": None})
    return make_chat_model(without_llm, runtime.clock, partial(vocabulary_of, runtime.engine))


class TurnControl:
    def __init__(self, runtime: AgentRuntime) -> None:
        self.runtime = runtime
        self.offline = offline_planner(runtime)

    def step(
        self,
        state: ChatState,
        system: SystemMessage,
        tools: Sequence[ToolDefinition],
        budget: ContextBudget | None,
    ) -> dict[str, Any]:
        settings = self.runtime.settings
        messages = state.get("messages") or []
        fresh = bool(messages) and isinstance(messages[-1], HumanMessage)
        turn: dict[str, Any] = {
            "steps": 0 if fresh else state.get("steps", 0),
            "turn_tokens": 0 if fresh else state.get("turn_tokens", 0),
            "turn_model_s": 0.0 if fresh else state.get("turn_model_s", 0.0),
            "fallback": False if fresh else state.get("fallback", False),
            "fallback_note": None if fresh else state.get("fallback_note"),
        }
        if turn["steps"] >= MAX_STEPS_PER_TURN * (2 if turn["fallback"] else 1):
            if turn["fallback"]:  # the planner never loops; this only bounds a bug
                note = f"Stopped after {turn['steps']} steps without a final answer."
                return {**turn, "fallback": False, "messages": [AIMessage(note)]}
            return self._failed(
                state, system, tools, turn, f"stopped after {turn['steps']} model steps"
            )
        if turn["fallback"]:
            return self._offline_step(state, system, tools, turn)
        if turn["turn_tokens"] >= settings.llm_turn_max_tokens:
            return self._failed(
                state,
                system,
                tools,
                turn,
                f"this turn used {turn['turn_tokens']} tokens, its budget is "
                f"{settings.llm_turn_max_tokens} (STOCKPILOT_LLM_TURN_MAX_TOKENS)",
            )
        spent = turn["turn_model_s"]
        if spent >= settings.llm_turn_timeout_s:
            return self._failed(
                state,
                system,
                tools,
                turn,
                f"this turn spent {spent:.0f} s in the model, its budget is "
                f"{settings.llm_turn_timeout_s:g} s (STOCKPILOT_LLM_TURN_TIMEOUT_S)",
            )
        if (
            budget is not None
            and budget.fixed_tokens + budget.reply_tokens >= budget.context_tokens
        ):
            return self._failed(
                state,
                system,
                tools,
                turn,
                f"the model's window ({budget.context_tokens} tokens) cannot hold the prompt and "
                f"tool schemas ({budget.fixed_tokens}) plus a reply ({budget.reply_tokens}); serve "
                "a larger context and set STOCKPILOT_LLM_CONTEXT_TOKENS to it",
            )
        history = fit_history(messages, budget.history_tokens) if budget else list(messages)
        started = time.perf_counter()
        # Streamed tokens (if a client watches) and the message that replaces them share this id.
        message_id = f"run--{uuid.uuid4()}"
        try:
            with tokens.streaming_to(message_id):
                reply = self.runtime.llm.invoke([system, *history], tools)
        except LLMError as exc:
            turn["turn_tokens"] += int(exc.usage.get("total_tokens", 0))
            return self._failed(
                state, system, tools, turn, str(exc), message_id=message_id, error=exc
            )
        finally:
            # Time in the model only: a turn that waits hours for an approver is not "slow".
            turn["turn_model_s"] += time.perf_counter() - started
        if reply.id is None:
            reply = reply.model_copy(update={"id": message_id})
        usage = reply.usage_metadata or {}
        turn["turn_tokens"] += int(usage.get("total_tokens", 0))
        turn["steps"] += 1
        if not reply.tool_calls and (plan_id := plans.unproposed_plan(messages)) is not None:
            question = _question(messages)
            if plans.asked_to_plan(question, vocabulary_of(self.runtime.engine)):
                reply = plans.graph_proposal(reply, plan_id, question, message_id)
            else:
                reply = self._ask_to_propose(
                    system, history, tools, turn, reply, plan_id, message_id
                )
        if not reply.tool_calls and self.runtime.llm.name != self.offline.name:
            checked = self._checked_claim(state, reply)
            if checked is reply:
                return self._grounded(state, system, tools, turn, reply)
            reply = checked
        return {**turn, "messages": [reply]}

    def _ask_to_propose(
        self,
        system: SystemMessage,
        history: Sequence[BaseMessage],
        tools: Sequence[ToolDefinition],
        turn: dict[str, Any],
        reply: AIMessage,
        plan_id: str,
        message_id: str,
    ) -> AIMessage:
        """The model answered with a plan that moves units still unproposed: ask it once whether
        to propose it (``plans.ASK_TO_PROPOSE``). Its call to propose replaces the answer; any
        other reply (or a failure) leaves the answer as it was. The model decides, the gate
        judges: nothing is proposed for it.

        Measured with Qwen2.5-Coder-1.5B (chat-plan-rain-zh): asked to plan transfers for a
        rainstorm, it planned, copied the plan's answer line and stopped; the plan never
        reached the gate though its result said how to propose it."""
        started = time.perf_counter()
        ask = HumanMessage(plans.ASK_TO_PROPOSE.format(plan_id=plan_id))
        try:
            with tokens.streaming_to(message_id):
                again = self.runtime.llm.invoke([system, *history, reply, ask], tools)
        except LLMError as exc:
            turn["turn_tokens"] += int(exc.usage.get("total_tokens", 0))
            return reply
        finally:
            turn["turn_model_s"] += time.perf_counter() - started
        turn["turn_tokens"] += int((again.usage_metadata or {}).get("total_tokens", 0))
        turn["steps"] += 1
        proposes = [c for c in again.tool_calls if c["name"] == plans.PROPOSE_TRANSFER]
        if not proposes:
            return reply
        metadata = {**again.response_metadata, "asked_to_propose": plan_id, "answer": reply.text}
        return again.model_copy(
            update={"id": message_id, "tool_calls": proposes, "response_metadata": metadata}
        )

    def _grounded(
        self,
        state: ChatState,
        system: SystemMessage,
        tools: Sequence[ToolDefinition],
        turn: dict[str, Any],
        reply: AIMessage,
    ) -> dict[str, Any]:
        """The model's final answer if it holds against this turn's tool results; else the
        answer from those results (the offline planner's words), saying that and why; else, when
        no result answers anything, the model's failure (and the offline fallback)."""
        messages = state.get("messages") or []
        question = _question(messages)
        repairs = list(reply.response_metadata.get("repairs") or [])
        results = grounded.turn_results(messages)
        words = vocabulary_of(self.runtime.engine)
        if self.runtime.settings.llm_grounded_answers:
            intent = parse_request(question, words).intent
            seen = "\n".join(
                [system.text, *(m.text for m in messages if not isinstance(m, AIMessage))]
            )
            verdict = grounded.judge(
                reply.text,
                question,
                results,
                intent=intent,
                repairs=repairs,
                seen=seen,
                known_codes=words.location_codes,
            )
        else:  # unchecked, except that an answer must say something
            verdict = grounded.Verdict("wordless") if grounded.wordless(reply.text) else None
        if verdict is None:
            return {**turn, "messages": [reply]}
        lang = grounded.language(question)
        body = (
            grounded.render_turn(results, lang, words, question)
            if self.runtime.settings.llm_grounded_answers
            else None
        )
        record = {
            "replaced_answer": reply.text,
            "grounding": verdict.code,
            "repairs": [
                *repairs,
                {
                    "attempt": 0,
                    "kind": grounded.REPLACED,
                    "detail": f"{verdict.reason('en')}: {reply.text[:300]!r}",
                },
            ],
        }
        self._audit_replaced(state, verdict, reply.text, answered=body is not None)
        if body is None:
            return self._failed(
                state,
                system,
                tools,
                turn,
                verdict.reason(lang),
                message_id=reply.id,
                metadata=record,
            )
        metadata = {**reply.response_metadata, **record}
        content = grounded.replacement(verdict, body, lang)
        return {
            **turn,
            "messages": [
                reply.model_copy(update={"content": content, "response_metadata": metadata})
            ],
        }

    def _audit_replaced(
        self, state: ChatState, verdict: grounded.Verdict, text: str, *, answered: bool
    ) -> None:
        """An audit row for each replaced answer: what the model said and why it did not stand."""
        run_id = state.get("run_id") or state.get("thread_id") or ""
        with session_scope(self.runtime.engine) as session:
            record_event(
                session,
                kind="chat.answer_replaced",
                actor="ops_chat",
                at=self.runtime.clock(),
                subject_type="run",
                subject_id=run_id,
                run_id=state.get("run_id"),
                payload={
                    "reason": verdict.code,
                    "detail": verdict.reason("en"),
                    "model_answer": text[:2000],
                    "answered_from": "tool results" if answered else "model failure path",
                },
            )

    def _checked_claim(self, state: ChatState, reply: AIMessage) -> AIMessage:
        happened = self._happened(state)
        fixed = claims.correction(reply.text, happened, state.get("messages") or [])
        if fixed is None:
            return reply
        metadata = {**reply.response_metadata, "replaced_claim": reply.text}
        return reply.model_copy(update={"content": fixed, "response_metadata": metadata})

    def _happened(self, state: ChatState) -> list[tuple[str, str, str]]:
        subjects = claims.turn_subjects(
            state.get("proposals") or [], turn_call_ids(state.get("messages") or [])
        )
        return claims.what_happened(self.runtime.engine, subjects)

    def _failed(
        self,
        state: ChatState,
        system: SystemMessage,
        tools: Sequence[ToolDefinition],
        turn: dict[str, Any],
        reason: str,
        *,
        message_id: str | None = None,
        error: LLMError | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Say that the model failed; the offline planner answers when it can. ``metadata``
        (a replaced answer's record) stays on the message that says so."""
        messages = state.get("messages") or []
        human = _last_human(messages)
        text = messages[human].text if human is not None else ""
        zh = any("\u4e00" <= ch <= "\u9fff" for ch in text)
        note = (
            f"语言模型未能完成本轮对话：{reason}。"
            if zh
            else f"The language model failed in this turn: {reason}."
        )
        can_parse = parse_request(text, vocabulary_of(self.runtime.engine)).intent != "help"
        happened = self._happened(state)
        # Not after the model proposed something this turn: the planner would propose it again.
        if (
            self.runtime.settings.llm_fallback == FALLBACK
            and self.runtime.llm is not self.offline
            and can_parse
            and human is not None
            and not happened
        ):
            note += " 以下由离线规划器回答：" if zh else " The offline planner answers instead:"
            turn.update(fallback=True, fallback_note=note)
            return self._offline_step(
                state, system, tools, turn, message_id=message_id, metadata=metadata
            )
        if happened:
            rows = [f"- {sid} ({desc}): {status}" for sid, status, desc in happened]
            note += "\n" + ("本轮实际情况：" if zh else "What happened this turn:") + "\n"
            note += "\n".join(rows)
        else:
            note += " 本轮未做任何变更。" if zh else " Nothing was done in this turn."
        # The failed call's invalid tool calls and repairs stay on the record (run tool calls).
        failed: dict[str, Any] = {**(metadata or {}), "llm_failed": reason}
        if error is not None and error.repairs:
            failed["repairs"] = error.repairs
        reply = AIMessage(
            note,
            id=message_id,
            invalid_tool_calls=error.invalid_tool_calls if error is not None else [],
            response_metadata=failed,
        )
        return {**turn, "messages": [reply]}

    def _offline_step(
        self,
        state: ChatState,
        system: SystemMessage,
        tools: Sequence[ToolDefinition],
        turn: dict[str, Any],
        *,
        message_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        view = offline_view(state.get("messages") or [])
        reply = self.offline.invoke([system, *view], tools)
        content = reply.content
        if not reply.tool_calls and turn.get("fallback_note"):
            content = f"{turn['fallback_note']}\n\n{reply.text}"
        update: dict[str, Any] = {
            "content": content,
            "response_metadata": {**(metadata or {}), "fallback": FALLBACK},
        }
        if message_id is not None and reply.id is None:  # replaces what the model streamed
            update["id"] = message_id
        reply = reply.model_copy(update=update)
        turn["steps"] += 1
        return {**turn, "messages": [reply]}
