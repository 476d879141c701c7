"""The world's expected demand (what a perfect forecaster of the mean would say) matches the
demand the world then drew, and plans are scored over drawn windows."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
from sqlmodel import Session, select

from evals.oracle import expected_demand
from evals.scenario import Scenario
from evals.world import template_for
from inventory.db import make_engine
from inventory.models import FutureDemand

SCENARIO = Scenario.model_validate(
    {
        "id": "oracle-test",
        "purpose": "The world's expected demand against its drawn future.",
        "world": {"cities": ["Shanghai"], "stores": 8, "styles": 12},
        "clock": "2015-07-11T08:00:00",
        "trigger": {"chat": [{"content": "hi"}]},
    }
)
DAYS = 28


def _drawn(template: Path) -> dict[tuple[str, str], np.ndarray]:
    engine = make_engine(f"sqlite:///{template}")
    first = SCENARIO.clock.date()
    out: dict[tuple[str, str], np.ndarray] = defaultdict(lambda: np.zeros(DAYS))
    with Session(engine) as session:
        for row in session.exec(select(FutureDemand)):
            out[(row.location_code, row.sku_code)][(row.date - first).days] += row.units
    engine.dispose()
    return dict(out)


def test_expected_demand_is_the_mean_of_what_the_world_drew() -> None:
    expected = expected_demand(SCENARIO, DAYS)
    drawn = _drawn(template_for(SCENARIO.world, SCENARIO.clock))
    assert set(drawn) <= set(expected), "the world drew demand where the oracle expects none"
    total_expected = sum(float(v.sum()) for v in expected.values())
    total_drawn = sum(float(v.sum()) for v in drawn.values())
    # Thousands of negative-binomial units: the totals agree within a few per cent.
    assert abs(total_drawn / total_expected - 1) < 0.05
    # Per location too (a mis-ordered mapping of stores would break this).
    for location in {loc for loc, _ in expected}:
        e = sum(float(v.sum()) for (loc, _), v in expected.items() if loc == location)
        d = sum(float(v.sum()) for (loc, _), v in drawn.items() if loc == location)
        assert abs(d - e) < 4 * np.sqrt(e * 1.5) + 5, (location, e, d)
