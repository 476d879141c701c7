"""ops_chat nodes: the model's turn, the tools, and proposals handed to the approval flow."""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any, Literal

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from pydantic import ValidationError
from sqlmodel import select

from agents.executor.audit import record_event
from agents.graphs.common.orders import (
    ProposalInvalid,
    create_markdown,
    create_transfer,
    price_shipment,
)
from agents.graphs.ops_chat.arguments import (
    drop_unasked_weather,
    resolve_arguments,
    scope_to_category,
    tidy_arguments,
    widen_to_category,
    widen_to_city,
)
from agents.graphs.ops_chat.budget import ContextBudget, prompt_tokens
from agents.graphs.ops_chat.compact import (
    PAGE_ARG,
    UNBOUNDED_RESULT_TOKENS,
    dumps,
    summarise,
)
from agents.graphs.ops_chat.grounded import NOT_PROPOSED, answer_line, language, refusal_detail
from agents.graphs.ops_chat.plans import (
    PLAN_ID,
    PLAN_TOOL,
    asked_to_plan,
    new_plan_id,
    next_step,
    plan_shipments,
    with_plan,
)
from agents.graphs.ops_chat.prompts import SYSTEM_PROMPT
from agents.graphs.ops_chat.schemas import chat_tools, with_examples
from agents.graphs.ops_chat.state import ChatState
from agents.graphs.ops_chat.turn import TurnControl
from agents.graphs.ops_chat.vocabulary import example_codes, vocabulary_line
from agents.llm import offline_answers as answers
from agents.llm.base import DROPPED_ARGUMENTS, ToolDefinition
from agents.proposals import (
    PROPOSE_MARKDOWN,
    PROPOSE_TRANSFER,
    MarkdownProposalInput,
    TransferProposalInput,
)
from agents.runtime import AgentRuntime
from inventory.db import session_scope
from inventory.models import AuditEvent
from inventory.vocabulary import vocabulary_of
from tools.context import ToolError
from tools.names import NameResolver
from tools.registry import TOOLS

__all__ = ["ChatNodes", "chat_tools"]


class ChatNodes:
    def __init__(self, runtime: AgentRuntime) -> None:
        self.runtime = runtime
        self._vocabulary: str | None = None
        self.turns = TurnControl(runtime)

    @cached_property
    def tools(self) -> list[ToolDefinition]:
        """The chat's tools with example codes of this pool; read on first use, not when the
        graph is built (a service may start before its pool holds anything)."""
        return with_examples(chat_tools(), example_codes(self.runtime.engine))

    def system_prompt(self) -> str:
        if self._vocabulary is None:  # read once: the pool's master data rarely changes
            self._vocabulary = vocabulary_line(self.runtime.engine)
        return SYSTEM_PROMPT.format(
            now=self.runtime.clock().isoformat(), vocabulary=self._vocabulary
        )

    def budget(self) -> ContextBudget | None:
        """The model's context budget; None for a model without a window (offline, scripted)."""
        context = getattr(self.runtime.llm, "context_tokens", None)
        if not context:
            return None
        fixed = prompt_tokens(self.system_prompt(), self.tools)
        return ContextBudget.for_model(
            context, fixed, getattr(self.runtime.llm, "max_output_tokens", None)
        )

    def agent(self, state: ChatState, config: RunnableConfig) -> ChatState:
        configurable = config.get("configurable", {})
        thread_id = str(configurable.get("thread_id", ""))
        update: ChatState = {
            "thread_id": thread_id,
            "run_id": state.get("run_id") or str(configurable.get("run_id") or thread_id),
        }
        system = SystemMessage(self.system_prompt())
        update.update(self.turns.step(state, system, self.tools, self.budget()))
        return update

    @staticmethod
    def route_after_agent(state: ChatState) -> Literal["tools", "__end__"]:
        last = (state.get("messages") or [None])[-1]
        return "tools" if isinstance(last, AIMessage) and last.tool_calls else "__end__"

    def tools_node(self, state: ChatState, config: RunnableConfig) -> ChatState:
        """Run read tools; turn proposal calls into gate records; answer every call exactly once."""
        last = state["messages"][-1]
        assert isinstance(last, AIMessage)
        ctx = self.runtime.tool_context()
        budget = None if state.get("fallback") else self.budget()
        messages: list[ToolMessage] = []
        proposals = []
        ignored = _ignored_arguments(last)
        question = next(
            (m.text for m in reversed(state["messages"]) if isinstance(m, HumanMessage)), ""
        )
        said = "\n".join(m.text for m in state["messages"] if isinstance(m, HumanMessage))
        for call in last.tool_calls:
            name, call_id = call["name"], call["id"] or ""
            args = dict(call["args"])
            page = _page(args.pop(PAGE_ARG, 1))
            if name == PROPOSE_TRANSFER:  # a plan's id stands for its shipments (``plans``)
                args, problem = with_plan(args, state["messages"])
                if problem:
                    messages.append(_proposal_refused(name, call_id, problem, question))
                    continue
            try:
                with ctx.read() as session:
                    names, spec = NameResolver(session), TOOLS.get(name)
                    moved: dict[str, str] = {}
                    if spec is not None and spec.kind == "read":
                        accepted = spec.input_model.model_fields
                        args, moved = tidy_arguments(args, names, accepted)
                        args, widened = widen_to_city(args, question, names, accepted)
                        moved |= widened
                        args, widened = widen_to_category(args, question, names, accepted)
                        moved |= widened
                        args, widened = scope_to_category(args, question, names, accepted)
                        moved |= widened
                        args, widened = drop_unasked_weather(args, said, names, accepted)
                        moved |= widened
                    args, resolved = resolve_arguments(args, names)
                    resolved = {**moved, **resolved}
            except ToolError as exc:
                if name in (PROPOSE_TRANSFER, PROPOSE_MARKDOWN):
                    messages.append(_proposal_refused(name, call_id, str(exc), question))
                else:
                    messages.append(_tool_error(name, call_id, str(exc)))
                continue
            if name in (PROPOSE_TRANSFER, PROPOSE_MARKDOWN):
                requested_by = str(config.get("configurable", {}).get("requested_by") or "ops_chat")
                records, error = self._propose(state, name, args, call_id, requested_by)
                proposals.extend(records)
                if error:
                    messages.append(_proposal_refused(name, call_id, error, question))
                continue
            spec = TOOLS.get(name)
            if spec is None or spec.kind != "read":
                known = ", ".join(t.name for t in self.tools)
                messages.append(_tool_error(name, call_id, f"unknown tool {name!r}; use {known}"))
                continue
            try:
                output = spec.run(ctx, args)
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                    for e in exc.errors(include_url=False)
                )
                messages.append(
                    _tool_error(
                        name, call_id, f"invalid arguments ({problems}); fix and call again"
                    )
                )
                continue
            except (ToolError, ValueError) as exc:
                messages.append(_tool_error(name, call_id, _with_next_step(name, str(exc))))
                continue
            payload = output.model_dump(mode="json")
            if resolved:
                payload = {"resolved_names": resolved, **payload}
            if call_id in ignored:
                payload = {"ignored_arguments": ignored[call_id], **payload}
            artifact: dict[str, Any] = {"args": args}
            if name == PLAN_TOOL and (
                step := next_step(plan_id := new_plan_id(state["messages"]), payload)
            ):
                # No instructions when the user asked for transfers: the graph proposes the
                # plan (``plans.graph_proposal``), and a small model recites them as its answer.
                asked = asked_to_plan(question, vocabulary_of(self.runtime.engine))
                payload = {PLAN_ID: plan_id, **({} if asked else {"next": step}), **payload}
                # whole, whatever is shown
                artifact.update({PLAN_ID: plan_id, "shipments": plan_shipments(payload)})
            if budget is None:
                content = summarise(name, payload, UNBOUNDED_RESULT_TOKENS, page, for_model=False)
            else:
                answer = answer_line(
                    name, args, payload, language(question), vocabulary_of(self.runtime.engine)
                )
                shown = {"answer": answer, **payload} if answer else payload
                content = summarise(name, shown, budget.tool_result_tokens, page)
            self._audit_full_result(state, name, call_id, args, payload, content)
            # The arguments it ran with (tidied, names resolved), for an answer built from it;
            # a plan's shipments, for propose_transfer(plan_id=...).
            messages.append(
                ToolMessage(content=content, tool_call_id=call_id, name=name, artifact=artifact)
            )
        return {"messages": messages, "proposals": proposals}

    def _audit_full_result(
        self,
        state: ChatState,
        name: str,
        call_id: str,
        args: dict[str, Any],
        payload: dict[str, Any],
        content: str,
    ) -> None:
        """The full result of a summarised call, for the API and the audit trail (once per call)."""
        if len(content) >= len(dumps(payload)):
            return
        with session_scope(self.runtime.engine) as session:
            seen = session.exec(
                select(AuditEvent.id).where(
                    AuditEvent.kind == "tool.result", AuditEvent.subject_id == call_id
                )
            ).first()
            if seen is None:
                record_event(
                    session,
                    kind="tool.result",
                    actor="ops_chat",
                    at=self.runtime.clock(),
                    subject_type="tool_call",
                    subject_id=call_id,
                    run_id=state.get("run_id"),
                    payload={"tool": name, "args": args, "result": payload},
                )

    def _propose(
        self, state: ChatState, name: str, args: dict[str, Any], call_id: str, requested_by: str
    ) -> tuple[list[Any], str | None]:
        run_id = state.get("run_id") or ""
        now = self.runtime.clock()
        try:
            with session_scope(self.runtime.engine) as session:
                if name == PROPOSE_TRANSFER:
                    proposal = TransferProposalInput.model_validate(args)
                    records = [
                        create_transfer(
                            session,
                            price_shipment(session, shipment),
                            key=f"chat:{call_id}:{index}",
                            run_id=run_id,
                            requested_by=requested_by,
                            reason=proposal.reason or "proposed in chat",
                            emergency=proposal.emergency,
                            origin=call_id,
                            at=now,
                        )
                        for index, shipment in enumerate(proposal.shipments)
                    ]
                else:
                    markdown = MarkdownProposalInput.model_validate(args)
                    records = [
                        create_markdown(
                            session,
                            markdown,
                            key=f"chat:{call_id}:0",
                            run_id=run_id,
                            requested_by=requested_by,
                            origin=call_id,
                            at=now,
                        )
                    ]
        except (ValidationError, ProposalInvalid, ValueError) as exc:
            return [], (
                f"proposal not made: {exc}. Next: check codes with list_locations / "
                "list_catalog / stock_lookup and propose again"
            )
        return records, None

    @staticmethod
    def route_after_tools(state: ChatState) -> Literal["gate", "agent"]:
        judged = state.get("judged") or {}
        fresh = any(p["subject_id"] not in judged for p in state.get("proposals") or [])
        return "gate" if fresh else "agent"

    def proposal_results(self, state: ChatState) -> ChatState:
        """One tool message per proposal call, saying what became of each of its proposals."""
        answered = {m.tool_call_id for m in state["messages"] if isinstance(m, ToolMessage)}
        outcomes = state.get("outcomes") or {}
        by_origin: dict[str, list[dict[str, Any]]] = {}
        for record in state.get("proposals") or []:
            origin = record.get("origin")
            if not origin or origin in answered:
                continue
            outcome = outcomes.get(record["subject_id"], {"status": "pending"})
            by_origin.setdefault(origin, []).append(
                {
                    "subject_id": record["subject_id"],
                    "summary": record.get("summary", ""),
                    # the facts behind the summary, so an answer can say it in the user's language
                    "facts": proposal_facts(record),
                    **outcome,
                }
            )
        question = next(
            (m.text for m in reversed(state["messages"]) if isinstance(m, HumanMessage)), ""
        )
        lang = language(question)
        messages = []
        for origin, items in by_origin.items():
            name = PROPOSE_TRANSFER if items[0]["subject_id"].startswith("TO") else PROPOSE_MARKDOWN
            payload: dict[str, Any] = {"proposals": items}
            # What became of each proposal in words, first (as a plan's or a lookup's answer
            # line): measured with Qwen2.5-Coder-1.5B (chat-plan-rain-zh), the model proposed a
            # plan, replied empty, and the nudge quoting the results' answers had only the
            # plan's totals to give -- its answer named no order.
            answer = answers.render_proposals(payload, lang)
            payload = {"answer": answer, **payload} if answer else payload
            messages.append(
                ToolMessage(
                    content=json.dumps(payload, default=str), tool_call_id=origin, name=name
                )
            )
        return {"messages": messages}


def _with_next_step(name: str, error: str) -> str:
    """A tool's own error, with what to do next when it does not say."""
    if "Next:" in error:
        return error
    return (
        f"{error}. Next: correct that argument and call {name} again; list_locations and "
        "list_catalog list the valid cities, locations, categories and styles"
    )


def _ignored_arguments(message: AIMessage) -> dict[str, dict[str, str]]:
    """Per tool call id: the invalid optional arguments the adapter dropped, each with a note
    the model reads in the result (defaults were used instead)."""
    out: dict[str, dict[str, str]] = {}
    for repair in message.response_metadata.get("repairs") or []:
        if repair.get("kind") != DROPPED_ARGUMENTS or not repair.get("call_id"):
            continue
        out[str(repair["call_id"])] = {
            field: f"ignored, the default was used ({why})"
            for field, why in (repair.get("arguments") or {}).items()
        }
    return out


def _page(value: Any) -> int:
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return 1


def _proposal_refused(name: str, call_id: str, error: str, question: str) -> ToolMessage:
    """A proposal refused before the gate, as a result with an ``answer`` for the user.

    Measured with Qwen2.5-Coder-1.5B (chat-injection-en/-zh): after propose_transfer was refused
    (an invented SKU), it answered the user with a sentence of the error's advice ("To cover
    every SKU of style RB001, pass style='RB001'."). A small model copies a result's ``answer``
    (stock and forecast results open with one); so a refusal opens with the sentence a person
    should read -- nothing was proposed or moved, why, and that every transfer goes through the
    policy gate -- in the user's language, without codes the model made up. The error and the
    next step for the model follow it."""
    lang = language(question)
    detail = refusal_detail(error, question)
    content = {
        "answer": NOT_PROPOSED[lang].format(tool=name, detail=detail),
        "error": error.split(" Next:", 1)[0],
        "next": "if the request is a real transfer, propose again with codes that exist (did "
        "you mean ... above; list_catalog / stock_lookup); otherwise answer the user with the "
        "answer above",
    }
    return ToolMessage(
        content=json.dumps(content, ensure_ascii=False),
        tool_call_id=call_id,
        name=name,
        status="error",
    )


def _tool_error(name: str, call_id: str, error: str) -> ToolMessage:
    return ToolMessage(content=f"error: {error}", tool_call_id=call_id, name=name, status="error")


def proposal_facts(record: dict[str, Any]) -> dict[str, Any]:
    """What a proposal moves or changes, in numbers and codes (no prose)."""
    args = (record.get("action") or {}).get("args") or {}
    facts = {
        "kind": record.get("kind"),
        "units": record.get("units"),
        "value": record.get("value"),
        "cost": record.get("cost"),
        "net_value": record.get("net_value"),
        "depth": record.get("depth"),
    }
    for key in ("source", "dest", "style", "location", "city"):
        if args.get(key) is not None:
            facts[key] = args[key]
    return {k: v for k, v in facts.items() if v is not None}
