"""Wiring of ops_chat: agent ⇄ tools, and proposals through the shared approval flow."""

from __future__ import annotations

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agents.graphs.common.flow import ApprovalFlow
from agents.graphs.ops_chat.nodes import ChatNodes
from agents.graphs.ops_chat.state import ChatInput, ChatState
from agents.runtime import AgentRuntime


def build_ops_chat(
    runtime: AgentRuntime, checkpointer: BaseCheckpointSaver | None = None
) -> CompiledStateGraph:
    nodes, flow = ChatNodes(runtime), ApprovalFlow(runtime)
    graph = StateGraph(ChatState, input_schema=ChatInput)
    graph.add_node("agent", nodes.agent)
    graph.add_node("tools", nodes.tools_node)
    graph.add_node("proposal_results", nodes.proposal_results)

    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", nodes.route_after_agent)
    graph.add_conditional_edges("tools", nodes.route_after_tools)
    flow.attach(graph, done="proposal_results")
    graph.add_edge("proposal_results", "agent")
    return graph.compile(checkpointer=checkpointer, name="ops_chat")
