"""A small model's read-tool arguments tidied before names resolve (``tidy_arguments``): the
shapes Qwen2.5-Coder-1.5B actually sent in ``benchmarks/llm_chat.py`` (see
tests/agents/cassettes/), each of which made the tool answer an error before."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from agents.graphs.ops_chat.arguments import (
    asked_categories,
    describes_weather,
    drop_unasked_weather,
    resolve_arguments,
    scope_to_category,
    tidy_arguments,
    widen_to_category,
    widen_to_city,
)
from tools.forecast_demand.models import ForecastInput
from tools.names import NameResolver
from tools.registry import TOOLS

FORECAST_FIELDS = ForecastInput.model_fields


@pytest.fixture
def names(world_engine: Engine):
    with Session(world_engine) as session:
        yield NameResolver(session)


def test_the_recorded_forecast_call_becomes_a_valid_one(names: NameResolver) -> None:
    sent = {  # chat-forecast-en, the model's first call, as recorded
        "skus": ["RB001"],
        "style": "rain_boots",
        "category": "",
        "locations": ["SHanghai"],
        "city": "Shanghai",
        "level": "sku",
        "horizon_days": 7,
        "rain": [],
        "constraints": {},
    }
    tidy, moved = tidy_arguments(sent, names, FORECAST_FIELDS)
    assert tidy == {
        "style": "RB001",
        "category": "rain_boots",
        "city": "Shanghai",
        "level": "sku",
        "horizon_days": 7,
    }
    assert moved["style='rain_boots'"] == "category='rain_boots'"
    assert moved["skus=['RB001']"] == "style='RB001'"
    args, _ = resolve_arguments(tidy, names)  # resolves without an error now
    TOOLS["forecast_demand"].input_model.model_validate(args)


def test_nothing_moves_into_a_field_that_says_something_else(names: NameResolver) -> None:
    sent = {"style": "rain_boots", "category": "sandals", "locations": ["Beijing"], "city": "上海"}
    tidy, moved = tidy_arguments(sent, names, FORECAST_FIELDS)
    assert tidy == sent  # left for the resolver to refuse with its "did you mean"
    assert moved == {}


def test_a_field_the_tool_does_not_take_is_not_invented(names: NameResolver) -> None:
    tidy, moved = tidy_arguments({"skus": ["RB001"]}, names, {"skus"})
    assert tidy == {"skus": ["RB001"]}
    assert moved == {}


def test_real_codes_and_empty_values(names: NameResolver) -> None:
    sent = {"skus": ["RB001-BLK-38"], "locations": ["SHA-S01"], "category": "", "page": None}
    tidy, _ = tidy_arguments(sent, names, FORECAST_FIELDS)
    assert tidy == {"skus": ["RB001-BLK-38"], "locations": ["SHA-S01"]}


STOCK_FIELDS = TOOLS["stock_lookup"].input_model.model_fields


def test_one_store_for_a_city_question_is_widened_to_the_city_s_stores(
    names: NameResolver,
) -> None:
    """chat-stock-zh, recorded: SHA-S01 alone where Shanghai's stores were asked ("3" for 411)."""
    sent = {"location": "SHA-S01", "category": "rain_boots"}
    args, moved = widen_to_city(sent, "上海门店还有多少雨靴?", names, STOCK_FIELDS)
    assert args == {"city": "Shanghai", "location_kind": "store", "category": "rain_boots"}
    assert "city='Shanghai'" in moved["location='SHA-S01'"]


def test_a_city_call_for_a_stores_question_gets_the_store_kind(names: NameResolver) -> None:
    sent = {"city": "Shanghai", "category": "rain_boots"}
    args, moved = widen_to_city(
        sent, "How many rain boots are left in Shanghai stores?", names, STOCK_FIELDS
    )
    assert args == {**sent, "location_kind": "store"}
    assert moved == {"location_kind": "'store' (the question asks about stores)"}


def test_a_store_the_question_names_is_kept(names: NameResolver) -> None:
    sent = {"location": "SHA-S01", "category": "rain_boots"}
    for question in ("How many rain boots at SHA-S01 in Shanghai?", "rain boots at SHA-S01"):
        assert widen_to_city(sent, question, names, STOCK_FIELDS) == (sent, {})


def test_a_location_of_another_city_or_a_tool_without_city_is_left_alone(
    names: NameResolver,
) -> None:
    sent = {"location": "SHA-S01"}
    assert widen_to_city(sent, "rain boots in Beijing stores", names, STOCK_FIELDS)[0] == sent
    assert widen_to_city(sent, "上海门店还有多少雨靴?", names, {"location"}) == (sent, {})


def test_one_sku_for_a_category_question_is_widened_to_the_category(names: NameResolver) -> None:
    """chat-stock-en, recorded: the schema's example SKU (and size) for a category question."""
    question = "How many rain boots are left in Shanghai stores?"
    sent = {"sku": "RB001-NVY-40", "size": "40", "city": "Shanghai", "location_kind": "store"}
    args, moved = widen_to_category(sent, question, names, STOCK_FIELDS)
    assert args == {"city": "Shanghai", "location_kind": "store", "category": "rain_boots"}
    assert "category='rain_boots'" in moved["sku='RB001-NVY-40'"]
    assert moved["size='40'"] == "dropped (the question names no size)"
    # a style, an invented SKU and a list of SKUs of the category widen the same way
    for sent in ({"style": "RB001"}, {"sku": "RB001-RAIN-BOOTS"}, {"skus": ["RB001-BLK-38"]}):
        assert widen_to_category(sent, question, names, FORECAST_FIELDS)[0] == {
            "category": "rain_boots"
        }


def test_the_recorded_forecast_call_runs_for_the_category(names: NameResolver) -> None:
    """chat-forecast-en: the tidied call (style RB001 beside the category) forecasts the
    category the question asks about, not one style of it."""
    sent = {"style": "RB001", "category": "rain_boots", "city": "Shanghai", "horizon_days": 7}
    question = "Forecast demand for rain boots in Shanghai for the next 7 days"
    args, moved = widen_to_category(sent, question, names, FORECAST_FIELDS)
    assert args == {"category": "rain_boots", "city": "Shanghai", "horizon_days": 7}
    assert list(moved) == ["style='RB001'"]


def test_codes_the_question_names_or_of_another_category_are_kept(names: NameResolver) -> None:
    sent = {"sku": "RB001-BLK-38", "city": "Shanghai"}
    for question in (
        "How many RB001-BLK-38 rain boots are in Shanghai?",  # the SKU is asked for
        "rain boots of style RB001 in Shanghai",  # the style is asked for
        "How many sneakers and rain boots in Shanghai?",  # two categories: no single scope
        "How much stock in Shanghai?",  # no category
    ):
        assert widen_to_category(sent, question, names, STOCK_FIELDS) == (sent, {}), question
    other = {"sku": next(s.code for s in names.styles if s.category != "rain_boots") + "-X-1"}
    assert widen_to_category(other, "rain boots in Shanghai?", names, STOCK_FIELDS) == (other, {})
    assert widen_to_category(sent, "rain boots in Shanghai?", names, {"sku"}) == (sent, {})


def test_categories_are_read_in_words_chinese_and_synonyms(names: NameResolver) -> None:
    assert asked_categories("上海门店还有多少雨靴?", names) == ["rain_boots"]
    assert asked_categories("any wellingtons left in Beijing?", names) == ["rain_boots"]
    assert asked_categories("one rain boot", names) == ["rain_boots"]
    assert asked_categories("rain in Shanghai", names) == []


def test_a_city_or_category_the_pool_lacks_becomes_the_one_the_question_names(
    names: NameResolver,
) -> None:
    """Recorded through llama.cpp's server: city="SH" for a question about Shanghai's stores
    (the tool answered "unknown city 'SH'" and the model copied that error to the user)."""
    question = "How many rain boots are left in Shanghai stores?"
    sent = {"city": "SH", "category": "rain_boots", "location_kind": "store"}
    args, moved = widen_to_city(sent, question, names, STOCK_FIELDS)
    assert args == {**sent, "city": "Shanghai"}
    assert moved == {"city='SH'": "city='Shanghai' (the city the question names)"}
    args, moved = widen_to_category({"category": "boots_rain"}, question, names, STOCK_FIELDS)
    assert args == {"category": "rain_boots"}
    assert list(moved) == ["category='boots_rain'"]
    # a real city or category other than the question's is the resolver's to keep or refuse
    assert widen_to_city({"city": "Beijing"}, question, names, STOCK_FIELDS)[1] == {}
    assert widen_to_category({"category": "sandals"}, question, names, STOCK_FIELDS)[1] == {}


PLAN_FIELDS = TOOLS["plan_transfers"].input_model.model_fields


def test_codes_the_pool_lacks_for_a_city_question_are_widened_to_the_city(
    names: NameResolver,
) -> None:
    """Recorded live (chat-plan-rain-zh, 22:50 UTC): plan_transfers(city="SH",
    destinations=["SH-S01", "SH-S02"]) for "上海今天有暴雨75毫米，帮我规划雨靴调拨": refused
    (unknown location), and the model answered with the refusal. The question names Shanghai
    and no store: the plan is for Shanghai."""
    question = "上海今天有暴雨75毫米，帮我规划雨靴调拨"
    sent = {"city": "SH", "category": "rain_boots", "destinations": ["SH-S01", "SH-S02"]}
    args, moved = widen_to_city(sent, question, names, PLAN_FIELDS)
    assert args == {"city": "Shanghai", "category": "rain_boots"}
    assert "no such code" in moved["destinations=['SH-S01', 'SH-S02']"]
    # the same for a lookup's location; a real store of the city beside an invented one
    args, _moved = widen_to_city(
        {"location": "SH-S01"}, "上海门店还有多少雨靴?", names, STOCK_FIELDS
    )
    assert args == {"city": "Shanghai", "location_kind": "store"}
    args, _moved = widen_to_city(
        {"destinations": ["SHA-S01", "SH-S09"]}, "上海的雨靴调拨", names, PLAN_FIELDS
    )
    assert args == {"city": "Shanghai"}
    # not when a code is real and of another city, or a name the resolver reads, or the
    # question names a store: those are the resolver's to keep or refuse
    for sent, q in (
        ({"locations": ["BEI-S01", "SH-S01"]}, "上海门店还有多少雨靴?"),
        ({"location": "Shanghai flagship 01"}, "上海门店还有多少雨靴?"),
        ({"location": "SH-S01"}, "rain boots at SHA-S01 in Shanghai"),
    ):
        assert widen_to_city(sent, q, names, STOCK_FIELDS)[0] == sent


STORM = [{"city": "Shanghai", "start": "2015-07-11", "days": 7, "precipitation_mm_per_day": 1000}]


def test_a_rainstorm_nobody_described_is_dropped(names: NameResolver) -> None:
    """chat-forecast-en, recorded: the model forecast with a 1000 mm/day storm it made up and
    answered that storm's 80 units where the forecast is 27."""
    args = {"city": "Shanghai", "category": "rain_boots", "horizon_days": 7, "rain": STORM}
    asked = "Forecast demand for rain boots in Shanghai for the next 7 days"
    out, moved = drop_unasked_weather(args, asked, names, FORECAST_FIELDS)
    assert "rain" not in out and out["category"] == "rain_boots"
    ((said, why),) = moved.items()
    assert said.startswith("rain=") and "described no rain" in why
    zh, _ = drop_unasked_weather(args, "预测上海未来7天雨靴的需求", names, FORECAST_FIELDS)
    assert "rain" not in zh


@pytest.mark.parametrize(
    "asked",
    [
        "Forecast rain boots in Shanghai if it rains 80 mm tomorrow",
        "A storm is coming to Shanghai: forecast rain boots for 3 days",
        "上海今天有暴雨75毫米，帮我规划雨靴调拨",
        "上海明天下雨，预测雨靴需求",
        "Forecast wellies in Shanghai with 40mm of rain",
    ],
)
def test_a_rain_the_user_described_is_kept(names: NameResolver, asked: str) -> None:
    args = {"city": "Shanghai", "category": "rain_boots", "rain": STORM}
    assert describes_weather(asked, names)
    assert drop_unasked_weather(args, asked, names, FORECAST_FIELDS) == (args, {})


def test_category_names_are_not_weather(names: NameResolver) -> None:
    for asked in ("How many rain boots in Shanghai?", "上海还有多少雨靴", "雨鞋 in Beijing"):
        assert not describes_weather(asked, names), asked
    # a tool without the argument, or a call without rain, is left alone
    assert drop_unasked_weather({"rain": STORM}, "rain boots", names, {"city"}) == (
        {"rain": STORM},
        {},
    )
    assert drop_unasked_weather({"rain": []}, "rain boots", names, FORECAST_FIELDS)[1] == {}


PLAN_FIELDS = TOOLS["plan_transfers"].input_model.model_fields


def test_a_call_that_leaves_the_category_open_runs_for_the_one_the_question_names(
    names: NameResolver,
) -> None:
    """chat-plan-rain-zh, live (2026-12-06 evening): plan_transfers(city="上海", rain=...) with
    no category planned every category (sneakers, sandals, dresses) for a rain-boots question."""
    rain = [{"city": "上海", "start": "2015-07-11", "days": 1, "precipitation_mm_per_day": 75}]
    args = {"city": "上海", "rain": rain}
    out, moved = scope_to_category(
        args, "上海今天有暴雨75毫米，帮我规划雨靴调拨", names, PLAN_FIELDS
    )
    assert out == {**args, "category": "rain_boots"}
    assert moved == {"category": "'rain_boots' (the question asks about rain boots)"}
    stock = {"city": "Shanghai"}
    out, _ = scope_to_category(stock, "How many rain boots in Shanghai?", names, FORECAST_FIELDS)
    assert out["category"] == "rain_boots"


@pytest.mark.parametrize(
    ("args", "question"),
    [
        ({"city": "上海"}, "上海今天有暴雨75毫米，帮我规划调拨"),  # no category named: all
        ({"city": "上海", "category": "sneakers"}, "帮我规划雨靴调拨"),  # the model's own choice
        ({"city": "上海", "style": "RB001"}, "帮我规划雨靴调拨"),  # a style: narrower already
        ({"skus": ["RB001-BLK-38"]}, "rain boots?"),
        ({"city": "Shanghai"}, "rain boots and sneakers in Shanghai?"),  # two categories named
    ],
)
def test_a_category_is_not_put_where_the_question_or_the_call_decides(
    names: NameResolver, args: dict, question: str
) -> None:
    assert scope_to_category(args, question, names, PLAN_FIELDS) == (args, {})
