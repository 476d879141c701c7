"""The alert_response nodes. Every decision here is deterministic; tools do the numbers."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import TYPE_CHECKING, Any, NamedTuple

from langchain_core.runnables import RunnableConfig
from sqlalchemy import case, func
from sqlmodel import Session, select

from agents.graphs.alert_response.report import write_report
from agents.graphs.alert_response.state import AlertPayload, AlertState
from agents.graphs.common.orders import create_markdown, create_transfer
from agents.proposals import MarkdownProposalInput
from agents.runtime import AgentRuntime
from inventory.db import session_scope
from inventory.models import Location, Sku, StockPosition, Style
from inventory.vocabulary import RainBand, load_vocabulary, rain_band
from tools.context import ToolError
from tools.forecast_demand.models import ForecastInput, ForecastOutput, RainScenario
from tools.plan_transfers.models import PlanTransfersInput, TransferConstraints, TransferPlan
from tools.plan_transfers.pool import plan_forecast_input, reusing_provider
from tools.plan_transfers.tool import plan_transfers
from tools.recommend_promos.models import PromoInput, PromoOutput
from tools.registry import TOOLS

if TYPE_CHECKING:  # the forecast tool (and its models) load on the first forecast
    from tools.forecast_demand.tool import PreparedForecast

SEVERITY: dict[RainBand, str] = {
    RainBand.NONE: "none",
    RainBand.LIGHT: "low",
    RainBand.MODERATE: "moderate",
    RainBand.HEAVY: "high",
    RainBand.RAINSTORM: "severe",
}
#: Bands that move demand enough to act on (a wet day is ≥ 10 mm, 中雨).
ACTION_BANDS = {RainBand.MODERATE, RainBand.HEAVY, RainBand.RAINSTORM}
EMERGENCY_BANDS = {RainBand.HEAVY, RainBand.RAINSTORM}
MAX_MARKDOWNS_PER_ALERT = 20
#: A style expected to sell at least this many units in the window makes its empty sizes holes.
MIN_DEMAND_FOR_SIZE_HOLE = 0.5
#: An emergency shipment's expected net value must be at least this share of its freight. The
#: unsold cost already prices a unit that may not sell *given* the forecast; this hedges the
#: forecast's own error: the trips chosen are those the forecast rates highest, so the thinnest of
#: them are the likeliest to lose (the optimiser's curse). Dropping one gives up at most that share
#: of its freight in expectation; on a dry-day alert it saves its freight and unsold cost. The
#: share follows the forecast it hedges: 0.5 (session 24, chosen when a lower one let
#: false-alarm-guangzhou lose ¥601), 0.25 once the size curve was pooled (session 31), 0.1 since
#: the stores are placed by their sales (2026-12-07). Measured exactly under the world's expected
#: demand on the suite's worlds and both held-out draws (30 act worlds and 9 / 15 / 15 false
#: alarms each, docs/optimizer.md "The freight hurdle on the new placement"): 0.25 → 0.1 earns
#: +¥298 / +¥279 / +¥430 of act value (capture of the perfect-mean plan 0.751 / 0.658 / 0.656 →
#: 0.765 / 0.667 / 0.669) for ¥56 / ¥255 / ¥0 more false-alarm loss, the worst false alarm and
#: those past the −¥500 cap unchanged; 0 adds 0.003 / 0.020 / 0.005 of capture and loses ¥99 /
#: ¥0 / ¥339 more on the false alarms.
MIN_NET_TO_COST = 0.1
#: SKU-level forecasts kept between the forecast and plan nodes of a run (in memory only: a run
#: resumed in another process forecasts again in the plan node).
MAX_KEPT_FORECASTS = 16


def alert_window_days(alert: AlertPayload) -> int:
    """Days the alert's plan covers: the alert's own days and the day after (at most a week)."""
    return min(7, alert.days + 1)


def alert_scope(session: Session, city: str) -> dict[str, Any]:
    """What an alert in ``city`` may act on: the city's stores and the rain categories."""
    rain_categories = sorted(load_vocabulary(session).rain_categories)
    stores = list(
        session.exec(
            select(Location.code)
            .where(Location.kind == "store", Location.city == city)
            .order_by(Location.code)
        ).all()
    )
    skus = session.exec(
        select(func.count(func.distinct(StockPosition.sku_code)))
        .join(Sku, Sku.code == StockPosition.sku_code)
        .join(Style, Style.code == Sku.style_code)
        .where(
            StockPosition.location_code.in_(stores),  # type: ignore[attr-defined]
            Style.category.in_(rain_categories),  # type: ignore[attr-defined]
        )
    ).one()
    return {"stores": stores, "categories": rain_categories, "skus": int(skus or 0)}


def alert_plan_request(
    alert: AlertPayload, *, city: str, start: dt.date, stores: list[str], categories: list[str]
) -> PlanTransfersInput:
    """The transfer plan an alert asks for. One definition: the graph's forecast and plan nodes
    use it, and so does ``benchmarks/decisions.py``, which must measure this very request (it
    once built its own, without the stores as destinations: a city's online node then took
    part in Shanghai's plans, and the benchmark's plans differed from the product's there)."""
    rain = (
        [
            RainScenario(
                city=alert.city,
                start=start,
                days=min(28, alert.days),
                precipitation_mm_per_day=alert.mm_per_day,
            )
        ]
        if alert.type == "rain"
        else []
    )
    return PlanTransfersInput(
        city=city,
        categories=categories,
        destinations=stores,
        window_days=alert_window_days(alert),
        rain=rain,
        constraints=TransferConstraints(min_net_to_cost=MIN_NET_TO_COST),
    )


class AlertNodes:
    def __init__(self, runtime: AgentRuntime) -> None:
        self.runtime = runtime
        self._forecasts: dict[str, tuple[ForecastInput, ForecastOutput, PreparedForecast]] = {}

    def _plan_request(self, state: AlertState) -> PlanTransfersInput:
        triage, scope = state["triage"], state["scope"]
        return alert_plan_request(
            self._alert(state),
            city=triage["city"],
            start=dt.date.fromisoformat(triage["start"]),
            stores=scope["stores"],
            categories=scope["categories"],
        )

    def _alert(self, state: AlertState) -> AlertPayload:
        return AlertPayload.model_validate(state["alert"])

    def triage(self, state: AlertState, config: RunnableConfig) -> AlertState:
        alert = self._alert(state)
        with self.runtime.tool_context().read() as session:
            vocabulary = load_vocabulary(session)
        city = vocabulary.resolve_city(alert.city)
        configurable = config.get("configurable", {})
        thread_id = str(configurable.get("thread_id", ""))
        run_id = state.get("run_id") or str(configurable.get("run_id") or thread_id)
        start = alert.start or self.runtime.clock().date()
        band = rain_band(alert.mm_per_day)
        act = alert.type == "overstock" or band in ACTION_BANDS
        reason = (
            f"{alert.type} alert for {city}"
            if alert.type != "rain"
            else f"{alert.mm:g} mm in {alert.hours} h ≈ {alert.mm_per_day:.1f} mm/day: {band}"
        )
        if not act:
            reason += " — below the 10 mm/day wet-day band, no action"
        return {
            "run_id": run_id,
            "thread_id": thread_id,
            "triage": {
                "type": alert.type,
                "city": city,
                "region": vocabulary.cities[city].region,
                "band": str(band),
                "severity": SEVERITY[band] if alert.type == "rain" else "n/a",
                "act": act,
                "emergency": band in EMERGENCY_BANDS,
                "start": start.isoformat(),
                "window_days": alert_window_days(alert),
                "reason": reason,
            },
        }

    def scope(self, state: AlertState) -> AlertState:
        with self.runtime.tool_context().read() as session:
            return {"scope": alert_scope(session, state["triage"]["city"])}

    def forecast(self, state: AlertState) -> AlertState:
        """Demand with the rain against what the stores can sell: is anyone short?

        Short means a store's forecast for a rain style exceeds its ATP, or a size the style
        will sell is already at zero there (a size hole the planner can fill). One SKU-level
        forecast, exactly the one the planner needs (every rain SKU at the stores that
        can give or take), is made here once and handed to the plan node; summed to styles it
        answers the question above.
        """
        from tools.forecast_demand.tool import prepare_forecast

        scope = state["scope"]
        ctx = self.runtime.tool_context()
        try:
            request = plan_forecast_input(ctx, self._plan_request(state))
            # Kept with what it read from the pool: the plan's dry forecast (the same series
            # without the alert's rain) is answered from it without reading the pool again.
            prepared = prepare_forecast(ctx, request)
            result = prepared.answer(request.rain)
        except ToolError as exc:
            return {"forecast": {"error": f"forecast failed: {exc}"}}
        while len(self._forecasts) >= MAX_KEPT_FORECASTS:
            self._forecasts.pop(next(iter(self._forecasts)))
        self._forecasts[state["run_id"]] = (request, result, prepared)
        with ctx.read() as session:
            stock = _rain_stock(session, scope["stores"])
        demand: dict[tuple[str, str], float] = defaultdict(float)
        for series in result.series:  # type: ignore[attr-defined]
            if (series.location, series.style) in stock:
                demand[(series.location, series.style)] += series.total_mean
        shortfalls = {
            key: units - stock[key].atp for key, units in demand.items() if units > stock[key].atp
        }
        size_holes = sum(
            stock[key].empty_sizes
            for key, units in demand.items()
            if units >= MIN_DEMAND_FOR_SIZE_HOLE
        )
        top = sorted(shortfalls.items(), key=lambda item: -item[1])[:5]
        through = result.sales_through  # type: ignore[attr-defined]
        weather = result.weather_through  # type: ignore[attr-defined]
        return {
            "forecast": {
                "model": result.model,  # type: ignore[attr-defined]
                "sales_through": None if through is None else through.isoformat(),
                "unimported_days": prepared.unknown_days,
                "weather_through": None if weather is None else weather.isoformat(),
                "unrecorded_weather_days": prepared.unrecorded_weather_days,
                "demand_units": round(sum(demand.values()), 1),
                "atp_units": sum(row.atp for row in stock.values()),
                "short_units": round(sum(shortfalls.values()), 1),
                "short_series": len(shortfalls),
                "size_holes": size_holes,
                "top_shortfalls": [
                    {"location": loc, "style": style, "short_units": round(units, 1)}
                    for (loc, style), units in top
                ],
            }
        }

    def plan(self, state: AlertState) -> AlertState:
        kept = self._forecasts.pop(state["run_id"], None)
        try:
            plan = plan_transfers(
                self.runtime.tool_context(),
                self._plan_request(state),
                forecast_provider=reusing_provider(*kept) if kept else None,
            )
        except ToolError as exc:
            return {"plan": {"error": f"planning failed: {exc}"}}
        return {"plan": plan.model_dump(mode="json")}

    def propose(self, state: AlertState) -> AlertState:
        plan = TransferPlan.model_validate(state["plan"])
        triage = state["triage"]
        now = self.runtime.clock()
        with session_scope(self.runtime.engine) as session:
            records = [
                create_transfer(
                    session,
                    shipment,
                    key=f"plan:{index}:{shipment.source}>{shipment.dest}",
                    run_id=state["run_id"],
                    requested_by="alert_response",
                    reason=f"{triage['city']} rain alert: {triage['reason']}",
                    emergency=triage["emergency"],
                    origin=None,
                    at=now,
                )
                for index, shipment in enumerate(plan.shipments)
            ]
        return {"proposals": records}

    def promos(self, state: AlertState) -> AlertState:
        """Overstock: markdowns the promo tool recommends, each through the same gate."""
        triage = state["triage"]
        try:
            output = TOOLS["recommend_promos"].run(
                self.runtime.tool_context(), PromoInput(city=triage["city"])
            )
        except ToolError as exc:
            return {"plan": {"error": f"promo recommendation failed: {exc}"}}
        assert isinstance(output, PromoOutput)
        picks = [
            r
            for r in output.recommendations
            if r.recommended_depth and r.verdict.startswith("markdown")
        ][:MAX_MARKDOWNS_PER_ALERT]
        now = self.runtime.clock()
        with session_scope(self.runtime.engine) as session:
            records = [
                create_markdown(
                    session,
                    MarkdownProposalInput(
                        style=rec.style,
                        location=rec.location,
                        depth=rec.recommended_depth or 0.0,
                        reason=rec.verdict,
                    ),
                    key=f"promo:{rec.style}:{rec.location}",
                    run_id=state["run_id"],
                    requested_by="alert_response",
                    origin=None,
                    at=now,
                    expected=_chosen_option(rec.options, rec.recommended_depth),
                )
                for rec in picks
            ]
        return {"proposals": records, "plan": {"promos": len(records), "notes": output.notes}}

    def report(self, state: AlertState) -> AlertState:
        return write_report(self.runtime, state)


class _StyleStock(NamedTuple):
    atp: int
    empty_sizes: int


def _rain_stock(session: Session, stores: list[str]) -> dict[tuple[str, str], _StyleStock]:
    """ATP and sizes at zero per (store, rain style), in one aggregate query."""
    atp = case(
        (
            StockPosition.on_hand - StockPosition.reserved - StockPosition.safety > 0,
            StockPosition.on_hand - StockPosition.reserved - StockPosition.safety,
        ),
        else_=0,
    )
    rows = session.exec(
        select(
            StockPosition.location_code,
            Sku.style_code,
            func.sum(atp),
            func.sum(case((atp == 0, 1), else_=0)),
        )
        .join(Sku, Sku.code == StockPosition.sku_code)
        .join(Style, Style.code == Sku.style_code)
        .where(
            StockPosition.location_code.in_(stores),  # type: ignore[attr-defined]
            Style.category.in_(sorted(load_vocabulary(session).rain_categories)),  # type: ignore[attr-defined]
        )
        .group_by(StockPosition.location_code, Sku.style_code)
    ).all()
    return {
        (location, style): _StyleStock(int(total or 0), int(empty or 0))
        for location, style, total, empty in rows
    }


def _chosen_option(options: list[Any], depth: float | None) -> dict[str, float]:
    for option in options:
        if depth is not None and abs(option.depth - depth) < 1e-9:
            return {
                "expected_extra_units": option.expected_extra_units,
                "expected_revenue": option.expected_revenue,
                "margin_impact": option.margin_impact,
            }
    return {}
