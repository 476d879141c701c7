"""The offline planner: English and Chinese requests map to the same tool calls."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from agents.graphs.ops_chat.nodes import chat_tools
from agents.graphs.ops_chat.prompts import SYSTEM_PROMPT
from agents.llm.offline import OfflinePlanner

TOOLS = chat_tools()
NOW = dt.datetime(2015, 7, 1, 9, tzinfo=dt.UTC)
SYSTEM = SystemMessage(SYSTEM_PROMPT.format(now=NOW.isoformat(), vocabulary=""))


def planner_at(now: dt.datetime = NOW) -> OfflinePlanner:
    """The planner on a fixed clock (the runtime hands it the pool's)."""
    return OfflinePlanner(clock=lambda: now)


def first_call(text: str) -> tuple[str, dict]:
    reply = planner_at().invoke([SYSTEM, HumanMessage(text)], TOOLS)
    assert len(reply.tool_calls) == 1, reply.text
    return reply.tool_calls[0]["name"], reply.tool_calls[0]["args"]


@pytest.mark.parametrize(
    ("english", "chinese"),
    [
        ("how many rain boots in Shanghai stores?", "上海门店还有多少雨靴?"),
        ("forecast umbrellas in Guangzhou for the next 5 days", "预测广州未来5天的雨伞需求"),
        ("plan transfers for the rain in Guangzhou", "为广州的降雨做调拨计划"),
        (
            "plan transfers for 60 mm of rain in Shanghai over 2 days",
            "上海2天降雨60毫米，做调拨计划",
        ),
        ("which styles in Chengdu need a markdown?", "成都哪些款需要打折?"),
        (
            "ship 40 pairs of RB001-BLK-40 from DC-SHA to SHA-S01",
            "从DC-SHA调拨40双RB001-BLK-40到SHA-S01",
        ),
    ],
)
def test_english_and_chinese_make_the_same_call(english, chinese):
    name_en, args_en = first_call(english)
    name_zh, args_zh = first_call(chinese)
    assert name_en == name_zh
    args_en.pop("reason", None)
    args_zh.pop("reason", None)
    assert args_en == args_zh


def test_stock_question_args():
    assert first_call("how many rain boots in Shanghai stores?") == (
        "stock_lookup",
        {"city": "Shanghai", "category": "rain_boots", "location_kind": "store"},
    )


def test_rain_amount_becomes_a_rain_scenario_from_the_world_clock():
    name, args = first_call("plan transfers for 60 mm of rain in Shanghai over 2 days")
    assert name == "plan_transfers"
    assert args["rain"] == [
        {"city": "Shanghai", "start": "2015-07-01", "days": 2, "precipitation_mm_per_day": 60.0}
    ]
    assert args["window_days"] == 2


def test_rain_scenario_starts_on_the_planners_clock_not_the_prompt():
    """The planner's "today" is the runtime clock it was given (the wall clock on a real pool);
    nothing is read back out of the system prompt."""
    wall = planner_at(dt.datetime(2026, 12, 2, 5, tzinfo=dt.UTC))
    text = "plan transfers for 60 mm of rain in Shanghai"
    reply = wall.invoke([SYSTEM, HumanMessage(text)], TOOLS)
    assert reply.tool_calls[0]["args"]["rain"][0]["start"] == "2026-12-02"


def test_same_conversation_gives_the_same_call_ids():
    messages = [SYSTEM, HumanMessage("how many umbrellas in Beijing?")]
    assert planner_at().invoke(messages, TOOLS) == planner_at().invoke(messages, TOOLS)


def test_a_plan_result_is_proposed_then_answered():
    planner = planner_at()
    human = HumanMessage("plan transfers for the rain in Guangzhou")
    call = planner.invoke([SYSTEM, human], TOOLS)
    plan = {
        "shipments": [
            {
                "source": "DC-GUA",
                "dest": "GUA-S01",
                "lead_time_hours": 6,
                "units": 5,
                "expected_value": 900.0,
                "cost": 70.0,
                "net_value": 830.0,
                "lines": [
                    {
                        "sku": "UM001-BLK-OS",
                        "style": "UM001",
                        "size": "OS",
                        "qty": 5,
                        "reason": {
                            "expected_units_saved": 4.2,
                            "expected_value": 900.0,
                            "cost": 10.0,
                            "dest_days_to_stockout_before": 0.5,
                            "dest_days_to_stockout_after": 3.0,
                            "source_atp_after": 40,
                        },
                    }
                ],
            }
        ],
        "totals": {
            "shipments": 1,
            "units": 5,
            "expected_units_saved": 4.2,
            "expected_value": 900.0,
            "cost": 70.0,
            "net_value": 830.0,
        },
    }
    result = ToolMessage(
        json.dumps(plan), tool_call_id=call.tool_calls[0]["id"], name="plan_transfers"
    )
    propose = planner.invoke([SYSTEM, human, call, result], TOOLS)
    assert propose.tool_calls[0]["name"] == "propose_transfer"
    assert propose.tool_calls[0]["args"]["shipments"] == [
        {"source": "DC-GUA", "dest": "GUA-S01", "lines": [{"sku": "UM001-BLK-OS", "qty": 5}]}
    ]
    outcome = ToolMessage(
        json.dumps(
            {
                "proposals": [
                    {
                        "subject_id": "TO-1",
                        "summary": "DC-GUA → GUA-S01: 5 units",
                        "status": "dispatched",
                        "external_ref": "WMS-1",
                    }
                ]
            }
        ),
        tool_call_id=propose.tool_calls[0]["id"],
        name="propose_transfer",
    )
    answer = planner.invoke([SYSTEM, human, call, result, propose, outcome], TOOLS)
    assert not answer.tool_calls
    assert "dispatched (WMS-1)" in answer.text
    why = planner.invoke(
        [SYSTEM, human, call, result, propose, outcome, answer, HumanMessage("why this transfer?")],
        TOOLS,
    )
    assert "UM001-BLK-OS" in why.text and "4.2 more units" in why.text
    why_zh = planner.invoke(
        [SYSTEM, human, call, result, propose, outcome, answer, HumanMessage("为什么要这样调拨？")],
        TOOLS,
    )
    assert "预计多卖 4.2 件" in why_zh.text


@pytest.mark.parametrize("text", ["approve TO-123", "reject all", "批准", "拒绝这个调拨"])
def test_chat_cannot_approve(text):
    reply = planner_at().invoke([SYSTEM, HumanMessage(text)], TOOLS)
    assert not reply.tool_calls
    assert "cannot approve" in reply.text or "不能批准" in reply.text


@pytest.mark.parametrize("text", ["tell me a joke", "给我讲个笑话"])
def test_unsupported_requests_get_an_honest_capability_list(text):
    reply = planner_at().invoke([SYSTEM, HumanMessage(text)], TOOLS)
    assert not reply.tool_calls
    assert "offline" in reply.text or "离线" in reply.text


def test_a_tool_not_offered_is_never_called():
    reply = planner_at().invoke(
        [SYSTEM, HumanMessage("how many rain boots in Shanghai?")],
        [t for t in TOOLS if t.name != "stock_lookup"],
    )
    assert not reply.tool_calls


def test_tool_errors_are_relayed():
    planner = planner_at()
    human = HumanMessage("how many rain boots in Atlantis?")
    call = planner.invoke([SYSTEM, human], TOOLS)
    error = ToolMessage(
        "error: unknown city",
        tool_call_id=call.tool_calls[0]["id"],
        name="stock_lookup",
        status="error",
    )
    answer = planner.invoke([SYSTEM, human, call, error], TOOLS)
    assert isinstance(answer, AIMessage) and "stock_lookup failed" in answer.text


def test_a_plan_on_an_alert_says_what_it_makes_if_the_rain_does_not_fall():
    from agents.llm.offline_answers import render_plan

    totals = {"shipments": 2, "units": 30, "expected_value": 900.0, "cost": 120.0}
    plan = {"shipments": [{}], "totals": {**totals, "net_value": 780.0}}
    on_alert = {"shipments": [{}], "totals": {**plan["totals"], "net_value_if_no_rain": -310.0}}
    assert "rain does not fall" not in render_plan(plan, "en")
    assert "If the warned rain does not fall: −¥310." in render_plan(on_alert, "en")
    assert "若预警的雨没有下，净值 −¥310。" in render_plan(on_alert, "zh")
