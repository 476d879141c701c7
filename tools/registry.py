"""The tools agents may expose to an LLM: name → spec with pydantic I/O and the function.

Tool functions are imported on first call, so importing the registry (to build an LLM's tool
list from the JSON schemas) never pulls in the forecasting or optimisation stacks, and a tool
whose implementation is missing fails loudly when called, not when the service starts.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from tools.context import ToolContext
from tools.discover.models import (
    ListCatalogInput,
    ListCatalogOutput,
    ListLocationsInput,
    ListLocationsOutput,
)
from tools.forecast_demand.models import ForecastInput, ForecastOutput
from tools.plan_transfers.models import PlanTransfersInput, TransferPlan
from tools.recommend_promos.models import PromoInput, PromoOutput
from tools.route_order.models import (
    ExplainOrderInput,
    ExplainOrderOutput,
    RouteOrderInput,
    RouteOrderOutput,
    ShipNodesInput,
    ShipNodesOutput,
)
from tools.stock_lookup.models import StockLookupInput, StockLookupOutput

ToolFn = Callable[[ToolContext, Any], BaseModel]


@dataclass(frozen=True)
class LazyToolFn:
    """``module:function``, imported when first called."""

    module: str
    function: str

    def resolve(self) -> ToolFn:
        return getattr(importlib.import_module(self.module), self.function)

    def __call__(self, ctx: ToolContext, request: BaseModel) -> BaseModel:
        return self.resolve()(ctx, request)


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    fn: ToolFn
    kind: Literal["read", "write"] = "read"
    #: Offered to the chat's model. Every schema is sent with every model call, so a tool whose
    #: questions chat rarely has (a routing dry run) is left to the API, MCP and agents' code.
    in_chat: bool = True

    def run(self, ctx: ToolContext, arguments: dict[str, Any] | BaseModel) -> BaseModel:
        """Validate ``arguments`` against the input model, call the tool, check its output type."""
        request = (
            arguments
            if isinstance(arguments, self.input_model)
            else self.input_model.model_validate(
                arguments.model_dump() if isinstance(arguments, BaseModel) else arguments
            )
        )
        result = self.fn(ctx, request)
        if not isinstance(result, self.output_model):
            raise TypeError(
                f"tool {self.name} returned {type(result).__name__}, "
                f"expected {self.output_model.__name__}"
            )
        return result


def _lazy(tool: str, package: str | None = None) -> LazyToolFn:
    return LazyToolFn(module=f"tools.{package or tool}.tool", function=tool)


TOOLS: dict[str, ToolSpec] = {
    spec.name: spec
    for spec in (
        ToolSpec(
            name="stock_lookup",
            description=(
                "Stock positions by SKU, style, size, location, city, region, category or "
                "location kind, with available-to-promise (ATP), in-transit and days of cover."
            ),
            input_model=StockLookupInput,
            output_model=StockLookupOutput,
            fn=_lazy("stock_lookup"),
        ),
        ToolSpec(
            name="forecast_demand",
            description=(
                "Daily demand forecast per SKU × location for 1–28 days (mean and quantiles), "
                "using weather, promo and calendar; names the model and its backtest error."
            ),
            input_model=ForecastInput,
            output_model=ForecastOutput,
            fn=_lazy("forecast_demand"),
        ),
        ToolSpec(
            name="plan_transfers",
            description=(
                "Propose stock transfers between locations that maximise expected sales value "
                "recovered minus transfer cost; each line says why. Proposes, never executes."
            ),
            input_model=PlanTransfersInput,
            output_model=TransferPlan,
            fn=_lazy("plan_transfers"),
        ),
        ToolSpec(
            name="recommend_promos",
            description=(
                "Markdown recommendations for overstock risk: depth, expected sell-through, "
                "margin impact, and the alternative of transferring to where demand is."
            ),
            input_model=PromoInput,
            output_model=PromoOutput,
            fn=_lazy("recommend_promos"),
        ),
        ToolSpec(
            name="route_order",
            description=(
                "Where an online order would ship from (DC, online pool or store) and why: the "
                "chosen node(s) and two runners-up with delivery cost, promised-time penalty, "
                "stock health and split-shipment parts. A dry run: reserves nothing."
            ),
            input_model=RouteOrderInput,
            output_model=RouteOrderOutput,
            fn=_lazy("route_order"),
            in_chat=False,
        ),
        ToolSpec(
            name="ship_nodes",
            description=(
                "Which stores (or nodes) may ship online orders to a city: ATP, today's orders vs "
                "pick/pack capacity, lead time and parcel cost."
            ),
            input_model=ShipNodesInput,
            output_model=ShipNodesOutput,
            fn=LazyToolFn("tools.route_order.tool", "ship_nodes"),
        ),
        ToolSpec(
            name="explain_order",
            description=(
                "Why an online order was shipped from where it was (by order id, channel order "
                "id or OMS reference): chosen node(s), runners-up and their score parts."
            ),
            input_model=ExplainOrderInput,
            output_model=ExplainOrderOutput,
            fn=LazyToolFn("tools.route_order.tool", "explain_order"),
        ),
        ToolSpec(
            name="list_locations",
            description=(
                "Cities and regions (EN + 中文) with store/DC counts; given a city or region, its "
                "stores and DCs with codes (e.g. SHA-S01, DC-SHA). Use it before guessing codes."
            ),
            input_model=ListLocationsInput,
            output_model=ListLocationsOutput,
            fn=_lazy("list_locations", "discover"),
        ),
        ToolSpec(
            name="list_catalog",
            description=(
                "Categories (EN + 中文); given a category, its styles with colours, sizes and an "
                "example SKU code (STYLE-COLOUR-SIZE, e.g. RB001-BLK-38)."
            ),
            input_model=ListCatalogInput,
            output_model=ListCatalogOutput,
            fn=_lazy("list_catalog", "discover"),
        ),
    )
}


def get_tool(name: str) -> ToolSpec:
    """The spec of ``name``; KeyError lists the tools that exist."""
    try:
        return TOOLS[name]
    except KeyError:
        raise KeyError(f"unknown tool {name!r}; known tools: {', '.join(TOOLS)}") from None
