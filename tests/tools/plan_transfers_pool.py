"""A small pool for plan_transfers / recommend_promos tests, and a fake forecast provider."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy.engine import Engine
from sqlmodel import Session

from inventory.models import ChannelEntitlement, Lane
from tests.utils.factories import add_location, add_position, add_skus, add_style, set_clock
from tools.context import ToolContext
from tools.forecast_demand.models import ForecastInput, ForecastOutput, SeriesForecast

NOW = dt.datetime(2015, 7, 1, 9)


def build_pool(engine: Engine, *, lead_hours: float = 8.0) -> None:
    """Shanghai: S01 has surplus, S02 is short, S03 is an outlet with surplus; Beijing B01 has
    surplus but sits in another region; DC-SHA holds stock."""
    with Session(engine) as session:
        for code, kind, city, tier in [
            ("DC-SHA", "dc", "Shanghai", "A"),
            ("SHA-S01", "store", "Shanghai", "A"),
            ("SHA-S02", "store", "Shanghai", "A"),
            ("SHA-S03", "store", "Shanghai", "outlet"),
            ("BEI-S01", "store", "Beijing", "A"),
        ]:
            add_location(session, code, kind=kind, city=city, tier=tier)
        style = add_style(session, "RB001", sizes=["36", "37", "38", "39", "40"])
        skus = add_skus(session, style)
        for sku in skus:
            add_position(session, "SHA-S01", sku.code, on_hand=12)
            add_position(session, "SHA-S02", sku.code, on_hand=0)
            add_position(session, "SHA-S03", sku.code, on_hand=15)
            add_position(session, "BEI-S01", sku.code, on_hand=20)
        for source in ("SHA-S01", "SHA-S03", "BEI-S01", "DC-SHA"):
            for dest in ("SHA-S01", "SHA-S02", "SHA-S03", "BEI-S01"):
                if source != dest:
                    session.add(
                        Lane(
                            source_code=source,
                            dest_code=dest,
                            distance_km=10.0,
                            lead_time_hours=lead_hours,
                            cost_per_unit=3.0,
                            cost_per_shipment=20.0,
                        )
                    )
        session.add(ChannelEntitlement(location_code="SHA-S01", channel="store", allowed=True))
        set_clock(session, NOW)
        session.commit()


def fake_forecast(demand: dict[str, float]):
    """A provider whose window demand per location is ``demand[location]`` units per SKU."""
    return forecast_from(lambda _request, location: demand.get(location, 0.0))


def forecast_from(mean_of: Callable[[ForecastInput, str], float]):
    """A provider whose window demand per SKU at a location is ``mean_of(request, location)``."""

    def provider(ctx: ToolContext, request: ForecastInput) -> ForecastOutput:
        series = []
        for location in request.locations:
            mean = mean_of(request, location)
            for sku in request.skus:
                series.append(
                    SeriesForecast(
                        location=location,
                        sku=sku,
                        style=sku.split("-")[0],
                        points=[],
                        total_mean=mean,
                        total_quantiles={"p10": 0.5 * mean, "p50": mean, "p90": 1.6 * mean},
                    )
                )
        return ForecastOutput(
            as_of=ctx.now.isoformat(),
            model="fake",
            backtest={},
            horizon_days=request.horizon_days,
            series=series,
        )

    return provider
