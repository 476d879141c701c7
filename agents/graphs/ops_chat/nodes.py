"""ops_chat nodes: the model's turn, the tools, and proposals handed to the approval flow."""

from __future__ import annotations

import json
from typing import Any, Literal

from langchain_core.messages import AIMessage, SystemMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from pydantic import ValidationError

from agents.graphs.common.orders import (
    ProposalInvalid,
    create_markdown,
    create_transfer,
    price_shipment,
)
from agents.graphs.ops_chat.compact import compact_json
from agents.graphs.ops_chat.prompts import SYSTEM_PROMPT
from agents.graphs.ops_chat.state import ChatState
from agents.llm.base import LLMError, ToolDefinition
from agents.proposals import (
    PROPOSE_MARKDOWN,
    PROPOSE_TRANSFER,
    MarkdownProposalInput,
    TransferProposalInput,
    proposal_tools,
)
from agents.runtime import AgentRuntime
from inventory.db import session_scope
from tools.context import ToolError
from tools.registry import TOOLS

#: Model turns per user message before the loop stops and says so.
MAX_STEPS_PER_TURN = 8
#: Tool results are cut here so one huge lookup cannot flood the model's context.
MAX_TOOL_RESULT_CHARS = 60_000


def chat_tools() -> list[ToolDefinition]:
    """Read tools from the registry, plus the two proposal tools; no tool writes directly."""
    read = [
        ToolDefinition.from_model(spec.name, spec.description, spec.input_model)
        for spec in TOOLS.values()
        if spec.kind == "read"
    ]
    return read + proposal_tools()


class ChatNodes:
    def __init__(self, runtime: AgentRuntime) -> None:
        self.runtime = runtime
        self.tools = chat_tools()

    def agent(self, state: ChatState, config: RunnableConfig) -> ChatState:
        configurable = config.get("configurable", {})
        thread_id = str(configurable.get("thread_id", ""))
        messages = state.get("messages") or []
        last = messages[-1] if messages else None
        steps = 0 if last is not None and last.type == "human" else state.get("steps", 0)
        update: ChatState = {
            "thread_id": thread_id,
            "run_id": state.get("run_id") or str(configurable.get("run_id") or thread_id),
        }
        if steps >= MAX_STEPS_PER_TURN:
            update["messages"] = [
                AIMessage(
                    f"Stopped after {steps} tool steps without a final answer; nothing "
                    "more was done. Please narrow the question."
                )
            ]
            return update
        system = SystemMessage(SYSTEM_PROMPT.format(now=self.runtime.clock().isoformat()))
        try:
            reply = self.runtime.llm.invoke([system, *messages], self.tools)
        except LLMError as exc:
            reply = AIMessage(f"The language model failed, so nothing was done: {exc}")
        update["messages"] = [reply]
        update["steps"] = steps + 1
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
        messages: list[ToolMessage] = []
        proposals = []
        for call in last.tool_calls:
            name, call_id = call["name"], call["id"] or ""
            if name in (PROPOSE_TRANSFER, PROPOSE_MARKDOWN):
                requested_by = str(config.get("configurable", {}).get("requested_by") or "ops_chat")
                records, error = self._propose(state, name, call["args"], call_id, requested_by)
                proposals.extend(records)
                if error:
                    messages.append(_tool_error(name, call_id, error))
                continue
            spec = TOOLS.get(name)
            if spec is None or spec.kind != "read":
                messages.append(_tool_error(name, call_id, f"unknown tool {name!r}"))
                continue
            try:
                output = spec.run(ctx, call["args"])
            except (ToolError, ValidationError, ValueError) as exc:
                messages.append(_tool_error(name, call_id, str(exc)))
                continue
            content = compact_json(output.model_dump(mode="json"), MAX_TOOL_RESULT_CHARS)
            messages.append(ToolMessage(content=content, tool_call_id=call_id, name=name))
        return {"messages": messages, "proposals": proposals}

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
            return [], f"proposal not made: {exc}"
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
                    **outcome,
                }
            )
        messages = [
            ToolMessage(
                content=json.dumps({"proposals": items}, default=str),
                tool_call_id=origin,
                name=PROPOSE_TRANSFER
                if items[0]["subject_id"].startswith("TO")
                else PROPOSE_MARKDOWN,
            )
            for origin, items in by_origin.items()
        ]
        return {"messages": messages}


def _tool_error(name: str, call_id: str, error: str) -> ToolMessage:
    return ToolMessage(content=f"error: {error}", tool_call_id=call_id, name=name, status="error")
