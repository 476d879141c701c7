"""The LangGraph-Platform-compatible subset that langgraph-sdk and agent-chat-ui speak."""
