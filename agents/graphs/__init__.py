"""The LangGraph graphs: alert_response and ops_chat, and the approval flow they share."""
