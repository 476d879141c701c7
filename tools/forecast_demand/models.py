"""I/O of forecast_demand."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator


class RainScenario(BaseModel):
    """Weather to assume in the horizon instead of the stored weather forecast (e.g. an alert)."""

    city: str
    start: dt.date
    days: int = Field(default=1, ge=1, le=28)
    precipitation_mm_per_day: float = Field(ge=0, le=1000)


class ForecastInput(BaseModel):
    """Forecast daily demand. Give SKUs or a style (optionally narrowed by location/city/category).
    Quantiles default to P10/P50/P90."""

    skus: list[str] = Field(default_factory=list, description="SKU codes.")
    style: str | None = Field(default=None, description="Style code: forecast its SKUs.")
    category: str | None = None
    locations: list[str] = Field(default_factory=list, description="Location codes.")
    city: str | None = None
    level: Literal["sku", "style"] = Field(
        default="sku", description="sku, or style (sizes added up)."
    )
    horizon_days: int = Field(default=14, ge=1, le=28)
    quantiles: list[Annotated[float, Field(gt=0, lt=1)]] = Field(
        default_factory=lambda: [0.1, 0.5, 0.9], min_length=1, max_length=9
    )
    rain: list[RainScenario] = Field(default_factory=list, description="Weather overrides.")
    limit_series: int = Field(default=2000, ge=1, le=200_000)


class ForecastPoint(BaseModel):
    date: dt.date
    mean: float
    quantiles: dict[str, float] = Field(description="'p10' → units, 'p50' → units, ...")
    baseline: float | None = Field(
        default=None, description="Weather-free demand of the day (mean = baseline × rain_uplift)."
    )
    rain_uplift: float | None = Field(
        default=None,
        description="Multiplier for the day's weather: the alert's band, else the expectation "
        "over the city's climatology for the date.",
    )


class BandUplift(BaseModel):
    band: str
    band_zh: str
    uplift: float = Field(description="Demand multiplier on a day of this band vs a dry day.")
    days: int = Field(description="Past days of this band the estimate rests on (this city).")
    own_weight: float = Field(description="Share of this city's own estimate after pooling.")
    pooled_uplift: float = Field(description="The category × channel value across cities.")
    pooled_days: int = Field(description="City-days of this band behind the pooled value.")
    level: str = Field(description="city | category (no data in this city) | none")


class RainExplanation(BaseModel):
    city: str
    category: str
    channel: str
    bands: list[BandUplift]
    explanation: str
    exposure: dict[str, float] | None = Field(
        default=None,
        description="Online only: city → weight of the rain its customers are exposed to (each "
        "city's share of the pool's store sales); the online uplift mixes the cities' bands.",
    )


class HorizonWeatherDay(BaseModel):
    city: str
    date: dt.date
    source: str = Field(description="scenario (alert / weather forecast input) | climatology")
    precipitation_mm: float | None
    band: str | None
    band_probability: dict[str, float]


class HorizonPromo(BaseModel):
    """A promo the retailer planned for the horizon, known at the clock: its days' forecasts
    carry its lift (the day's promo flag and price, as in the history)."""

    style: str
    location: str | None = Field(description="None: every location.")
    start: dt.date
    end: dt.date = Field(description="Last promo day, inclusive.")
    depth: float = Field(description="Discount as a fraction of the regular price.")
    planned_at: dt.datetime


class SeriesForecast(BaseModel):
    location: str
    sku: str | None = Field(description="None at style level.")
    style: str
    points: list[ForecastPoint]
    total_mean: float
    total_quantiles: dict[str, float] = Field(
        description="Quantiles of the total demand over the whole horizon (not a sum of daily "
        "quantiles); what plan_transfers builds E[min(S, D)] from."
    )
    baseline_mean: float | None = Field(
        default=None, description="Weather-free demand over the horizon (sum of daily baselines)."
    )
    rain_uplift: float | None = Field(
        default=None, description="total_mean ÷ baseline_mean: the weather's effect."
    )
    rain: RainExplanation | None = None


class ForecastTotals(BaseModel):
    """Over every series of the answer: what "how much will sell" is, even when a reader (a
    small model's context budget) sees only the first series of a page."""

    series: int
    mean: float = Field(description="Sum of the series' total_mean over the horizon.")
    baseline_mean: float | None = Field(
        default=None, description="Sum of the series' weather-free baselines, when known."
    )


class LocationForecast(BaseModel):
    location: str
    series: int
    mean: float


class ForecastOutput(BaseModel):
    as_of: str
    model: str = Field(description="Which model produced it, with version.")
    horizon_days: int
    totals: ForecastTotals
    by_location: list[LocationForecast] = Field(
        default_factory=list,
        description="Per location over every series (when more than one location).",
    )
    backtest: dict[str, float] = Field(description="The model's backtest errors (rmsse, mase...).")
    sales_through: dt.date | None = Field(
        default=None,
        description="The pool's newest day with recorded sales before the clock. Days after it "
        "are not imported yet and were read as unknown, not as days that sold nothing.",
    )
    weather_through: dt.date | None = Field(
        default=None,
        description="The newest history day on which every city of the forecast has a weather "
        "observation. Days after it (a weather feed that lags the sales) were read at their "
        "climatology, not as dry days.",
    )
    series: list[SeriesForecast]
    weather: list[HorizonWeatherDay] = Field(
        default_factory=list,
        description="What the horizon's weather was taken to be, per city and day: never the "
        "stored observation after the clock.",
    )
    promos: list[HorizonPromo] = Field(
        default_factory=list,
        description="Planned promos of the answer's styles in the horizon, made before the "
        "clock; the horizon's other days are at the regular price.",
    )

    @model_validator(mode="before")
    @classmethod
    def _with_totals(cls, data: Any) -> Any:
        """Totals and per-location subtotals computed from the series (one place, every caller)."""
        if not isinstance(data, dict) or "totals" in data:
            return data
        rows = [s if isinstance(s, dict) else s.model_dump() for s in data.get("series") or []]
        baselines = [r.get("baseline_mean") for r in rows]
        by_location: dict[str, list[float]] = {}
        for row in rows:
            by_location.setdefault(row["location"], []).append(float(row["total_mean"]))
        totals = {
            "series": len(rows),
            "mean": round(sum(float(r["total_mean"]) for r in rows), 3),
            "baseline_mean": round(sum(baselines), 3)  # type: ignore[arg-type]
            if rows and all(b is not None for b in baselines)
            else None,
        }
        subtotals = [
            {"location": loc, "series": len(means), "mean": round(sum(means), 3)}
            for loc, means in sorted(by_location.items(), key=lambda kv: -sum(kv[1]))
        ]
        return {**data, "totals": totals, "by_location": subtotals if len(subtotals) > 1 else []}
