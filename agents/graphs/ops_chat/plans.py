"""Proposing a plan by its id: ``propose_transfer(plan_id=...)`` in chat.

Measured with Qwen2.5-Coder-1.5B (chat-plan-rain-zh, issue 15): asked to plan rain-boot
transfers for a rainstorm, it called ``plan_transfers`` with the rain, got a plan that moves
units, and stopped -- nothing was proposed, so nothing reached the policy gate. Copying a plan's
shipments (codes, lines, quantities) into ``propose_transfer`` is the step a small model does
not take, and the step where any model can drop or invent a line. So in chat a plan result
carries its ``plan_id`` (the tool call's id) and says what to do next, and ``propose_transfer``
takes ``plan_id`` instead of ``shipments``: the shipments proposed are the plan's own, read from
the result the tool returned (kept whole on the tool message's ``artifact``, whatever the budget
showed the model). Nothing else changes: every shipment is priced from the pool and judged by
the policy gate like any other proposal.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from pydantic import BaseModel, Field

from agents.llm.offline_parse import parse_request
from agents.proposals import PROPOSE_TRANSFER, ProposedShipment
from inventory.vocabulary import Vocabulary

PLAN_TOOL = "plan_transfers"
PLAN_ID = "plan_id"
__all__ = [
    "PROPOSE_TRANSFER",
    "ChatTransferProposal",
    "asked_to_plan",
    "graph_proposal",
    "unproposed_plan",
    "with_plan",
]
#: The repair kind of a plan the graph proposed because the user asked for transfers.
PROPOSED_PLAN = "proposed_plan"
#: Said to the model once, when it answers with a plan of this turn still unproposed.
ASK_TO_PROPOSE = (
    "(Stockpilot) Plan {plan_id} moves units but is not proposed, so it has not reached the "
    "policy gate. If the user asked for these transfers, propose it now: reply with only "
    '{{"name": "propose_transfer", "arguments": {{"plan_id": "{plan_id}"}}}}. Otherwise '
    "repeat your answer."
)


class ChatTransferProposal(BaseModel):
    """Propose transfer orders (a plan's by plan_id, or shipments); nothing moves until the
    policy gate, and above its limits an approver, says yes."""

    # plan_id first: a small model fills a schema's first fields
    plan_id: str | None = Field(default=None, description="A plan_transfers result's plan_id.")
    shipments: list[ProposedShipment] = Field(default_factory=list, max_length=200)
    reason: str = Field(default="", description="Why, in one sentence, for the approver.")
    emergency: bool = Field(default=False, description="Weather emergency: approvals lapse sooner.")


def plan_shipments(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """A plan result's shipments as ``propose_transfer`` takes them (source, dest, lines)."""
    return [
        {
            "source": s["source"],
            "dest": s["dest"],
            "lines": [{"sku": ln["sku"], "qty": ln["qty"]} for ln in s.get("lines") or []],
        }
        for s in payload.get("shipments") or []
        if s.get("source") and s.get("dest") and s.get("lines")
    ]


def new_plan_id(messages: Sequence[BaseMessage]) -> str:
    """The next plan's id in this conversation: P1, P2, ... -- short for a small model to copy,
    and the same in a replay (a tool call's id is not)."""
    return f"P{len(_plans(messages)) + 1}"


def _id_of(message: ToolMessage) -> str:
    return str(message.artifact.get(PLAN_ID) or message.tool_call_id)


def next_step(plan_id: str, payload: dict[str, Any]) -> str | None:
    """What a model reads after a plan that moves units: it is not proposed yet, and how."""
    if not plan_shipments(payload):
        return None
    return (
        "Nothing is proposed yet. To send this plan to the policy gate, call "
        f'propose_transfer(plan_id="{plan_id}"), then tell the user the plan\'s figures and '
        "what the gate decided."
    )


def _plans(messages: Sequence[BaseMessage]) -> list[ToolMessage]:
    """The conversation's plan results that move units, latest first."""
    return [
        m
        for m in reversed(messages)
        if isinstance(m, ToolMessage)
        and m.name == PLAN_TOOL
        and m.status != "error"
        and isinstance(m.artifact, dict)
        and m.artifact.get("shipments")
    ]


def with_plan(
    args: dict[str, Any], messages: Sequence[BaseMessage]
) -> tuple[dict[str, Any], str | None]:
    """``propose_transfer`` arguments with a plan's shipments in place of ``plan_id``, and an
    error when there is nothing to propose. A ``plan_id`` of the conversation means that plan's
    shipments (any shipments given beside it are ignored). One the conversation does not have --
    a small model fills the schema's first field with "12345" or "plan_transfers" -- is ignored
    when shipments are given (they are proposed and checked like any), and otherwise means the
    conversation's latest plan."""
    plan_id = args.get(PLAN_ID)
    rest = {k: v for k, v in args.items() if k != PLAN_ID}
    plans = _plans(messages)
    named = next(
        (m for m in plans if plan_id and str(plan_id) in (_id_of(m), m.tool_call_id)), None
    )
    if named is None and rest.get("shipments"):
        return rest, None
    chosen = named or (plans[0] if plans else None)
    if chosen is None:
        return rest, (
            "no shipments given, and no plan that moves units to propose. Next: pass shipments "
            "(source, dest, lines of sku and qty, with codes that exist), or call plan_transfers "
            "first"
        )
    return {**rest, "shipments": chosen.artifact["shipments"]}, None


def unproposed_plan(messages: Sequence[BaseMessage]) -> str | None:
    """The id of this turn's latest plan that moves units when no proposal call of the turn
    came after it; None otherwise."""
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            return None
        if isinstance(message, AIMessage) and any(
            c["name"] == PROPOSE_TRANSFER for c in message.tool_calls
        ):
            return None
        if (
            isinstance(message, ToolMessage)
            and message.name == PLAN_TOOL
            and isinstance(message.artifact, dict)
            and message.artifact.get("shipments")
        ):
            return _id_of(message)
    return None


def asked_to_plan(question: str, vocabulary: Vocabulary) -> bool:
    """Whether the user's message asks for transfers to be planned ("plan transfers for the
    rain", "帮我规划雨靴调拨"), read as the offline planner reads it -- which plans and then
    proposes the plan. One reading of such a request, whichever model answers it."""
    return parse_request(question, vocabulary).intent == "plan"


def graph_proposal(reply: AIMessage, plan_id: str, question: str, message_id: str) -> AIMessage:
    """The model's final answer, turned into ``propose_transfer(plan_id=...)`` of this turn's
    unproposed plan: the user asked for transfers, and a plan that moves units is proposed to
    the policy gate, as the offline planner does.

    Measured with Qwen2.5-Coder-1.5B (chat-plan-rain-zh, 2026-12-06): asked "帮我规划雨靴调拨"
    for a rainstorm, it planned and then recited the result's ``next`` step ("To send this plan
    to the policy gate, call propose_transfer(plan_id="P1") ...") as its answer -- and again when
    asked to propose (1 of 4 trials proposed). The shipments are the plan's own, priced from the
    pool and judged by the gate like any proposal: within the policy's limits they run on their
    own, as the offline planner's proposal for the same request would; above them an approver
    decides. The model's text is kept (``response_metadata["answer"]``), the
    step is recorded as a repair (``proposed_plan``), and the model answers after the gate."""
    repairs = list(reply.response_metadata.get("repairs") or [])
    repairs.append(
        {
            "attempt": 0,
            "kind": PROPOSED_PLAN,
            "detail": (
                f"the user asked for transfers and the model answered with plan {plan_id} "
                f"unproposed: proposed to the policy gate by the graph; the model's answer was "
                f"{reply.text[:200]!r}"
            ),
        }
    )
    call = {
        "name": PROPOSE_TRANSFER,
        "args": {PLAN_ID: plan_id, "reason": f"transfer plan asked in chat: {question[:200]}"},
        "id": f"call_graph_{uuid.uuid4().hex[:12]}",
        "type": "tool_call",
    }
    metadata = {
        **reply.response_metadata,
        "proposed_by": "graph",
        "graph_proposed": plan_id,
        "answer": reply.text,
        "repairs": repairs,
    }
    return reply.model_copy(
        update={
            "id": reply.id or message_id,
            "content": "",
            "tool_calls": [call],
            "response_metadata": metadata,
        }
    )
