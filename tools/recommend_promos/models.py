"""I/O of recommend_promos."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

Depth = Annotated[float, Field(gt=0, lt=1, description="Fraction off full price.")]


class PromoInput(BaseModel):
    city: str | None = None
    region: str | None = None
    category: str | None = None
    styles: list[str] = Field(default_factory=list)
    locations: list[str] = Field(default_factory=list)
    weeks_of_cover_threshold: float = Field(default=8.0, gt=0)
    ladder: list[Depth] = Field(
        default_factory=lambda: [0.1, 0.2, 0.3, 0.4, 0.5], min_length=1, max_length=10
    )
    limit: int = Field(default=50, ge=1, le=1000)
    limit_series: int | None = Field(
        default=None,
        ge=1,
        description="Refuse a request that needs more style-SKU × location forecasts than this "
        "(its cost grows with it); none: no limit.",
    )


class MarkdownOption(BaseModel):
    depth: float
    expected_extra_units: float
    expected_revenue: float
    margin_impact: float
    weeks_of_cover_after: float


class TransferAlternative(BaseModel):
    dest: str
    units: int
    expected_full_price_units: float
    transfer_cost: float
    net_value: float


class PromoRecommendation(BaseModel):
    style: str
    location: str | None
    category: str
    on_hand: int
    weeks_of_cover: float
    weeks_to_season_end: float | None
    elasticity: float
    elasticity_ci: tuple[float, float]
    options: list[MarkdownOption]
    recommended_depth: float | None
    transfer_alternative: TransferAlternative | None
    verdict: str = Field(description="markdown | transfer | hold, with the numbers behind it.")


class PromoOutput(BaseModel):
    as_of: str
    recommendations: list[PromoRecommendation]
    notes: list[str] = Field(default_factory=list)
