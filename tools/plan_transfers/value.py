"""The one definition of what a transfer is worth (DESIGN §3), used by the optimiser, the tool
output, the approval card and the eval KPIs.

Value of a stock change at a position (before freight) =
    margin × (change in units sold) − unsold cost × (units received that do not sell),
where margin = list price × the location's tier price factor − unit cost (so an outlet's 30 % off
is counted), and the unsold cost per unit is the return freight (the cheapest lane out of the
destination) plus a markdown share of the destination's price, per category. A plan's net value
is the sum over the positions it touches minus its freight (per trip + per unit).

The planner feeds expected changes (E[min(S, D)] differences); the eval replay feeds the changes
realised against the demand that came. Both build their per-position numbers with
``position_economics``, so the two cannot drift apart. The terms are data (a YAML file), not code.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

if TYPE_CHECKING:
    from tools.plan_transfers.problem import LaneArrays, LocationNode, SkuNode

DEFAULT_VALUE_TERMS_FILE = Path(__file__).with_name("value_terms.yaml")


class ValueTermsError(ValueError):
    """The value-terms file is missing, unreadable or breaks the schema."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UnsoldRisk(_Strict):
    """What one moved unit that does not sell in the window costs."""

    return_freight: bool = Field(
        default=True,
        description="Ship it back: the per-unit cost of the cheapest lane out of the destination.",
    )
    markdown_share: float = Field(
        default=0.0, ge=0, le=1, description="Share of its destination price lost to clear it."
    )


class UnsoldTerms(_Strict):
    default: UnsoldRisk = UnsoldRisk()
    by_category: dict[str, UnsoldRisk] = Field(default_factory=dict)

    def for_category(self, category: str) -> UnsoldRisk:
        return self.by_category.get(category, self.default)


class AlertVerification(_Strict):
    """How far a rain alert is taken at its word (``hit_rate.alert_hit_rate``)."""

    prior_hit_rate: float = Field(
        default=1.0,
        ge=0,
        le=1,
        description="Probability that a warned rain falls, before the pool has alert history.",
    )
    prior_alerts: float = Field(
        default=10.0,
        ge=0,
        description="Weight of the prior, in alerts: the pool's record moves the estimate as it "
        "grows past this many verified/failed alerts.",
    )
    max_false_alarm_loss: float | None = Field(
        default=None,
        ge=0,
        description="Most an alert's plan may lose, in yuan, if not a drop of the warned rain "
        "falls (every window day at 0 mm in the warned city): a plan that would lose more is "
        "made again at a lower hit rate until it does not (tools/plan_transfers/false_alarm.py). "
        "None: no bound.",
    )


class ValueTerms(_Strict):
    version: int = Field(default=1, ge=1)
    alert_verification: AlertVerification = AlertVerification()
    price_factor_by_tier: dict[str, float] = Field(
        default_factory=dict,
        description="Selling price ÷ list price per location tier (missing tiers sell at list).",
    )
    unsold: UnsoldTerms = UnsoldTerms()

    def price_factor(self, tier: str) -> float:
        return float(self.price_factor_by_tier.get(tier, 1.0))


#: Terms that count revenue only (no cost, no risk): what synthetic problems without a catalogue
#: cost get when nobody passes terms.
NEUTRAL_TERMS = ValueTerms(unsold=UnsoldTerms(default=UnsoldRisk(return_freight=False)))


@lru_cache(maxsize=8)
def _load(path: Path) -> ValueTerms:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueTermsError(f"cannot read value terms file {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ValueTermsError(f"value terms file {path} is not valid YAML: {exc}") from exc
    try:
        return ValueTerms.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
        raise ValueTermsError(f"value terms file {path} is invalid: {problems}") from exc


def load_value_terms(path: Path | None = None) -> ValueTerms:
    """The terms at ``path``, or the shipped default when None."""
    return _load((path or DEFAULT_VALUE_TERMS_FILE).resolve())


def return_freight_per_unit(n_locations: int, lanes: LaneArrays) -> np.ndarray:
    """Per location, the per-unit cost of its cheapest lane out (0 where it has none)."""
    cheapest = np.full(n_locations, np.inf)
    if len(lanes):
        np.minimum.at(cheapest, lanes.source, lanes.cost_per_unit)
    return np.where(np.isfinite(cheapest), cheapest, 0.0)


def position_economics(
    locations: list[LocationNode],
    skus: list[SkuNode],
    lanes: LaneArrays,
    terms: ValueTerms,
) -> tuple[np.ndarray, np.ndarray]:
    """(margin, unsold cost) per unit at each (location, SKU), shape (locations, skus)."""
    factor = np.array([terms.price_factor(loc.tier) for loc in locations], dtype=float)
    price = np.array([sku.price for sku in skus], dtype=float)
    cost = np.array([sku.cost for sku in skus], dtype=float)
    local_price = factor[:, None] * price[None, :]
    margin = np.maximum(local_price - cost[None, :], 0.0)
    risks = [terms.unsold.for_category(sku.category) for sku in skus]
    markdown = np.array([r.markdown_share for r in risks], dtype=float)
    returns = np.array([r.return_freight for r in risks], dtype=float)
    freight_back = return_freight_per_unit(len(locations), lanes)
    unsold = markdown[None, :] * local_price + returns[None, :] * freight_back[:, None]
    return margin, unsold


def position_value(
    margin: np.ndarray | float,
    unsold_cost: np.ndarray | float,
    sold_change: np.ndarray | float,
    received: np.ndarray | float,
) -> np.ndarray:
    """Value of a stock change at positions, before freight (the module docstring's formula).

    ``sold_change`` is the change in units sold (negative where a source gives up sales);
    ``received`` the units moved in (0 at a source). Received units beyond the extra units sold
    are the moved units that did not sell.
    """
    sold = np.asarray(sold_change, dtype=float)
    unsold = np.maximum(np.asarray(received, dtype=float) - np.maximum(sold, 0.0), 0.0)
    return np.asarray(margin, dtype=float) * sold - np.asarray(unsold_cost, dtype=float) * unsold


def freight(
    units: np.ndarray | float,
    cost_per_unit: np.ndarray | float,
    cost_per_shipment: np.ndarray | float,
) -> np.ndarray:
    """Freight of shipments: the lane's cost per unit × units plus one cost per trip (a lane
    used once per plan). The optimiser, the replay, edited proposals and the promo tool's
    transfer alternative all cost a shipment with this."""
    units = np.asarray(units, dtype=float)
    trip = np.where(units > 0, np.asarray(cost_per_shipment, dtype=float), 0.0)
    return units * np.asarray(cost_per_unit, dtype=float) + trip


def net_value(position_values: np.ndarray | float, freight: float) -> float:
    """A plan's net value: its positions' values less freight (per trip + per unit)."""
    return float(np.sum(position_values)) - float(freight)


def yuan(amount: float) -> str:
    """An amount as people read it on a card or in an answer: ¥1,234, or −¥45 for a loss (not
    ¥-45)."""
    return f"{'−' if round(amount) < 0 else ''}¥{abs(amount):,.0f}"
