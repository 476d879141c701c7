"""recommend_promos(ctx, PromoInput) -> PromoOutput: markdowns for overstock, or a transfer.

A style at a location is at risk when its weeks of cover (stock over forecast weekly demand)
exceed the threshold or outlast the season. For each, the markdown ladder is priced with the
category's estimated elasticity, and the best full-price transfer within the region is priced
too; the verdict is whichever adds the most margin, or hold.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sqlmodel import Session, col, select

from inventory.models import DailySales, Lane, Location, Sku, StockPosition, Style
from tools.context import ToolContext, ToolError, category_code, resolve_city
from tools.forecast_demand.models import ForecastInput, ForecastOutput
from tools.plan_transfers.value import ValueTerms, freight, load_value_terms
from tools.recommend_promos.economics import StyleStock
from tools.recommend_promos.elasticity import Elasticity, estimate_elasticity
from tools.recommend_promos.models import (
    MarkdownOption,
    PromoInput,
    PromoOutput,
    PromoRecommendation,
    TransferAlternative,
)

ForecastProvider = Callable[[ToolContext, ForecastInput], ForecastOutput]
FORECAST_DAYS = 28
ELASTICITY_HISTORY_DAYS = 365


def default_forecast_provider(ctx: ToolContext, request: ForecastInput) -> ForecastOutput:
    from tools.forecast_demand.tool import forecast_demand

    return forecast_demand(ctx, request)


@dataclass(frozen=True)
class Place:
    code: str
    city: str
    region: str
    tier: str


def _scope_locations(session: Session, request: PromoInput) -> tuple[list[Place], list[Place]]:
    """(locations to judge, every selling location in their regions for the alternative)."""
    stores = [
        Place(loc.code, loc.city, loc.region, loc.tier)
        for loc in session.exec(select(Location).where(col(Location.kind) != "dc"))
    ]
    codes = {loc.code for loc in stores}
    unknown = sorted(set(request.locations) - codes)
    if unknown:
        raise ToolError(f"unknown location(s): {unknown}", field="locations", value=unknown)
    judged = stores
    if request.locations:
        judged = [loc for loc in stores if loc.code in request.locations]
    if request.city:
        city = resolve_city(session, request.city)
        judged = [loc for loc in judged if loc.city == city]
    if request.region:
        judged = [loc for loc in judged if loc.region.lower() == request.region.lower()]
        if not judged:
            raise ToolError(
                f"unknown region {request.region!r}", field="region", value=request.region
            )
    regions = {loc.region for loc in judged}
    return judged, [loc for loc in stores if loc.region in regions]


def _styles(session: Session, request: PromoInput) -> list[Style]:
    query = select(Style)
    if request.category:
        query = query.where(Style.category == category_code(session, request.category))
    if request.styles:
        query = query.where(col(Style.code).in_(request.styles))
    styles = list(session.exec(query.order_by(col(Style.code))).all())
    missing = sorted(set(request.styles) - {s.code for s in styles})
    if missing:
        raise ToolError(f"unknown style(s): {missing}", field="styles", value=missing)
    if not styles:
        raise ToolError(
            f"no style in category {request.category!r}", field="category", value=request.category
        )
    return styles


def _elasticity(session: Session, category: str, today: dt.date) -> Elasticity:
    since = today - dt.timedelta(days=ELASTICITY_HISTORY_DAYS)
    rows = session.exec(
        select(Sku.style_code, DailySales.date, DailySales.units, DailySales.price, Style.price)
        .join(Sku, col(Sku.code) == col(DailySales.sku_code))
        .join(Style, col(Style.code) == col(Sku.style_code))
        .where(Style.category == category, DailySales.date >= since, DailySales.date < today)
        .where(col(DailySales.stockout).is_(False))
    ).all()
    per_day: dict[tuple[str, dt.date], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
    for style, day, units, paid, full in rows:
        acc = per_day[(style, day)]
        acc[0] += units
        acc[1] += units * paid / full if full else 0.0
        acc[2] += paid / full if full else 0.0
        acc[3] += 1
    if not per_day:
        return estimate_elasticity(np.array([]), np.array([]), np.array([]))
    styles, units, ratio = [], [], []
    for (style, _), (u, weighted, plain, n) in per_day.items():
        styles.append(style)
        units.append(u)
        ratio.append(weighted / u if u > 0 else plain / n)
    return estimate_elasticity(np.array(styles), np.array(units), np.array(ratio))


def recommend_promos(
    ctx: ToolContext, request: PromoInput, *, forecast_provider: ForecastProvider | None = None
) -> PromoOutput:
    forecast = forecast_provider or default_forecast_provider
    terms = load_value_terms(ctx.settings.value_terms_file)
    notes: list[str] = []
    with ctx.read() as session:
        judged, peers = _scope_locations(session, request)
        styles = _styles(session, request)
        skus = list(
            session.exec(select(Sku).where(col(Sku.style_code).in_([s.code for s in styles])))
        )
        sku_style = {sku.code: sku.style_code for sku in skus}
        peer_codes = [loc.code for loc in peers]
        stock: dict[tuple[str, str], int] = defaultdict(int)
        for pos in session.exec(
            select(StockPosition).where(
                col(StockPosition.sku_code).in_(list(sku_style)),
                col(StockPosition.location_code).in_(peer_codes),
            )
        ):
            stock[(pos.location_code, sku_style[pos.sku_code])] += max(
                pos.on_hand - pos.reserved, 0
            )
        lanes = {
            (ln.source_code, ln.dest_code): (ln.cost_per_unit, ln.cost_per_shipment)
            for ln in session.exec(select(Lane).where(col(Lane.source_code).in_(peer_codes)))
        }
        elasticities = {
            category: _elasticity(session, category, ctx.today)
            for category in sorted({s.category for s in styles})
        }
        style_rows = [(s.code, s.category, s.price, s.cost, s.season_end) for s in styles]
    _check_scope(request, len(sku_style), len(peer_codes))
    out = forecast(
        ctx,
        ForecastInput(
            skus=list(sku_style),
            locations=peer_codes,
            horizon_days=FORECAST_DAYS,
            limit_series=max(len(sku_style) * len(peer_codes), 1),
        ),
    )
    weekly: dict[tuple[str, str], float] = defaultdict(float)
    for series in out.series:
        if series.sku in sku_style:
            weekly[(series.location, sku_style[series.sku])] += (
                series.total_mean * 7 / FORECAST_DAYS
            )
    for category, e in elasticities.items():
        if e.source == "prior":
            notes.append(
                f"{category}: too little price variation in history; elasticity prior "
                f"{e.value} {e.interval} used"
            )
    tiers = {loc.code: loc.tier for loc in peers}
    recommendations: list[PromoRecommendation] = []
    for code, category, price, cost, season_end in style_rows:
        elasticity = elasticities[category]
        weeks_left = None
        if season_end:
            days = (dt.date.fromisoformat(season_end[:10]) - ctx.today).days
            weeks_left = max(days / 7.0, 0.0)
        for loc in judged:
            on_hand = stock.get((loc.code, code), 0)
            rate = weekly.get((loc.code, code), 0.0)
            if on_hand <= 0:
                continue
            cover = on_hand / rate if rate > 0 else 999.0
            horizon = weeks_left if weeks_left is not None else request.weeks_of_cover_threshold
            at_risk = cover > request.weeks_of_cover_threshold or (
                weeks_left is not None and cover > weeks_left
            )
            if not at_risk:
                continue
            econ = StyleStock(on_hand, rate, price, cost, max(horizon, 1.0 / 7.0))
            options = [econ.markdown(d, elasticity.value) for d in sorted(request.ladder)]
            best = max(options, key=lambda o: o.margin_impact)
            alternative = _transfer_alternative(
                loc, code, econ, peers, tiers, stock, weekly, lanes, terms
            )
            recommendations.append(
                _recommendation(
                    code,
                    loc.code,
                    category,
                    on_hand,
                    cover,
                    weeks_left,
                    elasticity,
                    options,
                    best,
                    alternative,
                )
            )
    recommendations.sort(key=lambda r: -r.weeks_of_cover)
    if len(recommendations) > request.limit:
        notes.append(f"showing {request.limit} of {len(recommendations)} at-risk positions")
    notes.append(f"demand from {out.model}")
    return PromoOutput(
        as_of=ctx.now.isoformat(), recommendations=recommendations[: request.limit], notes=notes
    )


def _check_scope(request: PromoInput, n_skus: int, n_locations: int) -> None:
    """Refuse before forecasting when the scope needs more series than the caller allows."""
    n_series = n_skus * n_locations
    if request.limit_series is not None and n_series > request.limit_series:
        raise ToolError(
            f"the request needs {n_series} SKU × location forecasts ({n_skus} SKUs at "
            f"{n_locations} locations of the judged regions), more than limit_series="
            f"{request.limit_series}; narrow it (city, region, category, styles, locations)",
            field="limit_series",
            value=request.limit_series,
        )


def _transfer_alternative(
    loc: Place,
    style: str,
    econ: StyleStock,
    peers: list[Place],
    tiers: dict[str, str],
    stock: dict[tuple[str, str], int],
    weekly: dict[tuple[str, str], float],
    lanes: dict[tuple[str, str], tuple[float, float]],
    terms: ValueTerms,
) -> TransferAlternative | None:
    excess = int(econ.on_hand - econ.weekly_rate * econ.horizon_weeks)
    best: TransferAlternative | None = None
    for dest in peers:
        lane = lanes.get((loc.code, dest.code))
        if dest.code == loc.code or lane is None:
            continue
        if tiers[loc.code] == "outlet" and dest.tier != "outlet":
            continue  # outlet stock never goes back to full-price stores
        need = weekly.get((dest.code, style), 0.0) * econ.horizon_weeks - stock.get(
            (dest.code, style), 0
        )
        units = int(min(excess, np.floor(need)))
        if units <= 0:
            continue
        cost = float(freight(units, *lane))
        dest_margin = max(econ.price * terms.price_factor(dest.tier) - econ.cost, 0.0)
        net = econ.transfer_margin(units, dest_margin, cost)
        if best is None or net > best.net_value:
            best = TransferAlternative(
                dest=dest.code,
                units=units,
                expected_full_price_units=float(units),
                transfer_cost=round(cost, 2),
                net_value=round(net, 2),
            )
    return best


def _recommendation(
    style: str,
    location: str,
    category: str,
    on_hand: int,
    cover: float,
    weeks_left: float | None,
    elasticity: Elasticity,
    options: list[MarkdownOption],
    best: MarkdownOption,
    alternative: TransferAlternative | None,
) -> PromoRecommendation:
    transfer_value = alternative.net_value if alternative else 0.0
    if alternative is not None and transfer_value > max(best.margin_impact, 0.0):
        verdict = (
            f"transfer: {alternative.units} units to {alternative.dest} adds "
            f"{transfer_value:,.0f} CNY margin (best markdown {best.depth:.0%}: "
            f"{best.margin_impact:,.0f})"
        )
        depth = None
    elif best.margin_impact > 0:
        verdict = (
            f"markdown: {best.depth:.0%} adds {best.margin_impact:,.0f} CNY margin and "
            f"{best.expected_extra_units:.1f} units (elasticity {elasticity.value:.2f}, "
            f"95% {elasticity.interval[0]:.2f}..{elasticity.interval[1]:.2f})"
        )
        depth = best.depth
    else:
        verdict = "hold: no markdown or transfer adds margin over clearing at season end"
        depth = None
    return PromoRecommendation(
        style=style,
        location=location,
        category=category,
        on_hand=on_hand,
        weeks_of_cover=round(cover, 2),
        weeks_to_season_end=None if weeks_left is None else round(weeks_left, 2),
        elasticity=round(elasticity.value, 3),
        elasticity_ci=(round(elasticity.interval[0], 3), round(elasticity.interval[1], 3)),
        options=options,
        recommended_depth=depth,
        transfer_alternative=alternative,
        verdict=verdict,
    )
