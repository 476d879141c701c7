"""Chat-model adapters behind one protocol (``base``): the openai client (``openai_adapter``),
the offline planner (``offline``), a scripted model (``scripted``); ``factory`` picks one."""

from agents.llm.base import ChatModel, LLMError, ToolDefinition

__all__ = ["ChatModel", "LLMError", "ToolDefinition"]
