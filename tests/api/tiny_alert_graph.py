"""A miniature alert_response: propose one order, ask for approval, record the decision.

It keeps the Approval row the way the real flow does, so the REST decision path, four-eyes and
the worker can be tested without the forecasting and optimisation stacks.
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

#: Rain at or above this asks a human; the order's value is 1,000 CNY per mm.
ASK_ABOVE_MM = 30.0


class AlertState(TypedDict, total=False):
    alert: dict[str, Any]
    approval_id: str | None
    outcome: str


def build_tiny_alert_graph(engine: Engine, checkpointer: BaseCheckpointSaver) -> CompiledStateGraph:
    def propose(state: AlertState, config: RunnableConfig) -> AlertState:
        alert = state["alert"]
        if alert["mm"] < ASK_ABOVE_MM:
            return {"approval_id": None, "outcome": "auto-approved"}
        run_id = config["configurable"]["run_id"]
        approval_id = f"AP-TO-{alert['external_id']}"
        with Session(engine) as session:
            if session.get(Approval, approval_id) is None:
                session.add(
                    Approval(
                        id=approval_id,
                        subject_type="transfer_order",
                        subject_id=f"TO-{alert['external_id']}",
                        run_id=run_id,
                        thread_id=config["configurable"]["thread_id"],
                        status=ApprovalStatus.PENDING,
                        requested_by=config["configurable"]["principal"]["name"],
                        policy_rule="transfer.auto_approve.max_value_per_order",
                        requested_at=utcnow(),
                        payload={"value": alert["mm"] * 1000},
                    )
                )
                session.commit()
        return {"approval_id": approval_id}

    def await_decision(state: AlertState) -> AlertState:
        if not state.get("approval_id"):
            return {}
        subject = state["approval_id"].removeprefix("AP-")
        answer = interrupt(
            {
                "action_requests": [
                    {"name": "transfer_order", "args": {"subject_id": subject}, "description": "x"}
                ],
                "review_configs": [{"action_name": "transfer_order"}],
            }
        )
        decision = answer["decisions"][0]["type"]
        who = answer["principal"]["name"]
        with Session(engine) as session:
            approval = session.get(Approval, state["approval_id"])
            approval.status = (
                ApprovalStatus.APPROVED if decision == "approve" else ApprovalStatus.REJECTED
            )
            approval.decided_by = who
            approval.decided_at = utcnow()
            session.add(approval)
            session.commit()
        return {"outcome": f"{decision} by {who}"}

    graph = StateGraph(AlertState)
    graph.add_node("propose", propose)
    graph.add_node("await_decision", await_decision)
    graph.add_edge(START, "propose")
    graph.add_edge("propose", "await_decision")
    graph.add_edge("await_decision", END)
    return graph.compile(checkpointer=checkpointer)
