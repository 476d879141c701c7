"""A day of online orders from the demo world's own online demand (what the OMS would receive).

The world keeps the online pool's uncensored future demand per SKU and day (``future_demand``
at the online location); the generator turns one day of it into customer orders: each unit
ordered goes to a destination city in proportion to the pool's stores there (the demo world
builds online demand from its cities' store footfall the same way), most orders are one unit,
some carry a second SKU (``basket_share``), and about a third promise next-day delivery. Seeded,
so the peers of one run replay the very same orders.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from inventory.models import FutureDemand, Location, LocationKind


@dataclass(frozen=True)
class StreamOrder:
    order_id: str
    placed_at: dt.datetime
    destination_city: str
    lines: tuple[tuple[str, int], ...]
    promise_hours: float

    @property
    def units(self) -> int:
        return sum(qty for _, qty in self.lines)


def city_weights(engine: Engine) -> dict[str, float]:
    loc = Location.__table__.c  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(loc.city, sa.func.count())
            .where(loc.kind == LocationKind.STORE)
            .group_by(loc.city)
            .order_by(loc.city)
        ).all()
    total = sum(n for _, n in rows)
    return {city: n / total for city, n in rows}


def online_demand(engine: Engine, day: dt.date) -> dict[str, int]:
    demand = FutureDemand.__table__.c  # type: ignore[attr-defined]
    loc = Location.__table__.c  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(demand.sku_code, demand.units)
            .join(Location.__table__, loc.code == demand.location_code)  # type: ignore[arg-type]
            .where(loc.kind == LocationKind.ONLINE, demand.date == day, demand.units > 0)
            .order_by(demand.sku_code)
        ).all()
    return {sku: int(units) for sku, units in rows}


def day_of_orders(
    engine: Engine,
    start: dt.datetime,
    *,
    seed: int = 7,
    basket_share: float = 0.15,
    next_day_share: float = 0.3,
    prefix: str = "WEB",
) -> list[StreamOrder]:
    """The orders of the 24 hours from ``start`` (demand of ``start``'s date), in time order."""
    demand = online_demand(engine, start.date())
    if not demand:
        raise ValueError(f"the pool has no online demand for {start.date()} (not a demo world?)")
    weights = city_weights(engine)
    rng = np.random.default_rng(seed)
    units = [sku for sku, n in demand.items() for _ in range(n)]
    rng.shuffle(units)
    cities = list(weights)
    probabilities = np.array([weights[c] for c in cities])
    orders: list[StreamOrder] = []
    i = 0
    while i < len(units):
        basket = Counter([units[i]])
        i += 1
        if i < len(units) and rng.random() < basket_share:
            basket[units[i]] += 1
            i += 1
        orders.append(
            StreamOrder(
                order_id=f"{prefix}-{start:%Y%m%d}-{len(orders) + 1:05d}",
                placed_at=start,
                destination_city=cities[int(rng.choice(len(cities), p=probabilities))],
                lines=tuple(sorted(basket.items())),
                promise_hours=24.0 if rng.random() < next_day_share else 48.0,
            )
        )
    step = dt.timedelta(days=1) / max(1, len(orders))
    return [
        StreamOrder(o.order_id, start + n * step, o.destination_city, o.lines, o.promise_hours)
        for n, o in enumerate(orders)
    ]
