"""The retailer's own geography and catalogue vocabulary: regions, cities and categories.

They are rows, not code constants, so a retailer in Hangzhou that sells ski jackets is served
like the demo world: the demo generator writes its five cities and eleven categories here the
same way ``stockpilot import cities|categories`` writes a retailer's.
"""

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel


class Region(SQLModel, table=True):
    """A group of cities one DC usually serves (e.g. East / 华东)."""

    __tablename__ = "region"

    code: str = Field(primary_key=True, max_length=32)
    name_en: str
    name_zh: str


class City(SQLModel, table=True):
    """A city with stores; ``code`` is what locations and weather rows refer to."""

    __tablename__ = "city"

    code: str = Field(primary_key=True, max_length=64)
    name_en: str
    name_zh: str
    region: str = Field(foreign_key="region.code", index=True)
    lat: float
    lon: float
    weather_key: str | None = Field(
        default=None,
        description="Station or city key in the weather source; defaults to the city code.",
    )


class Category(SQLModel, table=True):
    """A merchandise category, its words in both languages, and how it reacts to rain."""

    __tablename__ = "category"

    code: str = Field(primary_key=True, max_length=48)
    name_en: str
    name_zh: str
    synonyms: list[str] = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False),
        description="Other words people use for it (English or Chinese), e.g. 雨鞋 for rain_boots.",
    )
    rain_sensitive: bool = Field(default=False, description="Demand rises on wet days.")
