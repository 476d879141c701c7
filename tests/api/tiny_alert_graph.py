"""A miniature alert_response: propose orders, ask for approval, record the decisions.

It keeps Approval rows so alert admission and the worker can be tested without the forecasting
and optimisation stacks; approvals themselves are tested on the real graphs
(``test_approvals.py``, ``test_authority_table.py``, ``test_attacks.py``). Rain at or above
``ASK_ABOVE_MM`` proposes one order that needs a human, at or above ``TWO_ORDERS_MM`` two of
them in one interrupt; each order is worth 1,000 CNY per mm.
"""

from __future__ import annotations

from typing import Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import interrupt
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.run_store import utcnow
from inventory.models import Approval, ApprovalStatus

ASK_ABOVE_MM = 30.0
TWO_ORDERS_MM = 100.0


class AlertState(TypedDict, total=False):
    alert: dict[str, Any]
    approval_ids: list[str]
    answer: dict[str, Any]
    outcome: str


def build_tiny_alert_graph(engine: Engine, checkpointer: BaseCheckpointSaver) -> CompiledStateGraph:
    def propose(state: AlertState, config: RunnableConfig) -> AlertState:
        alert = state["alert"]
        if alert["mm"] < ASK_ABOVE_MM:
            return {"approval_ids": [], "outcome": "auto-approved"}
        orders = 2 if alert["mm"] >= TWO_ORDERS_MM else 1
        suffixes = [""] if orders == 1 else ["-1", "-2"]
        approval_ids = [f"AP-TO-{alert['external_id']}{s}" for s in suffixes]
        with Session(engine) as session:
            for approval_id in approval_ids:
                if session.get(Approval, approval_id) is not None:
                    continue
                session.add(
                    Approval(
                        id=approval_id,
                        subject_type="transfer_order",
                        subject_id=approval_id.removeprefix("AP-"),
                        run_id=config["configurable"]["run_id"],
                        thread_id=config["configurable"]["thread_id"],
                        status=ApprovalStatus.PENDING,
                        requested_by=config["configurable"]["principal"]["name"],
                        policy_rule="transfer.auto_approve.max_value_per_order",
                        requested_at=utcnow(),
                        payload={"value": alert["mm"] * 1000},
                    )
                )
            session.commit()
        return {"approval_ids": approval_ids}

    def await_decision(state: AlertState) -> AlertState:
        approval_ids = state.get("approval_ids") or []
        if not approval_ids:
            return {}
        answer = interrupt(
            {
                "action_requests": [
                    {
                        "name": "transfer_order",
                        "args": {"subject_id": a.removeprefix("AP-")},
                        "description": f"order {a}",
                    }
                    for a in approval_ids
                ],
                "review_configs": [{"action_name": "transfer_order"}],
            }
        )
        return {"answer": answer}

    def record(state: AlertState) -> AlertState:
        # Its own node, after the interrupt's: a resumed node re-runs from its start, so a
        # write after interrupt() in the same node would be repeated (DESIGN §4).
        answer = state.get("answer")
        if not answer:
            return {}
        approval_ids = state.get("approval_ids") or []
        who = answer["principal"]["name"]
        verdicts = []
        with Session(engine) as session:
            for approval_id, decision in zip(approval_ids, answer["decisions"], strict=True):
                approval = session.get(Approval, approval_id)
                approval.status = (
                    ApprovalStatus.APPROVED
                    if decision["type"] == "approve"
                    else ApprovalStatus.REJECTED
                )
                approval.decided_by = who
                approval.decided_at = utcnow()
                approval.comment = decision.get("message")
                session.add(approval)
                verdicts.append(decision["type"])
            session.commit()
        return {"outcome": f"{', '.join(verdicts)} by {who}"}

    graph = StateGraph(AlertState)
    graph.add_node("propose", propose)
    graph.add_node("await_decision", await_decision)
    graph.add_node("record", record)
    graph.add_edge(START, "propose")
    graph.add_edge("propose", "await_decision")
    graph.add_edge("await_decision", "record")
    graph.add_edge("record", END)
    return graph.compile(checkpointer=checkpointer)
