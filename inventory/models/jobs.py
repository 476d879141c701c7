"""A service's background job (demo world build, forecaster fit), recorded in the pool so a
restarted or a second process can still report it (``/v1/jobs``); see ``api/jobs.py``."""

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel


class JobRecord(SQLModel, table=True):
    __tablename__ = "job"

    id: str = Field(primary_key=True, max_length=40)
    kind: str = Field(max_length=32)
    title: str
    status: str = Field(index=True, max_length=16)
    progress: float = 0.0
    message: str = ""
    #: ``host:pid:jobs-nonce`` of the process that runs it (a dead one's jobs are interrupted).
    owner: str = Field(max_length=200)
    created_at: datetime = Field(index=True)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    updated_at: datetime
    result: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    error: str | None = None
