"""The money of one overstocked style at one location: markdown ladder and transfer alternative.

Horizon: the weeks left in the season (or the cover threshold when the style has no season end).
Units still unsold at the end are worth ``SALVAGE_SHARE`` of cost (jobber / outlet clearance), so
a markdown is judged against clearing later, not against a fantasy of selling everything.
"""

from __future__ import annotations

from dataclasses import dataclass

from tools.plan_transfers.value import net_value, position_value
from tools.recommend_promos.models import MarkdownOption

SALVAGE_SHARE = 0.3


@dataclass(frozen=True)
class StyleStock:
    on_hand: int
    weekly_rate: float
    price: float
    cost: float
    horizon_weeks: float

    def _margin(self, depth: float, multiplier: float) -> tuple[float, float]:
        sold = min(float(self.on_hand), self.weekly_rate * multiplier * self.horizon_weeks)
        left = self.on_hand - sold
        margin = (
            sold * (self.price * (1 - depth) - self.cost) - left * (1 - SALVAGE_SHARE) * self.cost
        )
        return sold, margin

    def markdown(self, depth: float, elasticity: float) -> MarkdownOption:
        multiplier = (1.0 - depth) ** elasticity
        base_sold, base_margin = self._margin(0.0, 1.0)
        sold, margin = self._margin(depth, multiplier)
        rate = self.weekly_rate * multiplier
        return MarkdownOption(
            depth=depth,
            expected_extra_units=round(sold - base_sold, 2),
            expected_revenue=round(sold * self.price * (1 - depth), 2),
            margin_impact=round(margin - base_margin, 2),
            weeks_of_cover_after=round(self.on_hand / rate, 2) if rate > 0 else 999.0,
        )

    def transfer_margin(
        self, units_sold_elsewhere: float, dest_margin: float, transfer_cost: float
    ) -> float:
        """Net value of selling ``units_sold_elsewhere`` of the excess at the destination instead
        of clearing them at salvage here: the plan-value definition (``tools.plan_transfers.
        value``: margin at the destination's price on the units sold, less freight) plus the
        clearance loss the source no longer takes."""
        moved = position_value(dest_margin, 0.0, units_sold_elsewhere, units_sold_elsewhere)
        avoided_clearance = units_sold_elsewhere * (1 - SALVAGE_SHARE) * self.cost
        return net_value(moved, transfer_cost) + avoided_clearance
