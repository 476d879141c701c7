"""What to build (WorldSpec) and what was built (WorldSummary): the demo world's public models."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator

from inventory.demo_world.vocabulary import CITY_REGION, DEMO_VOCABULARY

#: The real weather covers these days; history and future must fit inside.
WEATHER_FIRST_DAY = dt.date(2010, 1, 1)
WEATHER_LAST_DAY = dt.date(2015, 12, 31)
DEFAULT_NOW = dt.datetime(2015, 7, 1, 9, 0)


class WorldSpec(BaseModel):
    """The knobs of one demo world; the same spec and seed always give the same world."""

    model_config = ConfigDict(frozen=True)

    seed: int = Field(default=7, ge=0)
    stores: int = Field(default=40, ge=1, le=500)
    styles: int = Field(default=80, ge=1, le=500)
    now: dt.datetime = Field(default=DEFAULT_NOW, description="The world's clock.")
    history_days: int = Field(default=730, ge=28, le=2000)
    future_days: int = Field(default=28, ge=1, le=90)
    cities: tuple[str, ...] = Field(
        default=tuple(CITY_REGION), description="Cities with stores; every region keeps its DC."
    )

    @field_validator("cities")
    @classmethod
    def _known_cities(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("cities must name at least one city")
        resolved = tuple(dict.fromkeys(DEMO_VOCABULARY.resolve_city(c) for c in value))
        return resolved

    @field_validator("now")
    @classmethod
    def _naive(cls, value: dt.datetime) -> dt.datetime:
        """The clock is local China time without a zone, like the weather data."""
        return value.replace(tzinfo=None)

    @property
    def history_start(self) -> dt.date:
        return self.now.date() - dt.timedelta(days=self.history_days)

    @property
    def future_end(self) -> dt.date:
        return self.now.date() + dt.timedelta(days=self.future_days - 1)

    def check_weather_window(self) -> None:
        """History and future must lie on real weather dates."""
        if self.history_start < WEATHER_FIRST_DAY or self.future_end > WEATHER_LAST_DAY:
            raise ValueError(
                f"now={self.now.isoformat()} with history_days={self.history_days} and "
                f"future_days={self.future_days} needs weather from {self.history_start} to "
                f"{self.future_end}; the data covers {WEATHER_FIRST_DAY} to {WEATHER_LAST_DAY}"
            )

    def dates(self) -> list[dt.date]:
        """History then future, one entry per day."""
        start = self.history_start
        return [start + dt.timedelta(days=i) for i in range(self.history_days + self.future_days)]


class WorldSummary(BaseModel):
    """What build_world wrote and how long it took."""

    database: str
    seed: int
    now: dt.datetime
    counts: dict[str, int] = Field(description="Rows per table.")
    seconds: dict[str, float] = Field(description="Wall time per phase.")
    size_bytes: int | None = Field(default=None, description="Database size after the build.")
    demand_units: int = Field(description="Uncensored demand over the history.")
    sold_units: int
    stockout_rate: float = Field(description="Share of carried store/online series-days out.")
    in_transit_units: int
    weather_cleaning: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="Per city: hours blanked, by field and reason."
    )
