"""The routing policy as data: ``routing.yaml`` (shipped defaults) or ``settings.routing_file``."""

from __future__ import annotations

import functools
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tools.plan_transfers.models import TransferConstraints

DEFAULT_ROUTING_FILE = Path(__file__).with_name("routing.yaml")
_TRANSFER = TransferConstraints()


class RoutingSettingsError(ValueError):
    """The routing file is missing, unreadable or breaks the schema."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ByKind(_Strict):
    dc: float = Field(ge=0)
    online: float = Field(ge=0)
    store: float = Field(ge=0)

    def of(self, kind: str) -> float:
        return float(getattr(self, kind, self.dc))


class StockHealth(_Strict):
    sales_days: int = Field(default=28, ge=1, le=365)
    target_cover_days: float = Field(default=30.0, gt=0)
    value_share: float = Field(default=0.05, ge=0, le=1)
    #: The most a parcel's stock health may move the score, either way (CNY). Stock health is
    #: a preference, not money spent: uncapped, a slow seller's credit (5 % of a ¥600 price is
    #: ¥30 a unit) bought ¥3-4 dearer parcels on a third of the orders, and even parcels from a
    #: store in another city. Capped below a store's pick/pack premium, it picks among nodes
    #: that cost about the same and never outbids a clearly cheaper or faster one.
    max_per_parcel: float = Field(default=2.0, ge=0)


class Protection(_Strict):
    """Defaults are the transfer planner's, so both protect a store the same way."""

    protect_days: int = Field(default=3, ge=0, le=28)
    keep_size_run: bool = _TRANSFER.keep_size_run
    min_consecutive_core_sizes: int = Field(default=_TRANSFER.min_consecutive_core_sizes, ge=1)


class StoreLimits(_Strict):
    daily_capacity_orders: int = Field(default=40, ge=0)
    capacity_overrides: dict[str, int] = Field(default_factory=dict)
    max_share_per_day: float = Field(default=0.10, gt=0, le=1)
    share_floor_orders: int = Field(default=3, ge=0)
    in_store_channels: list[str] = Field(
        default_factory=lambda: ["store", "pos"],
        description="Channels that sell over the counter: a store's day limits never close them.",
    )

    def capacity(self, location: str) -> int:
        return self.capacity_overrides.get(location, self.daily_capacity_orders)


class RoutingSettings(_Strict):
    ship_from_store: bool = True
    parcel_share_of_trip: float = Field(default=0.05, ge=0, le=1)
    pick_pack_cost: ByKind = ByKind(dc=3.0, online=3.0, store=6.0)
    handling_hours: ByKind = ByKind(dc=12.0, online=8.0, store=4.0)
    late_penalty_per_hour: float = Field(default=2.0, ge=0)
    split_penalty: float = Field(default=8.0, ge=0)
    stock_health: StockHealth = StockHealth()
    protection: Protection = Protection()
    stores: StoreLimits = StoreLimits()
    reservation_ttl_hours: float = Field(default=72.0, gt=0, le=24 * 14)
    day_timezone: str = "Asia/Shanghai"

    @field_validator("day_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.day_timezone)


@functools.lru_cache(maxsize=8)
def _load(path: Path) -> RoutingSettings:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise RoutingSettingsError(f"cannot read routing file {path}: {error}") from error
    try:
        return RoutingSettings.model_validate(raw)
    except ValidationError as error:
        raise RoutingSettingsError(f"routing file {path}: {error}") from error


@functools.lru_cache(maxsize=8)
def load_routing_settings(path: Path | None = None) -> RoutingSettings:
    """The settings at ``path``, or the shipped defaults when None (read once per process, as
    ``_load``; cached by the path as given too: every availability request asks)."""
    return _load((path or DEFAULT_ROUTING_FILE).resolve())
