"""Conversation threads of the LangGraph-compatible API; a thread exists before its first run."""

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel


class AgentThread(SQLModel, table=True):
    """The thread's own record; its graph state lives in the LangGraph checkpointer."""

    __tablename__ = "agent_thread"

    id: str = Field(primary_key=True, max_length=64)
    assistant_id: str | None = Field(default=None, description="Set by the thread's first run.")
    status: str = Field(default="idle", index=True, description="idle | busy | interrupted | error")
    created_by: str = "system"
    thread_metadata: dict = Field(
        default_factory=dict, sa_column=Column("metadata", JSON, nullable=False)
    )
    created_at: datetime
    updated_at: datetime = Field(index=True)
