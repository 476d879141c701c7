"""Turn expected demand into what a retailer would have seen: noisy demand, replenishment,
stock-outs that censor sales, today's positions and in-transit, and the future's true demand.

One location at a time, all its SKUs at once: a loop over days, numpy across SKUs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inventory.demo_world.params import DemandParameters


@dataclass(frozen=True)
class ReplenishmentPolicy:
    """Periodic review, order-up-to: every ``review_days`` on ``review_offset``."""

    review_days: int
    review_offset: int
    lead_days: int
    min_stock: np.ndarray  # per SKU: order-up-to floor in units
    cover: np.ndarray  # per SKU: order-up-to in days of (review + lead) × trailing rate


@dataclass(frozen=True)
class LocationHistory:
    """What one location saw; sales are sparse (units > 0 or a stock-out day)."""

    sku_index: np.ndarray  # global SKU indices carried here
    sales_sku: np.ndarray  # positions into sku_index
    sales_day: np.ndarray
    sales_units: np.ndarray
    sales_stockout: np.ndarray
    future_sku: np.ndarray
    future_day: np.ndarray  # 0 = the world's "now" day
    future_units: np.ndarray
    on_hand: np.ndarray
    in_transit_in: np.ndarray
    rate_now: np.ndarray  # trailing expected units per day at now
    demand_units: int
    sold_units: int
    stockout_days: int
    series_days: int


def sample_demand(mean: np.ndarray, shape: float, rng: np.random.Generator) -> np.ndarray:
    """Negative-binomial counts with the given means (gamma-Poisson mixture, variance μ+μ²/r)."""
    lam = mean * rng.gamma(shape, 1.0 / shape, size=mean.shape)
    return rng.poisson(lam).astype(np.int32)


def trailing_rate(mean: np.ndarray, window: int) -> np.ndarray:
    """Mean of the ``window`` days before each day (the first day uses itself): the planner's
    view of demand, which lags the weather it cannot know."""
    csum = np.concatenate([np.zeros((mean.shape[0], 1)), np.cumsum(mean, axis=1)], axis=1)
    days = np.arange(mean.shape[1])
    start = np.maximum(days - window, 0)
    width = np.maximum(days - start, 1)
    rate = (csum[:, np.maximum(days, 1)] - csum[:, start]) / width
    rate[:, 0] = mean[:, 0]
    return rate


def simulate_location(
    sku_index: np.ndarray,
    mean: np.ndarray,
    history_days: int,
    policy: ReplenishmentPolicy,
    params: DemandParameters,
    rng: np.random.Generator,
) -> LocationHistory:
    """Run the history day by day, then read off positions at now and the future's demand.

    ``mean`` is SKU × (history + future) days of expected demand at this location.
    """
    demand = sample_demand(mean, params.nb_shape, rng)
    rate = trailing_rate(mean[:, :history_days], params.plan_window_days)
    n_sku = len(sku_index)
    horizon = policy.review_days + policy.lead_days

    def order_up_to(day: int) -> np.ndarray:
        target = np.ceil(rate[:, day] * horizon * policy.cover)
        return np.maximum(target, policy.min_stock).astype(np.int64)

    arrivals = np.zeros((n_sku, history_days + policy.lead_days + 1), dtype=np.int64)
    on_hand = order_up_to(0)
    units = np.zeros((n_sku, history_days), dtype=np.int32)
    stockout = np.zeros((n_sku, history_days), dtype=bool)
    for day in range(history_days):
        on_hand += arrivals[:, day]
        sold = np.minimum(demand[:, day], on_hand)
        on_hand -= sold
        units[:, day] = sold
        stockout[:, day] = on_hand == 0
        if day % policy.review_days == policy.review_offset:
            pipeline = arrivals[:, day + 1 : day + policy.lead_days + 1].sum(axis=1)
            order = np.maximum(order_up_to(day) - on_hand - pipeline, 0)
            arrivals[:, day + policy.lead_days] += order
    # Deliveries land before opening, so today's are on hand at 09:00; later ones are in transit.
    on_hand_now = on_hand + arrivals[:, history_days]
    in_transit = arrivals[:, history_days + 1 :].sum(axis=1)
    rows_sku, rows_day = np.nonzero((units > 0) | stockout)
    future = demand[:, history_days:]
    fut_sku, fut_day = np.nonzero(future > 0)
    return LocationHistory(
        sku_index=sku_index,
        sales_sku=rows_sku,
        sales_day=rows_day,
        sales_units=units[rows_sku, rows_day],
        sales_stockout=stockout[rows_sku, rows_day],
        future_sku=fut_sku,
        future_day=fut_day,
        future_units=future[fut_sku, fut_day],
        on_hand=on_hand_now,
        in_transit_in=in_transit,
        rate_now=rate[:, history_days - 1],
        demand_units=int(demand[:, :history_days].sum()),
        sold_units=int(units.sum()),
        stockout_days=int(stockout.sum()),
        series_days=n_sku * history_days,
    )
