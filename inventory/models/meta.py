"""Facts about the world as a whole (its clock, seed, generator parameters)."""

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel


class WorldMeta(SQLModel, table=True):
    __tablename__ = "world_meta"

    key: str = Field(primary_key=True)
    value: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
