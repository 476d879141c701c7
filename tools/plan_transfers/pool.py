"""From the pool and a forecast to a TransferProblem: the only part of plan_transfers that reads.

The forecast comes through a provider function (by default the forecast_demand tool), so tests
and evals can hand in any demand without a fitted model.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sqlmodel import Session, col, select

from inventory.models import ChannelEntitlement, Lane, Location, Sku, StockPosition, Style
from inventory.vocabulary import resolve_city
from tools.context import ToolContext, ToolError
from tools.forecast_demand.models import ForecastInput, ForecastOutput
from tools.plan_transfers.models import PlanTransfersInput
from tools.plan_transfers.problem import (
    LaneArrays,
    LocationNode,
    ProblemError,
    SkuNode,
    TransferProblem,
)

ForecastProvider = Callable[[ToolContext, ForecastInput], ForecastOutput]
QUANTILES = [0.1, 0.5, 0.9]


def default_forecast_provider(ctx: ToolContext, request: ForecastInput) -> ForecastOutput:
    from tools.forecast_demand.tool import forecast_demand

    return forecast_demand(ctx, request)


def _scoped_skus(session: Session, request: PlanTransfersInput) -> list[tuple[Sku, Style]]:
    query = select(Sku, Style).join(Style, col(Sku.style_code) == col(Style.code))
    categories = [*request.categories, *([request.category] if request.category else [])]
    if categories:
        query = query.where(col(Style.category).in_(categories))
    if request.styles:
        query = query.where(col(Style.code).in_(request.styles))
    if request.skus:
        query = query.where(col(Sku.code).in_(request.skus))
    rows = list(session.exec(query.order_by(col(Sku.style_code), col(Sku.size_index))).all())
    if request.skus:
        missing = sorted(set(request.skus) - {sku.code for sku, _ in rows})
        if missing:
            raise ToolError(
                f"unknown or out-of-scope SKU(s): {missing}", field="skus", value=missing
            )
    if request.styles:
        missing = sorted(set(request.styles) - {style.code for _, style in rows})
        if missing:
            raise ToolError(f"unknown style(s): {missing}", field="styles", value=missing)
    if not rows:
        raise ToolError(
            f"no SKU matches category {categories or 'any'} / styles {request.styles or 'any'}",
            field="category",
            value=request.category,
        )
    return rows


def _destinations(locations: list[Location], request: PlanTransfersInput) -> frozenset[str] | None:
    codes = {loc.code for loc in locations}
    if request.destinations:
        unknown = sorted(set(request.destinations) - codes)
        if unknown:
            raise ToolError(f"unknown location(s): {unknown}", field="destinations", value=unknown)
        return frozenset(request.destinations)
    if request.city:
        try:
            city = resolve_city(request.city)
        except ValueError as exc:
            raise ToolError(str(exc), field="city", value=request.city) from exc
        return frozenset(loc.code for loc in locations if loc.city == city and loc.kind != "dc")
    if request.region:
        in_region = [loc for loc in locations if loc.region.lower() == request.region.lower()]
        if not in_region:
            raise ToolError(
                f"unknown region {request.region!r}", field="region", value=request.region
            )
        return frozenset(loc.code for loc in in_region if loc.kind != "dc")
    return None


@dataclass(frozen=True)
class PoolSnapshot:
    """What the pool says, as plain data, read in one session."""

    locations: list[LocationNode]
    skus: list[SkuNode]
    stock: np.ndarray
    atp: np.ndarray
    min_display: np.ndarray
    days_since_received: np.ndarray
    lanes: LaneArrays
    destinations: frozenset[str] | None


def read_pool(ctx: ToolContext, request: PlanTransfersInput) -> PoolSnapshot:
    with ctx.read() as session:
        rows = _scoped_skus(session, request)
        locations = list(session.exec(select(Location).order_by(col(Location.code))).all())
        destinations = _destinations(locations, request)
        sku_codes = [sku.code for sku, _ in rows]
        positions = session.exec(
            select(StockPosition).where(col(StockPosition.sku_code).in_(sku_codes))
        ).all()
        lanes = session.exec(select(Lane)).all()
        entitled = {
            (e.location_code, e.channel): e.allowed
            for e in session.exec(select(ChannelEntitlement))
        }
        loc_index = {loc.code: i for i, loc in enumerate(locations)}
        sku_index = {code: j for j, code in enumerate(sku_codes)}
        shape = (len(locations), len(sku_codes))
        stock = np.zeros(shape, dtype=np.int64)
        atp = np.zeros(shape, dtype=np.int64)
        min_display = np.zeros(shape, dtype=np.int64)
        days_since = np.full(shape, np.inf)
        for pos in positions:
            i, j = loc_index[pos.location_code], sku_index[pos.sku_code]
            sellable = pos.on_hand - pos.reserved + pos.in_transit_in
            if pos.on_hand < 0 or pos.reserved < 0 or sellable < 0:
                raise ToolError(
                    f"negative stock at {pos.location_code}/{pos.sku_code}: "
                    f"on_hand={pos.on_hand}, reserved={pos.reserved}",
                    field="stock_position",
                    value=pos.on_hand,
                )
            stock[i, j], atp[i, j], min_display[i, j] = sellable, pos.atp, pos.min_display
            if pos.last_received_at is not None:
                days_since[i, j] = (ctx.now - pos.last_received_at) / dt.timedelta(days=1)
        lane_rows = [
            ln for ln in lanes if ln.source_code in loc_index and ln.dest_code in loc_index
        ]
        return PoolSnapshot(
            locations=[
                LocationNode(
                    code=loc.code,
                    city=loc.city,
                    region=loc.region,
                    kind=loc.kind,
                    tier=loc.tier,
                    sells=entitled.get(
                        (loc.code, "online" if loc.kind == "online" else "store"), True
                    ),
                )
                for loc in locations
            ],
            skus=[
                SkuNode(
                    code=sku.code,
                    style=style.code,
                    size=sku.size,
                    size_index=sku.size_index,
                    price=style.price,
                    core=sku.size in style.core_sizes,
                )
                for sku, style in rows
            ],
            stock=stock,
            atp=atp,
            min_display=min_display,
            days_since_received=days_since,
            lanes=LaneArrays(
                source=np.array([loc_index[ln.source_code] for ln in lane_rows], dtype=np.int64),
                dest=np.array([loc_index[ln.dest_code] for ln in lane_rows], dtype=np.int64),
                lead_time_hours=np.array([ln.lead_time_hours for ln in lane_rows], dtype=float),
                cost_per_unit=np.array([ln.cost_per_unit for ln in lane_rows], dtype=float),
                cost_per_shipment=np.array([ln.cost_per_shipment for ln in lane_rows], dtype=float),
            ),
            destinations=destinations,
        )


def build_problem(
    ctx: ToolContext, request: PlanTransfersInput, forecast: ForecastProvider
) -> tuple[TransferProblem, ForecastOutput]:
    pool = read_pool(ctx, request)
    sku_codes = [sku.code for sku in pool.skus]
    selling = [loc.code for loc in pool.locations if loc.kind != "dc"]
    forecast_out = forecast(
        ctx,
        ForecastInput(
            skus=sku_codes,
            locations=selling,
            horizon_days=request.window_days,
            quantiles=QUANTILES,
            rain=request.rain,
            limit_series=max(len(sku_codes) * len(selling), 1),
        ),
    )
    if not forecast_out.series:
        raise ToolError(
            f"the forecast returned no series for {len(sku_codes)} SKU(s)", field="forecast"
        )
    loc_index = {loc.code: i for i, loc in enumerate(pool.locations)}
    sku_index = {code: j for j, code in enumerate(sku_codes)}
    levels = np.array(QUANTILES)
    quantiles = np.zeros((*pool.stock.shape, levels.size))
    mean = np.zeros(pool.stock.shape)
    for series in forecast_out.series:
        if series.sku not in sku_index or series.location not in loc_index:
            continue
        i, j = loc_index[series.location], sku_index[series.sku]
        try:
            quantiles[i, j] = [series.total_quantiles[f"p{round(q * 100)}"] for q in QUANTILES]
        except KeyError as exc:
            raise ToolError(
                f"forecast for {series.location}/{series.sku} lacks quantile {exc}",
                field="forecast.total_quantiles",
                value=sorted(series.total_quantiles),
            ) from exc
        mean[i, j] = series.total_mean
    try:
        problem = TransferProblem(
            locations=pool.locations,
            skus=pool.skus,
            stock=pool.stock,
            atp=pool.atp,
            min_display=pool.min_display,
            days_since_received=pool.days_since_received,
            demand_levels=levels,
            demand_quantiles=quantiles,
            demand_mean=mean,
            lanes=pool.lanes,
            window_days=request.window_days,
            constraints=request.constraints,
            destinations=pool.destinations,
        )
    except ProblemError as exc:
        raise ToolError(str(exc), field=exc.field, value=exc.value) from exc
    return problem, forecast_out
