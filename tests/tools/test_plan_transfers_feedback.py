"""The closed loop: transfer planning reads the lanes' effective figures, so realised lead
times and costs reported by the WMS change which lanes a plan may use (SQLite and Postgres)."""

from __future__ import annotations

import pytest

from tests.tools.plan_transfers_pool import NOW, build_pool, fake_forecast
from tests.utils.fulfilment_events import deliver
from tools.context import ToolContext
from tools.plan_transfers.models import PlanTransfersInput
from tools.plan_transfers.tool import plan_transfers

SHORT_IN_S02 = fake_forecast({"SHA-S02": 6.0, "SHA-S01": 1.0, "SHA-S03": 1.0, "BEI-S01": 1.0})
ONE_DAY = PlanTransfersInput(city="Shanghai", category="rain_boots", window_days=1)


def plan(engine):  # type: ignore[no-untyped-def]
    return plan_transfers(
        ToolContext(engine=engine, now=NOW), ONE_DAY, forecast_provider=SHORT_IN_S02
    )


def test_lanes_realised_faster_than_configured_open_up(engine) -> None:
    build_pool(engine, lead_hours=30.0)  # configured too slow for a one-day window
    assert plan(engine).shipments == []
    for n in range(40):  # the WMS keeps delivering S01 → S02 in 6 h
        deliver(engine, f"WMS-{n}", origin="SHA-S01", dest="SHA-S02", hours=6)
    shipments = plan(engine).shipments
    assert shipments and {(s.source, s.dest) for s in shipments} == {("SHA-S01", "SHA-S02")}
    # 40 deliveries at 6 h against a 30 h prior with k = 5: 40/45 × 6 + 5/45 × 30.
    assert shipments[0].lead_time_hours == pytest.approx(8.7, abs=0.05)


def test_lanes_realised_slower_than_configured_close(engine) -> None:
    build_pool(engine, lead_hours=8.0)
    before = {(s.source, s.dest) for s in plan(engine).shipments}
    assert ("SHA-S01", "SHA-S02") in before
    for n in range(20):  # S01 → S02 actually takes two and a half days
        deliver(engine, f"WMS-{n}", origin="SHA-S01", dest="SHA-S02", hours=60)
    after = {(s.source, s.dest) for s in plan(engine).shipments}
    assert ("SHA-S01", "SHA-S02") not in after
