"""The openai adapter against a respx-mocked /v1/chat/completions: the real client in the path."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx
from langchain_core.messages import HumanMessage, SystemMessage, ToolMessage

from agents.graphs.ops_chat.nodes import chat_tools
from agents.llm.base import LLMError
from agents.llm.openai_adapter import OpenAIChatModel
from agents.registry import build_graph
from inventory.models import RunStatus
from tests.agents.helpers import chat, last_text

BASE = "http://llm.test/v1"
URL = f"{BASE}/chat/completions"


def completion(
    content: str | None = None, calls: list[tuple[str, str, str]] = ()
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = [
            {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
            for cid, name, args in calls
        ]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "test-model",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
    }


def ok(body: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json=body)


def model(**kwargs: Any) -> OpenAIChatModel:
    return OpenAIChatModel(base_url=BASE, model="test-model", api_key="k", **kwargs)


MESSAGES = [SystemMessage("sys"), HumanMessage("how many rain boots in Shanghai?")]


@respx.mock
def test_parallel_tool_calls_come_back_with_parsed_args():
    route = respx.post(URL).mock(
        return_value=ok(
            completion(
                calls=[
                    ("c1", "stock_lookup", '{"city": "Shanghai", "category": "rain_boots"}'),
                    ("c2", "forecast_demand", '{"city": "Shanghai", "horizon_days": 3}'),
                ]
            )
        )
    )
    reply = model().invoke(MESSAGES, chat_tools())
    assert [(c["id"], c["name"]) for c in reply.tool_calls] == [
        ("c1", "stock_lookup"),
        ("c2", "forecast_demand"),
    ]
    assert reply.tool_calls[0]["args"] == {"city": "Shanghai", "category": "rain_boots"}
    sent = json.loads(route.calls[0].request.content)
    assert sent["parallel_tool_calls"] is True
    tools = {t["function"]["name"]: t["function"] for t in sent["tools"]}
    assert set(tools) >= {"stock_lookup", "forecast_demand", "plan_transfers", "propose_transfer"}
    assert "cover_window_days" in tools["stock_lookup"]["parameters"]["properties"]
    assert sent["messages"][0] == {"role": "system", "content": "sys"}


@respx.mock
def test_malformed_then_valid_call_is_repaired():
    route = respx.post(URL).mock(
        side_effect=[
            ok(completion(calls=[("c1", "stock_lookup", '{"city": "Shang')])),
            ok(completion(calls=[("c2", "stock_lookup", '{"city": "Shanghai"}')])),
        ]
    )
    reply = model().invoke(MESSAGES, chat_tools())
    assert reply.tool_calls[0]["args"] == {"city": "Shanghai"}
    second = json.loads(route.calls[1].request.content)["messages"]
    assert second[-1]["role"] == "tool" and second[-1]["tool_call_id"] == "c1"
    assert "not valid JSON" in second[-1]["content"]


@respx.mock
def test_invalid_arguments_are_sent_back_with_the_schema_error():
    route = respx.post(URL).mock(
        side_effect=[
            ok(completion(calls=[("c1", "stock_lookup", '{"limit": -5}')])),
            ok(completion("fine")),
        ]
    )
    assert model().invoke(MESSAGES, chat_tools()).text == "fine"
    error = json.loads(route.calls[1].request.content)["messages"][-1]["content"]
    assert "arguments of stock_lookup are invalid" in error and "limit" in error


@respx.mock
def test_repeated_unknown_tool_raises_instead_of_ending_quietly():
    respx.post(URL).mock(return_value=ok(completion(calls=[("c", "delete_everything", "{}")])))
    with pytest.raises(LLMError, match="unknown tool 'delete_everything'"):
        model(max_repairs=2).invoke(MESSAGES, chat_tools())
    assert respx.calls.call_count == 3


@respx.mock
def test_429_and_500_are_retried_then_succeed():
    fast = {"retry-after-ms": "1"}
    respx.post(URL).mock(
        side_effect=[
            httpx.Response(429, json={"error": {"message": "slow down"}}, headers=fast),
            httpx.Response(500, json={"error": {"message": "boom"}}, headers=fast),
            ok(completion("hello")),
        ]
    )
    assert model(max_retries=2).invoke(MESSAGES, []).text == "hello"
    assert respx.calls.call_count == 3


@respx.mock
def test_persistent_500_raises_a_clear_error():
    respx.post(URL).mock(
        return_value=httpx.Response(
            503, json={"error": {"message": "down"}}, headers={"retry-after-ms": "1"}
        )
    )
    with pytest.raises(LLMError, match="HTTP 503 after retries"):
        model(max_retries=1).invoke(MESSAGES, [])


@respx.mock
def test_tool_messages_are_sent_in_openai_form():
    route = respx.post(URL).mock(return_value=ok(completion("ok")))
    from langchain_core.messages import AIMessage

    history = [
        *MESSAGES,
        AIMessage("", tool_calls=[{"id": "c1", "name": "stock_lookup", "args": {"city": "X"}}]),
        ToolMessage("{}", tool_call_id="c1", name="stock_lookup"),
    ]
    model().invoke(history, chat_tools())
    sent = json.loads(route.calls[0].request.content)["messages"]
    assert sent[2]["tool_calls"][0]["function"] == {
        "name": "stock_lookup",
        "arguments": '{"city": "X"}',
    }
    assert sent[3] == {"role": "tool", "tool_call_id": "c1", "content": "{}"}


@respx.mock
def test_ops_chat_through_the_mocked_provider(runtime, checkpointer):
    respx.post(URL).mock(
        side_effect=[
            ok(
                completion(
                    calls=[
                        (
                            "c1",
                            "stock_lookup",
                            '{"city": "Shanghai", "category": "rain_boots", '
                            '"location_kind": "store"}',
                        )
                    ]
                )
            ),
            ok(completion("上海门店共有雨靴若干。")),
        ]
    )
    runtime.llm = model()
    graph = build_graph("ops_chat", runtime, checkpointer)
    result = chat(runtime, graph, "t", "上海门店还有多少雨靴?")
    assert result.status == RunStatus.SUCCEEDED
    assert last_text(result) == "上海门店共有雨靴若干。"
    tool_result = json.loads(respx.calls[1].request.content)["messages"][-1]
    assert tool_result["role"] == "tool" and '"totals"' in tool_result["content"]


@respx.mock
def test_ops_chat_reports_a_provider_outage_instead_of_going_silent(runtime, checkpointer):
    respx.post(URL).mock(
        return_value=httpx.Response(
            500, json={"error": {"message": "x"}}, headers={"retry-after-ms": "1"}
        )
    )
    runtime.llm = model(max_retries=0)
    graph = build_graph("ops_chat", runtime, checkpointer)
    result = chat(runtime, graph, "t", "hi")
    assert "language model failed" in last_text(result)
