"""ops_chat state: LangChain messages (what agent-chat-ui shows) plus the approval flow's keys."""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages

from agents.graphs.common.state import ProposalRecord, append_list, merge_dicts


class ChatState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    run_id: str
    thread_id: str
    steps: int
    turn_tokens: int
    turn_model_s: float
    fallback: bool
    fallback_note: str | None
    proposals: Annotated[list[ProposalRecord], append_list]
    judged: Annotated[dict[str, Any], merge_dicts]
    outcomes: Annotated[dict[str, Any], merge_dicts]
    pending: list[str]
    review_notes: dict[str, str]
    decisions: dict[str, Any] | None
    run_totals: dict[str, Any]
    dispatch: dict[str, Any]


class ChatInput(TypedDict, total=False):
    """What a run's input may write: new messages only. The approval flow's keys (proposals,
    verdicts, decisions, run totals) are written by the graph's own nodes and nothing else."""

    messages: Annotated[list[AnyMessage], add_messages]
