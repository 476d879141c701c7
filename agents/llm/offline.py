"""The offline planner: the default chat model when no LLM is configured.

It maps supported requests (English and Chinese) to the same tool calls an LLM would make, and
answers from the tool results. Anything else gets an honest list of what it can do. Tool-call
ids are derived from the conversation, so a replay produces the same transcript.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from agents.llm import offline_answers as answers
from agents.llm import offline_routing as routing_answers
from agents.llm.base import ToolDefinition
from agents.llm.offline_parse import ParsedRequest, parse_request
from agents.proposals import PROPOSE_TRANSFER
from inventory.clock import Clock, wall_clock
from inventory.vocabulary import Vocabulary


def _demo_vocabulary() -> Vocabulary:
    from inventory.demo_world.vocabulary import DEMO_VOCABULARY

    return DEMO_VOCABULARY


def _current_turn(messages: Sequence[BaseMessage]) -> tuple[HumanMessage | None, list[BaseMessage]]:
    for index in range(len(messages) - 1, -1, -1):
        if isinstance(messages[index], HumanMessage):
            return messages[index], list(messages[index + 1 :])  # type: ignore[return-value]
    return None, []


def _call(name: str, args: dict[str, Any], seed: str) -> dict[str, Any]:
    digest = hashlib.sha1(f"{seed}|{name}|{sorted(args.items())!r}".encode()).hexdigest()[:16]
    return {"name": name, "args": args, "id": f"call_{digest}", "type": "tool_call"}


class OfflinePlanner:
    """Deterministic request → tool calls → answer, in the language of the request."""

    name = "offline"

    def __init__(
        self, clock: Clock = wall_clock, vocabulary: Callable[[], Vocabulary] | None = None
    ) -> None:
        """``clock`` is the runtime's (the pool's "now"): a rain scenario starts today.
        ``vocabulary`` reads the pool's words (cities, categories, location codes) at each turn;
        without a pool (unit tests, evals of the demo world) the demo world's are used."""
        self._clock = clock
        self._words = vocabulary or _demo_vocabulary

    @property
    def vocabulary(self) -> Vocabulary:
        return self._words()

    def invoke(self, messages: Sequence[BaseMessage], tools: Sequence[ToolDefinition]) -> AIMessage:
        human, turn = _current_turn(messages)
        if human is None:
            return AIMessage(content=answers.CAPABILITIES["en"])
        request = parse_request(human.text, self.vocabulary)
        offered = {tool.name for tool in tools}
        seed = f"{len(messages)}|{human.text}"
        results = [m for m in turn if isinstance(m, ToolMessage)]
        if not results:
            return self._first_step(request, messages, offered, seed)
        return self._next_step(request, turn, offered, seed)

    # -- first step: what to call --------------------------------------------------------------

    def _first_step(
        self,
        request: ParsedRequest,
        messages: Sequence[BaseMessage],
        offered: set[str],
        seed: str,
    ) -> AIMessage:
        lang = request.lang
        if request.intent == "decision":
            return AIMessage(content=answers.NO_PENDING[lang])
        if request.intent == "explain":
            plan = _last_plan(messages)
            if plan is None:
                return AIMessage(content=answers.NO_PLAN[lang])
            return AIMessage(content=answers.render_explanation(plan, lang))
        if request.intent == "ship":
            if request.qty is not None and request.qty <= 0:
                return AIMessage(content=answers.SHIP_QTY_NOT_POSITIVE[lang].format(request.qty))
            if not (request.sku and request.source and request.dest and request.qty):
                return AIMessage(content=answers.SHIP_NEEDS_DETAILS[lang])
            args = {
                "shipments": [
                    {
                        "source": request.source,
                        "dest": request.dest,
                        "lines": [{"sku": request.sku, "qty": request.qty}],
                    }
                ],
                "reason": f"asked in chat: {request.text[:200]}",
            }
            return self._calls(offered, lang, [_call(PROPOSE_TRANSFER, args, seed)])
        tool_args = self._tool_args(request, messages)
        if tool_args is None:
            return AIMessage(content=answers.CAPABILITIES[lang])
        name, args = tool_args
        return self._calls(offered, lang, [_call(name, args, seed)])

    def _tool_args(
        self, request: ParsedRequest, messages: Sequence[BaseMessage]
    ) -> tuple[str, dict[str, Any]] | None:
        today = self._clock().date()
        rain = []
        if request.mm is not None and request.city:
            rain = [
                {
                    "city": request.city,
                    "start": today.isoformat(),
                    "days": min(28, request.days or 1),
                    "precipitation_mm_per_day": request.mm,
                }
            ]
        if request.intent == "stock":
            args: dict[str, Any] = {
                "city": request.city,
                "category": request.category,
                "location": request.location,
                "sku": request.sku,
                "style": request.style,
                "location_kind": "store" if request.stores_only else None,
            }
            return "stock_lookup", {k: v for k, v in args.items() if v is not None}
        if request.intent == "forecast":
            args = {
                "city": request.city,
                "category": request.category,
                "style": request.style,
                "skus": [request.sku] if request.sku else [],
                "locations": request.locations,
                "level": "style" if not request.sku else "sku",
                "horizon_days": min(28, request.days or 7),
                "rain": rain,
            }
            return "forecast_demand", {k: v for k, v in args.items() if v not in (None, [])}
        if request.intent == "plan":
            rain_categories = sorted(self.vocabulary.rain_categories)
            categories = [request.category] if request.category else rain_categories
            args = {
                "city": request.city,
                "categories": categories,
                "window_days": min(28, request.days or 3),
                "rain": rain,
            }
            return "plan_transfers", {k: v for k, v in args.items() if v not in (None, [])}
        if request.intent == "promo":
            args = {"city": request.city, "category": request.category}
            return "recommend_promos", {k: v for k, v in args.items() if v is not None}
        if request.intent == "ship_nodes" and request.city:
            return "ship_nodes", {"city": request.city}
        if request.intent == "order_why" and request.order:
            args = {"order": request.order, "node": request.location}
            return "explain_order", {k: v for k, v in args.items() if v is not None}
        return None

    @staticmethod
    def _calls(offered: set[str], lang: str, calls: list[dict[str, Any]]) -> AIMessage:
        if any(call["name"] not in offered for call in calls):
            return AIMessage(content=answers.CAPABILITIES["zh" if lang == "zh" else "en"])
        return AIMessage(content="", tool_calls=calls)

    # -- later steps: propose what was planned, then answer --------------------------------------

    def _next_step(
        self, request: ParsedRequest, turn: list[BaseMessage], offered: set[str], seed: str
    ) -> AIMessage:
        lang = request.lang
        called = {
            call["id"]: call for m in turn if isinstance(m, AIMessage) for call in m.tool_calls
        }
        results = [m for m in turn if isinstance(m, ToolMessage)]
        proposed = any(
            called.get(r.tool_call_id, {}).get("name") == PROPOSE_TRANSFER for r in results
        )
        if request.intent == "plan" and not proposed:
            plan = answers.loads(results[-1].text)
            if plan and plan.get("shipments"):
                args = {
                    "shipments": [
                        {
                            "source": s["source"],
                            "dest": s["dest"],
                            "lines": [{"sku": ln["sku"], "qty": ln["qty"]} for ln in s["lines"]],
                        }
                        for s in plan["shipments"]
                    ],
                    "reason": f"transfer plan asked in chat: {request.text[:200]}",
                }
                return self._calls(offered, lang, [_call(PROPOSE_TRANSFER, args, seed + "|2")])
        texts = []
        for result in results:
            call = called.get(result.tool_call_id, {})
            texts.append(
                render_result(
                    call.get("name", result.name or "tool"),
                    call.get("args", {}),
                    result,
                    lang,
                    self.vocabulary,
                )
            )
        return AIMessage(content="\n\n".join(texts))


def render_result(
    name: str, args: dict[str, Any], result: ToolMessage, lang: str, words: Vocabulary
) -> str:
    """One tool result in the planner's words; also how ops_chat answers from a turn's results
    when a model's own answer does not hold (``agents.graphs.ops_chat.grounded``)."""
    language = "zh" if lang == "zh" else "en"
    out = answers.loads(result.text)
    if out is None or result.status == "error":
        return answers.render_error(name, result.text, language)
    if name == "stock_lookup":
        return answers.render_stock(out, args, language, words)
    if name == "forecast_demand":
        return answers.render_forecast(out, args, language, words)
    if name == "plan_transfers":
        return answers.render_plan(out, language)
    if name == PROPOSE_TRANSFER or "proposals" in out:
        return answers.render_proposals(out, language)
    if name == "ship_nodes":
        return routing_answers.render_ship_nodes(out, language)
    if name == "explain_order":
        return routing_answers.render_order_why(out, language)
    if name == "recommend_promos":
        recs = out.get("recommendations", [])
        lines = [f"- {r['style']} @ {r['location'] or '*'}: {r['verdict']}" for r in recs[:8]]
        head = f"{len(recs)} 条降价建议：" if language == "zh" else f"{len(recs)} recommendations:"
        return "\n".join([head, *lines])
    return result.text


def _last_plan(messages: Sequence[BaseMessage]) -> dict[str, Any] | None:
    for message in reversed(messages):
        if isinstance(message, ToolMessage) and message.name == "plan_transfers":
            plan = answers.loads(message.text)
            if plan and plan.get("shipments"):
                return plan
    return None
