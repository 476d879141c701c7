"""What happened (sales, weather) and what would have happened (future demand, for replay)."""

import datetime as dt

from sqlmodel import Field, SQLModel


class DailySales(SQLModel, table=True):
    """Observed sales: censored by stock-outs, so ``stockout`` days understate demand."""

    __tablename__ = "daily_sales"

    location_code: str = Field(foreign_key="location.code", primary_key=True)
    sku_code: str = Field(foreign_key="sku.code", primary_key=True)
    date: dt.date = Field(primary_key=True, index=True)
    units: int
    price: float
    promo: bool = False
    stockout: bool = False


class FutureDemand(SQLModel, table=True):
    """Uncensored demand after the world's 'now'; read only by the eval harness for replay."""

    __tablename__ = "future_demand"

    location_code: str = Field(foreign_key="location.code", primary_key=True)
    sku_code: str = Field(foreign_key="sku.code", primary_key=True)
    date: dt.date = Field(primary_key=True, index=True)
    units: int


class WeatherHourly(SQLModel, table=True):
    __tablename__ = "weather_hourly"

    city: str = Field(primary_key=True)
    ts: dt.datetime = Field(primary_key=True)
    precipitation_mm: float | None = None
    temp_c: float | None = None
    humidity: float | None = None
    quality: str = Field(default="ok", description="ok | missing | clipped")


class WeatherDaily(SQLModel, table=True):
    __tablename__ = "weather_daily"

    city: str = Field(primary_key=True)
    date: dt.date = Field(primary_key=True, index=True)
    precipitation_mm: float
    max_hourly_mm: float = 0.0
    temp_mean_c: float | None = None
    temp_min_c: float | None = None
    temp_max_c: float | None = None
    rain_band: str = Field(description="none | light | moderate | heavy | rainstorm (CMA)")
    hours_observed: int = 24
