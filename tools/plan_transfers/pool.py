"""From the pool and a forecast to a TransferProblem: the only part of plan_transfers that reads.

The pool is read with a handful of Core SQL queries straight into arrays (no ORM objects: an
alert has a two-second budget and a city's rain range is tens of thousands of positions). Only
locations that can take part are kept: the destinations and both ends of every lane the window
and the lane scope allow, so the forecast is asked for those series and no others.

The forecast comes through a provider function (by default the forecast_demand tool), so tests
and evals can hand in any demand without a fitted model, and the alert graph can hand in the
forecast it already made (``reusing_provider``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Connection

from inventory.fulfilment_stats import planning_lanes
from inventory.models import ChannelEntitlement, Location, Sku, StockPosition, Style
from tools.context import ToolContext, ToolError, category_code, resolve_city
from tools.forecast_demand.models import ForecastInput, ForecastOutput, RainScenario
from tools.plan_transfers.eligibility import usable_lanes
from tools.plan_transfers.expected_sales import WINDOW_LEVELS, scale_counts
from tools.plan_transfers.forecast_error import backtest, level_factors
from tools.plan_transfers.hit_rate import alert_hit_rate
from tools.plan_transfers.models import PlanTransfersInput
from tools.plan_transfers.placement import PLACEMENT, Placement, place_stores
from tools.plan_transfers.problem import (
    LaneArrays,
    LocationNode,
    ProblemError,
    SkuNode,
    TransferProblem,
)
from tools.plan_transfers.size_curves import (
    CURVE_DAYS,
    SizePooling,
    match_level,
    pool_sizes,
    sales_by_position,
    size_shares,
)
from tools.plan_transfers.value import ValueTerms, ValueTermsError, load_value_terms

if TYPE_CHECKING:  # the forecast tool is imported when a forecast is made
    from tools.forecast_demand.tool import PreparedForecast

ForecastProvider = Callable[[ToolContext, ForecastInput], ForecastOutput]
QUANTILES = list(WINDOW_LEVELS)


def default_forecast_provider(ctx: ToolContext, request: ForecastInput) -> ForecastOutput:
    from tools.forecast_demand.tool import forecast_demand

    return forecast_demand(ctx, request)


def _scoped_skus(conn: Connection, request: PlanTransfersInput) -> list[SkuNode]:
    query = select(
        Sku.code,
        Style.code,
        Sku.size,
        Sku.size_index,
        Style.price,
        Style.core_sizes,
        Style.cost,
        Style.category,
    ).join(Style, Sku.style_code == Style.code)
    categories = [
        category_code(conn, c)
        for c in [*request.categories, *([request.category] if request.category else [])]
    ]
    if categories:
        query = query.where(Style.category.in_(categories))  # type: ignore[attr-defined]
    if request.styles:
        query = query.where(Style.code.in_(request.styles))  # type: ignore[attr-defined]
    if request.skus:
        query = query.where(Sku.code.in_(request.skus))  # type: ignore[attr-defined]
    rows = conn.execute(query.order_by(Sku.style_code, Sku.size_index)).all()
    if request.skus:
        missing = sorted(set(request.skus) - {row[0] for row in rows})
        if missing:
            raise ToolError(
                f"unknown or out-of-scope SKU(s): {missing}", field="skus", value=missing
            )
    if request.styles:
        missing = sorted(set(request.styles) - {row[1] for row in rows})
        if missing:
            raise ToolError(f"unknown style(s): {missing}", field="styles", value=missing)
    if not rows:
        raise ToolError(
            f"no SKU matches category {categories or 'any'} / styles {request.styles or 'any'}",
            field="category",
            value=request.category,
        )
    return [
        SkuNode(
            code=code,
            style=style,
            size=size,
            size_index=size_index,
            price=price,
            core=size in (core_sizes or []),
            cost=cost,
            category=category,
        )
        for code, style, size, size_index, price, core_sizes, cost, category in rows
    ]


def _locations(conn: Connection) -> list[LocationNode]:
    entitled = {
        (location, channel): allowed
        for location, channel, allowed in conn.execute(
            select(
                ChannelEntitlement.location_code,
                ChannelEntitlement.channel,
                ChannelEntitlement.allowed,
            )
        )
    }
    rows = conn.execute(
        select(
            Location.code, Location.city, Location.region, Location.kind, Location.tier
        ).order_by(Location.code)
    ).all()
    return [
        LocationNode(
            code=code,
            city=city,
            region=region,
            kind=str(kind),
            tier=str(tier),
            sells=entitled.get((code, "online" if kind == "online" else "store"), True),
        )
        for code, city, region, kind, tier in rows
    ]


def _destinations(
    conn: Connection, locations: list[LocationNode], request: PlanTransfersInput
) -> frozenset[str] | None:
    codes = {loc.code for loc in locations}
    if request.destinations:
        unknown = sorted(set(request.destinations) - codes)
        if unknown:
            raise ToolError(f"unknown location(s): {unknown}", field="destinations", value=unknown)
        return frozenset(request.destinations)
    if request.city:
        city = resolve_city(conn, request.city)
        return frozenset(loc.code for loc in locations if loc.city == city and loc.kind != "dc")
    if request.region:
        in_region = [loc for loc in locations if loc.region.lower() == request.region.lower()]
        if not in_region:
            raise ToolError(
                f"unknown region {request.region!r}", field="region", value=request.region
            )
        return frozenset(loc.code for loc in in_region if loc.kind != "dc")
    return None


def _lanes(conn: Connection, loc_index: pd.Index) -> LaneArrays:
    # Effective figures: the configured lane shrunk towards realised fulfilment (closed loop).
    frame = pd.DataFrame(
        planning_lanes(conn), columns=["source", "dest", "lead", "per_unit", "per_shipment"]
    )
    source = loc_index.get_indexer(frame["source"])
    dest = loc_index.get_indexer(frame["dest"])
    known = (source >= 0) & (dest >= 0)
    return LaneArrays(
        source=source[known].astype(np.int64),
        dest=dest[known].astype(np.int64),
        lead_time_hours=frame["lead"].to_numpy(dtype=float)[known],
        cost_per_unit=frame["per_unit"].to_numpy(dtype=float)[known],
        cost_per_shipment=frame["per_shipment"].to_numpy(dtype=float)[known],
    )


def _take(lanes: LaneArrays, mask: np.ndarray, remap: np.ndarray) -> LaneArrays:
    return LaneArrays(
        source=remap[lanes.source[mask]],
        dest=remap[lanes.dest[mask]],
        lead_time_hours=lanes.lead_time_hours[mask],
        cost_per_unit=lanes.cost_per_unit[mask],
        cost_per_shipment=lanes.cost_per_shipment[mask],
    )


@dataclass(frozen=True)
class PoolSnapshot:
    """What the pool says, as plain data, read in one transaction, over the locations that can
    take part (destinations and the ends of usable lanes)."""

    locations: list[LocationNode]
    skus: list[SkuNode]
    stock: np.ndarray
    atp: np.ndarray
    min_display: np.ndarray
    days_since_received: np.ndarray
    lanes: LaneArrays
    destinations: frozenset[str] | None
    sold: np.ndarray
    """Units sold per (location, SKU) before the clock: the size curves (``size_curves``) and
    the stores' placement (``placement``)."""


def _zero_problem(
    locations: list[LocationNode],
    lanes: LaneArrays,
    request: PlanTransfersInput,
    destinations: frozenset[str] | None,
) -> TransferProblem:
    """A problem with no SKU: enough to ask ``usable_lanes`` which lanes the rules allow."""
    empty = np.zeros((len(locations), 0))
    return TransferProblem(
        locations=locations,
        skus=[],
        stock=empty,
        atp=empty,
        min_display=empty,
        days_since_received=empty,
        demand_levels=np.array(QUANTILES),
        demand_quantiles=np.zeros((len(locations), 0, len(QUANTILES))),
        demand_mean=empty,
        lanes=lanes,
        window_days=request.window_days,
        constraints=request.constraints,
        destinations=destinations,
    )


def _participants(
    locations: list[LocationNode],
    lanes: LaneArrays,
    request: PlanTransfersInput,
    destinations: frozenset[str] | None,
) -> np.ndarray:
    """Mask of locations that can give or take: destinations and ends of usable lanes."""
    try:
        usable = usable_lanes(_zero_problem(locations, lanes, request, destinations))
    except ProblemError as exc:
        raise ToolError(str(exc), field=exc.field, value=exc.value) from exc
    keep = np.zeros(len(locations), dtype=bool)
    keep[lanes.source[usable]] = True
    keep[lanes.dest[usable]] = True
    if destinations is None:
        keep |= np.array([loc.kind != "dc" for loc in locations], dtype=bool)
    else:
        keep |= np.array([loc.code in destinations for loc in locations], dtype=bool)
    return keep


def _positions(
    conn: Connection, sku_codes: Sequence[str], location_codes: Sequence[str]
) -> pd.DataFrame:
    columns = [
        StockPosition.location_code,
        StockPosition.sku_code,
        StockPosition.on_hand,
        StockPosition.reserved,
        StockPosition.in_transit_in,
        StockPosition.safety,
        StockPosition.min_display,
        StockPosition.last_received_at,
    ]
    rows = conn.execute(
        select(*columns).where(
            StockPosition.sku_code.in_(sku_codes),  # type: ignore[attr-defined]
            StockPosition.location_code.in_(location_codes),  # type: ignore[attr-defined]
        )
    ).all()
    return pd.DataFrame(rows, columns=[c.key for c in columns])


def read_pool(ctx: ToolContext, request: PlanTransfersInput) -> PoolSnapshot:
    with ctx.engine.connect() as conn:
        skus = _scoped_skus(conn, request)
        all_locations = _locations(conn)
        destinations = _destinations(conn, all_locations, request)
        all_lanes = _lanes(conn, pd.Index([loc.code for loc in all_locations]))
        keep = _participants(all_locations, all_lanes, request, destinations)
        locations = [loc for loc, k in zip(all_locations, keep, strict=True) if k]
        remap = np.cumsum(keep) - 1
        lanes = _take(all_lanes, keep[all_lanes.source] & keep[all_lanes.dest], remap)
        loc_codes = [loc.code for loc in locations]
        sku_codes = [sku.code for sku in skus]
        frame = _positions(conn, sku_codes, loc_codes)
        sold = sales_by_position(conn, loc_codes, sku_codes, ctx.today)
        conn.rollback()
    shape = (len(locations), len(skus))
    i = pd.Index(loc_codes).get_indexer(frame["location_code"])
    j = pd.Index(sku_codes).get_indexer(frame["sku_code"])
    on_hand = frame["on_hand"].to_numpy(dtype=np.int64)
    reserved = frame["reserved"].to_numpy(dtype=np.int64)
    sellable = on_hand - reserved + frame["in_transit_in"].to_numpy(dtype=np.int64)
    bad = (on_hand < 0) | (reserved < 0) | (sellable < 0)
    if bad.any():
        row = frame[bad].iloc[0]
        raise ToolError(
            f"negative stock at {row['location_code']}/{row['sku_code']}: "
            f"on_hand={row['on_hand']}, reserved={row['reserved']}",
            field="stock_position",
            value=int(row["on_hand"]),
        )
    stock = np.zeros(shape, dtype=np.int64)
    atp = np.zeros(shape, dtype=np.int64)
    min_display = np.zeros(shape, dtype=np.int64)
    days_since = np.full(shape, np.inf)
    stock[i, j] = sellable
    atp[i, j] = np.maximum(on_hand - reserved - frame["safety"].to_numpy(dtype=np.int64), 0)
    min_display[i, j] = frame["min_display"].to_numpy(dtype=np.int64)
    received = pd.to_datetime(frame["last_received_at"])
    has_received = received.notna().to_numpy()
    if has_received.any():
        now = pd.Timestamp(ctx.now)
        if now.tzinfo is not None:  # the pool stores naive UTC
            now = now.tz_convert("UTC").tz_localize(None)
        ages = (now - received[has_received]) / pd.Timedelta(days=1)
        days_since[i[has_received], j[has_received]] = ages.to_numpy(dtype=float)
    return PoolSnapshot(
        locations=locations,
        skus=skus,
        stock=stock,
        atp=atp,
        min_display=min_display,
        days_since_received=days_since,
        lanes=lanes,
        destinations=destinations,
        sold=sold,
    )


def forecast_request(pool: PoolSnapshot, request: PlanTransfersInput) -> ForecastInput:
    """The forecast the plan needs: every scoped SKU at every selling location that takes part."""
    sku_codes = [sku.code for sku in pool.skus]
    selling = [loc.code for loc in pool.locations if loc.kind != "dc"]
    n_series = len(sku_codes) * len(selling)
    if request.limit_series is not None and n_series > request.limit_series:
        raise ToolError(
            f"the plan needs {n_series} SKU × location forecasts ({len(sku_codes)} SKUs at "
            f"{len(selling)} selling locations), more than limit_series={request.limit_series}; "
            "narrow it (city, region, category, styles, skus, destinations, allowed lanes)",
            field="limit_series",
            value=request.limit_series,
        )
    return ForecastInput(
        skus=sku_codes,
        locations=selling,
        horizon_days=request.window_days,
        quantiles=QUANTILES,
        rain=request.rain,
        limit_series=max(len(sku_codes) * len(selling), 1),
    )


def style_request(pool: PoolSnapshot, request: PlanTransfersInput) -> ForecastInput:
    """The style-level forecast of the same series: what pooled sizes take each (location,
    style)'s window total from.

    Why not the sum of the SKU forecasts: one size of one style in one store sells a few units a
    month, and the SKU-level model's errors on series that sparse do not cancel within a style —
    on rain-shanghai-heavy the SKU forecasts of a store's umbrellas summed to 0.07 units for a
    wet 2-day window whose expected demand was 1.1, and its rain boots to 3.7 against 1.4, while
    the style-level model said 0.61 and 0.99 (``benchmarks/decisions.py --bound-draws``)."""
    return forecast_request(pool, request).model_copy(update={"level": "style"})


def _level_groups(pool: PoolSnapshot) -> np.ndarray:
    """(locations, skus) labels: city × channel (store / online / DC) × category.

    The SKU-level model leaves out the days a size was sold out, so summed over a city's stores
    and a category its level is the demand's; the style-level model counts a style-day as in
    stock until half its sizes are out (``forecast_demand.pool_panel.STYLE_CENSOR_SHARE``), so it
    learns the sales of broken size runs and runs low (0.53–0.81 of the world's expected wet
    window at the act scenarios' stores, against 0.55–1.30 for the SKU sums). Each such group
    therefore takes its total from the SKU forecasts and its split over stores, styles and sizes
    from the style forecast and the size curves."""
    place, _ = pd.factorize(pd.Series([f"{loc.city}|{loc.kind}" for loc in pool.locations]))
    category, names = pd.factorize(pd.Series([sku.category for sku in pool.skus]))
    return place[:, None].astype(np.int64) * max(len(names), 1) + category[None, :]


def _style_totals(pool: PoolSnapshot, forecast: ForecastOutput) -> np.ndarray:
    """(locations, skus): each SKU's style's forecast window total at each location (NaN where
    the style forecast has no series)."""
    styles = pd.Index(sorted({sku.style for sku in pool.skus}))
    grid = np.full((len(pool.locations), len(styles)), np.nan)
    if forecast.series:
        i = pd.Index([loc.code for loc in pool.locations]).get_indexer(
            [s.location for s in forecast.series]
        )
        k = styles.get_indexer([s.style for s in forecast.series])
        known = (i >= 0) & (k >= 0)
        totals = np.array([s.total_mean for s in forecast.series], dtype=float)
        seen = np.zeros(grid.shape, dtype=bool)
        seen[i[known], k[known]] = True
        summed = np.zeros(grid.shape)
        np.add.at(summed, (i[known], k[known]), totals[known])
        grid = np.where(seen, summed, np.nan)
    return grid[:, styles.get_indexer([sku.style for sku in pool.skus])]


def _case_arrays(
    ctx: ToolContext,
    pool: PoolSnapshot,
    request: PlanTransfersInput,
    forecast: ForecastProvider,
    made: ForecastOutput,
    shares: np.ndarray | None,
    placement: Placement,
) -> tuple[np.ndarray, np.ndarray]:
    """Window-total quantiles and means under ``request.rain`` (``made``: that forecast); with
    ``shares`` (the size curves, ``size_shares``) each style's total is split by them and set to
    the SKU model's level (``pool_sizes``, ``match_level``); with ``placement`` "history" each
    style's city total is shared over the stores by their sales (``placement.place_stores``).
    One path for the plan's rain case and its dry case."""
    quantiles, mean = _demand_arrays(pool, made)
    style_of = np.array([sku.style for sku in pool.skus])
    if shares is not None:
        totals = _style_totals(pool, forecast(ctx, style_request(pool, request)))
        pooled = pool_sizes(mean, quantiles, shares, style_of, totals)
        mean, quantiles = match_level(*pooled, mean, _level_groups(pool))
    if placement == "history":
        cities = np.array([loc.city for loc in pool.locations])
        kinds = np.array([loc.kind for loc in pool.locations])
        mean, quantiles = place_stores(mean, quantiles, pool.sold, style_of, cities, kinds)
    return quantiles, mean


def _level_corrected(
    case: tuple[np.ndarray, np.ndarray], factor: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A case's (quantiles, mean) with the level backtest's factor applied, dispersion kept."""
    mean, quantiles = scale_counts(case[1], case[0], factor)
    return quantiles, mean


def build_problem(
    ctx: ToolContext,
    request: PlanTransfersInput,
    forecast: ForecastProvider,
    *,
    size_pooling: SizePooling | None = None,
    placement: Placement | None = None,
) -> tuple[TransferProblem, ForecastOutput]:
    """The plan's problem; ``size_pooling`` (default ``size_curves.SIZE_POOLING``) and
    ``placement`` (default ``placement.PLACEMENT``) are for comparing rules
    (benchmarks/decisions.py's levers)."""
    placement = placement or PLACEMENT
    pool = read_pool(ctx, request)
    sku_codes = [sku.code for sku in pool.skus]
    forecast_out = forecast(ctx, forecast_request(pool, request))
    if not forecast_out.series:
        raise ToolError(
            f"the forecast returned no series for {len(sku_codes)} SKU(s)", field="forecast"
        )
    try:
        terms = load_value_terms(ctx.settings.value_terms_file)
    except ValueTermsError as exc:
        raise ToolError(str(exc), field="value_terms_file") from exc
    shares = None
    if request.pool_sizes:
        style_of = np.array([sku.style for sku in pool.skus])
        cities = np.array([loc.city for loc in pool.locations])
        shares = size_shares(pool.sold, style_of, cities, size_pooling)
    hit, notes = _hit_rate(ctx, request, terms)
    if placement == "history":
        notes = (
            *notes,
            "each style's forecast for a city's stores shared over them by their sales of the "
            f"last {CURVE_DAYS} days (a store's own taste for a style kept where its sales show "
            "it)",
        )
    quantiles, mean = _case_arrays(ctx, pool, request, forecast, forecast_out, shares, placement)
    dry: tuple[np.ndarray, np.ndarray] | None = None
    no_rain: tuple[np.ndarray, np.ndarray] | None = None
    if hit < 1.0:
        dry_case = request.model_copy(update={"rain": []})
        dry_out = forecast(ctx, forecast_request(pool, dry_case))
        dry = _case_arrays(ctx, pool, dry_case, forecast, dry_out, shares, placement)
        no_rain_case = no_rain_request(request, ctx.today)
        no_rain_out = forecast(ctx, forecast_request(pool, no_rain_case))
        no_rain = _case_arrays(ctx, pool, no_rain_case, forecast, no_rain_out, shares, placement)
    if request.level_backtest:
        factor = backtest_level_grid(ctx, pool, request)
        if factor is not None:
            quantiles, mean = _level_corrected((quantiles, mean), factor)
            if dry is not None:
                dry = _level_corrected(dry, factor)
            if no_rain is not None:
                no_rain = _level_corrected(no_rain, factor)
            notes = (
                *notes,
                "forecast level corrected by its backtest before the clock: "
                f"×{factor[factor != 1].min(initial=1):.2f}–{factor.max(initial=1):.2f} "
                "by city × channel × category",
            )
    try:
        problem = TransferProblem(
            locations=pool.locations,
            skus=pool.skus,
            stock=pool.stock,
            atp=pool.atp,
            min_display=pool.min_display,
            days_since_received=pool.days_since_received,
            demand_levels=np.array(QUANTILES),
            demand_quantiles=quantiles,
            demand_mean=mean,
            lanes=pool.lanes,
            window_days=request.window_days,
            constraints=request.constraints,
            destinations=pool.destinations,
            demand_kind="counts",
            value_terms=terms,
            rain_hit_rate=hit,
            dry_quantiles=None if dry is None else dry[0],
            dry_mean=None if dry is None else dry[1],
            no_rain_quantiles=None if no_rain is None else no_rain[0],
            no_rain_mean=None if no_rain is None else no_rain[1],
            notes=notes,
        )
    except ProblemError as exc:
        raise ToolError(str(exc), field=exc.field, value=exc.value) from exc
    return problem, forecast_out


def no_rain_request(request: PlanTransfersInput, today: dt.date) -> PlanTransfersInput:
    """``request`` with not a drop in the cities it warns of, on every day of its window: the case
    a false alarm's cost is read on (``false_alarm``). The dry case (no rain given) is the
    date's climate, which still rains on some days."""
    warned = dict.fromkeys(r.city for r in request.rain if r.precipitation_mm_per_day > 0)
    return request.model_copy(
        update={
            "rain": [
                RainScenario(
                    city=city, start=today, days=request.window_days, precipitation_mm_per_day=0.0
                )
                for city in warned
            ]
        }
    )


def backtest_level_grid(
    ctx: ToolContext, pool: PoolSnapshot, request: PlanTransfersInput
) -> np.ndarray | None:
    """(locations, skus): each position's level correction from the stored forecaster's backtest
    before the clock (``forecast_error.level_factors``; 1 off the forecast's series), or None
    without a stored forecaster. Kept per pool, models directory, clock and request, so an
    alert's plan and its re-plans read the history once; the stored forecaster's version is
    part of the key, so a refit (even at the same clock) is backtested anew."""
    from tools.forecast_demand.tool import prepare_forecast, stored_model

    made = forecast_request(pool, request).model_copy(update={"rain": []})
    stored = stored_model(ctx, made.level)
    if stored is None:
        return None  # the stand-in baseline has no out-of-sample days (forecast_error.backtest)
    key = (
        str(ctx.engine.url),
        str(ctx.settings.data_dir),
        ctx.today,
        f"{stored.meta.label}@{stored.meta.created_at}",
        made.model_dump_json(),
    )
    if key not in _LEVEL_GRIDS:
        result = backtest(prepare_forecast(ctx, made), request.window_days)
        grid: np.ndarray | None = None
        if result is not None:
            grid = np.ones((len(pool.locations), len(pool.skus)))
            i = pd.Index([loc.code for loc in pool.locations]).get_indexer(
                result.series["location"]
            )
            j = pd.Index([sku.code for sku in pool.skus]).get_indexer(result.series["sku"])
            known = (i >= 0) & (j >= 0)
            grid[i[known], j[known]] = level_factors(result)[known]
        while len(_LEVEL_GRIDS) >= 32:
            _LEVEL_GRIDS.pop(next(iter(_LEVEL_GRIDS)))
        _LEVEL_GRIDS[key] = grid
    return _LEVEL_GRIDS[key]


_LEVEL_GRIDS: dict[tuple[str, str, object, str, str], np.ndarray | None] = {}


def _hit_rate(
    ctx: ToolContext, request: PlanTransfersInput, terms: ValueTerms
) -> tuple[float, tuple[str, ...]]:
    """P(the rain the request assumes falls): given, or from the pool's alert record; 1 (and no
    dry forecast to make) when the request assumes no rain."""
    wet = [r for r in request.rain if r.precipitation_mm_per_day > 0]
    if not wet:
        return 1.0, ()
    if request.rain_hit_rate is not None:
        p = request.rain_hit_rate
        return p, (f"rain taken as falling with p = {p:.2f} (given)",) if p < 1 else ()
    with ctx.engine.connect() as conn:
        hit = alert_hit_rate(
            conn,
            max(r.precipitation_mm_per_day for r in wet),
            ctx.today,
            terms.alert_verification,
        )
        conn.rollback()
    return hit.probability, (hit.note,) if hit.probability < 1 else ()


def _demand_arrays(pool: PoolSnapshot, forecast: ForecastOutput) -> tuple[np.ndarray, np.ndarray]:
    """Window-total quantiles and means on the pool's (location, SKU) grid."""
    keys = [f"p{round(q * 100)}" for q in QUANTILES]
    loc_index = pd.Index([loc.code for loc in pool.locations])
    sku_index = pd.Index([sku.code for sku in pool.skus])
    series = forecast.series
    i = loc_index.get_indexer([s.location for s in series])
    j = sku_index.get_indexer([s.sku for s in series])
    quantiles = np.zeros((*pool.stock.shape, len(QUANTILES)))
    mean = np.zeros(pool.stock.shape)
    rows = np.zeros((len(series), len(QUANTILES)))
    for n, s in enumerate(series):
        if i[n] < 0 or j[n] < 0:
            continue
        try:
            rows[n] = [s.total_quantiles[key] for key in keys]
        except KeyError as exc:
            raise ToolError(
                f"forecast for {s.location}/{s.sku} lacks quantile {exc}",
                field="forecast.total_quantiles",
                value=sorted(s.total_quantiles),
            ) from exc
    known = (i >= 0) & (j >= 0)
    quantiles[i[known], j[known]] = rows[known]
    mean[i[known], j[known]] = np.array([s.total_mean for s in series])[known]
    return quantiles, mean


def plan_forecast_input(ctx: ToolContext, request: PlanTransfersInput) -> ForecastInput:
    """The forecast ``plan_transfers(ctx, request)`` will ask for, so a caller can make it first
    (the alert graph forecasts once and hands it on with ``reusing_provider``)."""
    return forecast_request(read_pool(ctx, request), request)


def reusing_provider(
    made: ForecastInput, output: ForecastOutput, prepared: PreparedForecast | None = None
) -> ForecastProvider:
    """A provider that answers ``made`` with ``output`` and, when ``prepared`` (what ``made``
    read from the pool) is given, every other forecast from one prepared read per request
    less its rain: ``made`` under other rain (the plan's dry forecast) from ``prepared``, the
    style level (pooled sizes' split, ``style_request``) from a read of its own made on its
    first ask and kept for its dry twin. Without ``prepared``, anything else is forecast afresh.

    The answers other than ``output`` carry each series' horizon totals only: a plan reads
    nothing else of them (``build_problem``), and the daily points and explanations cost most
    of an answer."""

    def rainless(request: ForecastInput) -> str:
        return request.model_copy(update={"rain": []}).model_dump_json()

    kept: dict[str, PreparedForecast] = {}
    if prepared is not None:
        kept[rainless(made)] = prepared

    def provider(ctx: ToolContext, request: ForecastInput) -> ForecastOutput:
        if request == made:
            return output
        if prepared is None:
            return default_forecast_provider(ctx, request)
        from tools.forecast_demand.tool import prepare_forecast

        key = rainless(request)
        if key not in kept:
            kept[key] = prepare_forecast(ctx, request)
        return kept[key].answer(request.rain, totals_only=True)

    return provider
