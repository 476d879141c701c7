"""plan_transfers over a real pool (SQLite and Postgres) with a fake forecast provider."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from inventory.models import StockPosition
from tests.tools.plan_transfers_pool import NOW, build_pool, fake_forecast
from tools.context import ToolContext, ToolError
from tools.forecast_demand.models import ForecastInput, ForecastOutput
from tools.plan_transfers.models import PlanTransfersInput
from tools.plan_transfers.tool import plan_transfers


def _empty(ctx: ToolContext, request: ForecastInput) -> ForecastOutput:
    return fake_forecast({})(ctx, request).model_copy(update={"series": []})


SHORT_IN_S02 = fake_forecast({"SHA-S02": 6.0, "SHA-S01": 1.0, "SHA-S03": 1.0, "BEI-S01": 1.0})


def test_moves_surplus_to_the_short_store_with_reasons(engine):
    build_pool(engine)
    plan = plan_transfers(
        ToolContext(engine=engine, now=NOW),
        PlanTransfersInput(city="Shanghai", category="rain_boots", window_days=3),
        forecast_provider=SHORT_IN_S02,
    )
    assert plan.solver == "flow" and plan.forecast_model == "fake"
    assert plan.shipments, plan.empty_reason
    for ship in plan.shipments:
        assert ship.dest == "SHA-S02"
        assert ship.source in {"SHA-S01", "DC-SHA"}, "outlet or other-region stock moved"
        assert ship.net_value == pytest.approx(ship.expected_value - ship.cost, abs=0.05)
        for line in ship.lines:
            r = line.reason
            assert line.qty > 0 and r.expected_units_saved > 0
            assert r.dest_days_to_stockout_before == 0.0
            assert r.dest_days_to_stockout_after > 0
    assert plan.totals.units == sum(s.units for s in plan.shipments)
    assert plan.totals.net_value == pytest.approx(sum(s.net_value for s in plan.shipments), abs=0.1)


def test_no_lane_fast_enough_says_so(engine):
    build_pool(engine, lead_hours=30.0)
    plan = plan_transfers(
        ToolContext(engine=engine, now=NOW),
        PlanTransfersInput(city="Shanghai", window_days=1),
        forecast_provider=SHORT_IN_S02,
    )
    assert plan.shipments == []
    assert "slower than the 1-day window" in plan.empty_reason


@pytest.mark.parametrize(
    ("request_args", "provider", "field"),
    [
        ({"city": "Atlantis"}, SHORT_IN_S02, "city"),
        ({"skus": ["NOPE-BLK-38"]}, SHORT_IN_S02, "skus"),
        ({"category": "umbrellas"}, SHORT_IN_S02, "category"),
        ({"destinations": ["SHA-S99"]}, SHORT_IN_S02, "destinations"),
        ({"city": "Shanghai"}, _empty, "forecast"),
    ],
)
def test_bad_input_names_the_field(sqlite_engine, request_args, provider, field):
    build_pool(sqlite_engine)
    with pytest.raises(ToolError) as err:
        plan_transfers(
            ToolContext(engine=sqlite_engine, now=NOW),
            PlanTransfersInput(**request_args),
            forecast_provider=provider,
        )
    assert err.value.field == field


def test_negative_stock_in_the_pool_is_refused(sqlite_engine):
    build_pool(sqlite_engine)
    with Session(sqlite_engine) as session:
        pos = session.exec(
            select(StockPosition).where(StockPosition.location_code == "SHA-S01")
        ).first()
        pos.on_hand = -3
        session.add(pos)
        session.commit()
    with pytest.raises(ToolError) as err:
        plan_transfers(
            ToolContext(engine=sqlite_engine, now=NOW),
            PlanTransfersInput(city="Shanghai"),
            forecast_provider=SHORT_IN_S02,
        )
    assert err.value.field == "stock_position" and "-3" in str(err.value)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"solver": "magic"}, "solver"),
        ({"time_limit_s": 3600}, "time_limit_s"),
        ({"constraints": {"allowed_lanes": "anywhere"}}, "constraints.allowed_lanes"),
    ],
)
def test_typed_inputs_refuse_what_the_schema_does_not_offer(args, field):
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as err:
        PlanTransfersInput.model_validate(args)
    assert ".".join(str(p) for p in err.value.errors()[0]["loc"]) == field
    schema = PlanTransfersInput.model_json_schema()
    assert schema["properties"]["solver"]["enum"] == ["auto", "flow", "lp", "greedy"]
    assert schema["properties"]["time_limit_s"]["maximum"] == 60
