"""ops_chat: a tool-calling loop over the read-only tools; changes only as gated proposals."""

from agents.graphs.ops_chat.graph import build_ops_chat

__all__ = ["build_ops_chat"]
