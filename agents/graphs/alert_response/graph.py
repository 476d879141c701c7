"""Wiring of alert_response: triage → scope → forecast → plan → propose → approval flow → report."""

from __future__ import annotations

from typing import Literal

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agents.graphs.alert_response.nodes import AlertNodes
from agents.graphs.alert_response.state import AlertInput, AlertState
from agents.graphs.common.flow import ApprovalFlow
from agents.runtime import AgentRuntime


def _after_triage(state: AlertState) -> Literal["scope", "report"]:
    return "scope" if state["triage"]["act"] else "report"


def _after_scope(state: AlertState) -> Literal["forecast", "promos", "report"]:
    if not state["scope"]["stores"]:
        return "report"
    return "promos" if state["triage"]["type"] == "overstock" else "forecast"


def _after_forecast(state: AlertState) -> Literal["plan", "report"]:
    forecast = state["forecast"]
    short = forecast.get("short_units", 0) > 0 or forecast.get("size_holes", 0) > 0
    return "plan" if short else "report"


def _after_plan(state: AlertState) -> Literal["propose", "report"]:
    return "propose" if state["plan"].get("shipments") else "report"


def _after_promos(state: AlertState) -> Literal["gate", "report"]:
    return "gate" if state.get("proposals") else "report"


def build_alert_response(
    runtime: AgentRuntime, checkpointer: BaseCheckpointSaver | None = None
) -> CompiledStateGraph:
    nodes, flow = AlertNodes(runtime), ApprovalFlow(runtime)
    graph = StateGraph(AlertState, input_schema=AlertInput)
    graph.add_node("triage", nodes.triage)
    graph.add_node("scope", nodes.scope)
    graph.add_node("forecast", nodes.forecast)
    graph.add_node("plan", nodes.plan)
    graph.add_node("promos", nodes.promos)
    graph.add_node("propose", nodes.propose)
    graph.add_node("report", nodes.report)

    graph.add_edge(START, "triage")
    graph.add_conditional_edges("triage", _after_triage)
    graph.add_conditional_edges("scope", _after_scope)
    graph.add_conditional_edges("forecast", _after_forecast)
    graph.add_conditional_edges("plan", _after_plan)
    graph.add_conditional_edges("promos", _after_promos)
    graph.add_edge("propose", "gate")
    flow.attach(graph, done="report")
    graph.add_edge("report", END)
    return graph.compile(checkpointer=checkpointer, name="alert_response")
