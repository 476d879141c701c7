"""What we sell: styles with their ordered size runs, and SKUs (style × colour × size)."""

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel


class Style(SQLModel, table=True):
    __tablename__ = "style"

    code: str = Field(primary_key=True, max_length=32)
    name_en: str
    name_zh: str
    category: str = Field(index=True)
    season: str = Field(description="e.g. SS15, AW15, core")
    season_end: str | None = Field(default=None, description="ISO date the season ends.")
    price: float = Field(description="Full retail price, CNY.")
    cost: float = Field(description="Landed unit cost, CNY.")
    size_run: list[str] = Field(sa_column=Column(JSON, nullable=False))
    core_sizes: list[str] = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False),
        description="Sizes a store must keep as an unbroken run.",
    )
    rain_sensitive: bool = Field(default=False, index=True)


class Sku(SQLModel, table=True):
    __tablename__ = "sku"

    code: str = Field(primary_key=True, max_length=48)
    style_code: str = Field(foreign_key="style.code", index=True)
    colour: str
    size: str
    size_index: int = Field(description="Position in the style's ordered size run.")
