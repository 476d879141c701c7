"""Chat about online orders: the offline planner calls ship_nodes / explain_order and answers
from their results, in English and Chinese (the tools are offered to LLM planners too)."""

from __future__ import annotations

import datetime as dt

from langchain_core.messages import HumanMessage, ToolMessage
from sqlalchemy.engine import Engine
from sqlmodel import Session

from agents.executor import parcels
from agents.graphs.ops_chat.nodes import chat_tools
from agents.llm.offline import OfflinePlanner
from inventory.db import session_scope
from inventory.online_orders import OrderSpec
from inventory.vocabulary import load_vocabulary
from tests.utils.routing_pool import NOW, SKU, seed_routing_pool
from tools.context import ToolContext
from tools.registry import TOOLS
from tools.route_order.models import OrderLineInput, RouteOrderInput
from tools.route_order.pool import local_day
from tools.route_order.router import order_router
from tools.route_order.settings import load_routing_settings

OFFERED = chat_tools()


def planner(engine: Engine) -> OfflinePlanner:
    def words():
        with Session(engine) as session:
            return load_vocabulary(session)

    return OfflinePlanner(clock=lambda: NOW, vocabulary=words)


def turn(engine: Engine, text: str) -> tuple[str, dict, str]:
    """One chat turn: the planner's tool call, the tool run on the pool, the planner's answer."""
    chat = planner(engine)
    human = HumanMessage(text)
    call_message = chat.invoke([human], OFFERED)
    (call,) = call_message.tool_calls
    result = TOOLS[call["name"]].run(ToolContext(engine=engine, now=NOW), call["args"])
    tool = ToolMessage(result.model_dump_json(), tool_call_id=call["id"], name=call["name"])
    answer = chat.invoke([human, call_message, tool], OFFERED)
    return call["name"], call["args"], answer.text


def place_order(engine: Engine, order_id: str) -> str:
    settings = load_routing_settings()
    request = RouteOrderInput(lines=[OrderLineInput(sku=SKU, qty=1)], destination_city="Shanghai")
    spec = OrderSpec("online", order_id, ((SKU, 1),), "Shanghai", "", NOW + dt.timedelta(days=2))
    with session_scope(engine) as session:
        row, _ = parcels.place_order(
            session,
            spec,
            order_router(request, settings, NOW),
            actor="web",
            now=NOW,
            ttl_s=3600,
            routing_day=local_day(NOW, settings),
        )
    return row.id


def test_which_stores_can_ship_shanghai_online_orders_in_both_languages(engine: Engine) -> None:
    seed_routing_pool(engine)
    name, args, answer = turn(engine, "上海的线上订单能从哪些门店发货?")
    assert (name, args) == ("ship_nodes", {"city": "Shanghai"})
    assert "SHA-A1" in answer and "SHA-A2" in answer and "发货" in answer
    assert "SHA-OUT" not in answer  # the outlet never sells online
    name_en, args_en, answer_en = turn(engine, "Which stores can ship Shanghai online orders?")
    assert (name_en, args_en) == (name, args)
    assert "SHA-A1" in answer_en and "units sellable" in answer_en


def test_why_was_an_order_shipped_from_a_store(engine: Engine) -> None:
    seed_routing_pool(engine)
    place_order(engine, "WEB-7")
    name, args, answer = turn(engine, "why was order WEB-7 shipped from store SHA-A1?")
    assert (name, args) == ("explain_order", {"order": "WEB-7", "node": "SHA-A1"})
    assert "ships from SHA-A1" in answer and "Runners-up: DC-SHA" in answer
    assert "stock health" in answer
    # The deciding part: the Suzhou DC is a line-haul parcel away, the store is in the city.
    assert "It beat DC-SHA by ¥" in answer and "mostly cheaper to deliver" in answer
    name_zh, args_zh, answer_zh = turn(engine, "订单WEB-7为什么从SHA-A1发货?")
    assert (name_zh, args_zh) == (name, args)
    assert "由 SHA-A1 发货" in answer_zh and "备选 DC-SHA" in answer_zh
    _, _, other = turn(engine, "why was order WEB-7 shipped from DC-SHA?")
    assert "was not shipped from DC-SHA" in other


def test_an_unknown_order_is_answered_honestly(engine: Engine) -> None:
    seed_routing_pool(engine)
    chat = planner(engine)
    human = HumanMessage("why was order NOPE-1 shipped from SHA-A1?")
    call_message = chat.invoke([human], OFFERED)
    (call,) = call_message.tool_calls
    try:
        TOOLS[call["name"]].run(ToolContext(engine=engine, now=NOW), call["args"])
    except ValueError as error:
        text = str(error)
    tool = ToolMessage(text, tool_call_id=call["id"], name=call["name"], status="error")
    answer = chat.invoke([human, call_message, tool], OFFERED)
    assert "NOPE-1" in answer.text


def test_a_transfer_question_is_not_taken_for_an_online_order() -> None:
    from agents.llm.offline_parse import parse_request
    from inventory.demo_world.vocabulary import DEMO_VOCABULARY

    for text in ("explain the transfer order for SHA-S01", "why this transfer order?"):
        assert parse_request(text, DEMO_VOCABULARY).intent == "explain", text
    asked = parse_request("why was order OMS-000123 shipped from SHA-S01?", DEMO_VOCABULARY)
    assert (asked.intent, asked.order, asked.location) == ("order_why", "OMS-000123", "SHA-S01")
