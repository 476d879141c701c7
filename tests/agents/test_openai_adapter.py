"""The openai adapter against a respx-mocked /v1/chat/completions: the real client in the path."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from agents.graphs.ops_chat.nodes import chat_tools
from agents.llm.base import LLMError
from agents.llm.openai_adapter import OpenAIChatModel
from agents.registry import build_graph
from inventory.models import RunStatus
from tests.agents.helpers import chat, last_text
from tests.agents.provider import BASE, URL, completion, ok


def model(**kwargs: Any) -> OpenAIChatModel:
    kwargs.setdefault("sleep", lambda _s: None)
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
    assert "include_zero" in tools["stock_lookup"]["parameters"]["properties"]
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
            ok(completion(calls=[("c1", "propose_markdown", '{"style": "RB001", "depth": 5}')])),
            ok(completion("fine")),
        ]
    )
    assert model().invoke(MESSAGES, chat_tools()).text == "fine"
    error = json.loads(route.calls[1].request.content)["messages"][-1]["content"]
    assert "arguments of propose_markdown are invalid" in error and "depth" in error


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
    with pytest.raises(LLMError, match="HTTP 503 after 2 attempts"):
        model(max_retries=1).invoke(MESSAGES, [])
    assert respx.calls.call_count == 2


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
            _answer_with_the_total,
        ]
    )
    runtime.llm = model()
    graph = build_graph("ops_chat", runtime, checkpointer)
    result = chat(runtime, graph, "t", "上海门店还有多少雨靴?")
    assert result.status == RunStatus.SUCCEEDED
    tool_result = json.loads(respx.calls[1].request.content)["messages"][-1]
    assert tool_result["role"] == "tool" and '"totals"' in tool_result["content"]
    atp = json.loads(tool_result["content"])["totals"]["atp"]
    assert last_text(result) == f"上海门店共有雨靴{atp}双。"  # the model's answer, as it gave it


def _answer_with_the_total(request: httpx.Request) -> httpx.Response:
    """The model reads the result's total ATP and says it (a vague answer, "若干", would be
    replaced by the answer from the result: test_llm_chat)."""
    result = json.loads(request.content)["messages"][-1]["content"]
    return ok(completion(f"上海门店共有雨靴{json.loads(result)['totals']['atp']}双。"))


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


# --- what small local models get wrong (issue 15) ---------------------------------------------


def raw_completion(message: dict[str, Any]) -> dict[str, Any]:
    body = completion()
    body["choices"][0]["message"] = {"role": "assistant", **message}
    return body


@respx.mock
def test_arguments_sent_as_an_object_are_accepted_and_noted():
    respx.post(URL).mock(
        return_value=ok(
            raw_completion(
                {
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "stock_lookup", "arguments": {"city": "上海"}},
                        }
                    ],
                }
            )
        )
    )
    reply = model().invoke(MESSAGES, chat_tools())
    assert reply.tool_calls[0]["args"] == {"city": "上海"}
    assert [r["kind"] for r in reply.response_metadata["repairs"]] == ["object_arguments"]


@respx.mock
def test_arguments_encoded_twice_are_decoded():
    twice = json.dumps(json.dumps({"city": "Shanghai"}))
    respx.post(URL).mock(return_value=ok(completion(calls=[("c1", "stock_lookup", twice)])))
    assert model().invoke(MESSAGES, chat_tools()).tool_calls[0]["args"] == {"city": "Shanghai"}


@respx.mock
def test_hermes_tool_call_written_as_text_becomes_a_tool_call():
    text = (
        "<tool_call>\n"
        '{"name": "stock_lookup", "arguments": {"city": "Shanghai", "category": "rain_boots"}}\n'
        "</tool_call>"
    )
    respx.post(URL).mock(return_value=ok(completion(text)))
    reply = model().invoke(MESSAGES, chat_tools())
    assert reply.text == ""  # the markup never reaches the user
    assert reply.tool_calls[0]["name"] == "stock_lookup"
    assert reply.tool_calls[0]["args"] == {"city": "Shanghai", "category": "rain_boots"}
    assert [r["kind"] for r in reply.response_metadata["repairs"]] == ["text_tool_call"]


@respx.mock
def test_fenced_json_tool_call_becomes_a_tool_call():
    text = (
        'Let me check.\n```json\n{"name": "forecast_demand", '
        '"parameters": {"city": "Beijing"}}\n```'
    )
    respx.post(URL).mock(return_value=ok(completion(text)))
    reply = model().invoke(MESSAGES, chat_tools())
    assert reply.text == ""
    assert [(c["name"], c["args"]) for c in reply.tool_calls] == [
        ("forecast_demand", {"city": "Beijing"})
    ]


@pytest.mark.parametrize(
    ("text", "form"),
    [
        # recorded live from Qwen2.5-Coder-1.5B (chat-plan-rain-zh, 2026-12-06)
        (
            '{"function": "plan_transfers", "arguments": {"city": "上海", "category": "雨靴"}}',
            "bare JSON",
        ),
        (
            '<tools>\n{"name": "plan_transfers", "arguments": {"city": "上海", '
            '"category": "雨靴"}}\n</tools>',
            "Qwen tools block",
        ),
        (
            '<tools>\n    <function name="plan_transfers" parameters=\'{"city": "上海", '
            '"category": "雨靴"}\'>\n</tools>',
            "function tags",
        ),
        (
            '{"function": {"name": "plan_transfers", "parameters": {"city": "上海", '
            '"category": "雨靴"}}}',
            "bare JSON",
        ),
    ],
)
@respx.mock
def test_further_text_call_formats_become_tool_calls_on_the_record(text: str, form: str):
    respx.post(URL).mock(return_value=ok(completion(text)))
    reply = model().invoke(MESSAGES, chat_tools())
    assert reply.text == ""  # the markup never reaches the user
    assert [(c["name"], c["args"]) for c in reply.tool_calls] == [
        ("plan_transfers", {"city": "上海", "category": "雨靴"})
    ]
    (repair,) = reply.response_metadata["repairs"]
    assert repair["kind"] == "text_tool_call" and form in repair["detail"]


@respx.mock
def test_a_tools_block_cut_off_at_the_output_limit_is_sent_back_then_refused():
    """Recorded live: two <function> tags, the second cut off at 300 output tokens. Neither
    runs (they were meant together); the model is told, and a second cut-off is refused."""
    cut = (
        '<tools>\n<function name="forecast_demand" parameters=\'{"city": "上海"}\'>\n'
        '<function name="plan_transfers" parameters=\'{"city": "上海", "destinations": ["SHA-S1'
    )
    route = respx.post(URL).mock(return_value=ok(completion(cut)))
    with pytest.raises(LLMError, match="cut off") as info:
        model(max_repairs=1).invoke(MESSAGES, chat_tools())
    assert "<tools>" not in str(info.value) and "<function" not in str(info.value)
    assert route.call_count == 2
    note = json.loads(route.calls[1].request.content)["messages"][-1]
    assert note["role"] == "user" and "tool-calling interface" in note["content"]
    assert [r["kind"] for r in info.value.repairs] == ["text_tool_call_refused"] * 2


@respx.mock
def test_a_copied_tool_signature_is_refused_then_the_real_call_runs():
    signature = (
        '{"type": "function", "function": {"name": "stock_lookup", "parameters": '
        '{"type": "object", "properties": {"city": {"type": "string"}}}}}'
    )
    call = '{"name": "stock_lookup", "arguments": {"city": "Shanghai"}}'
    route = respx.post(URL).mock(side_effect=[ok(completion(signature)), ok(completion(call))])
    reply = model().invoke(MESSAGES, chat_tools())
    assert [(c["name"], c["args"]) for c in reply.tool_calls] == [
        ("stock_lookup", {"city": "Shanghai"})
    ]
    kinds = [r["kind"] for r in reply.response_metadata["repairs"]]
    assert kinds == ["text_tool_call_refused", "text_tool_call"]
    assert "signature of stock_lookup" in reply.response_metadata["repairs"][0]["detail"]
    assert route.call_count == 2


@respx.mock
def test_an_ordinary_fenced_json_answer_is_left_alone():
    text = 'The totals are:\n```json\n{"atp": 12}\n```'
    respx.post(URL).mock(return_value=ok(completion(text)))
    reply = model().invoke(MESSAGES, chat_tools())
    assert reply.text == text and reply.tool_calls == []


@respx.mock
def test_unreadable_text_tool_call_is_sent_back_then_refused_never_shown():
    route = respx.post(URL).mock(
        return_value=ok(
            completion('<tool_call>{"name": "stock_lookup", "arguments": {</tool_call>')
        )
    )
    with pytest.raises(LLMError, match="not valid JSON") as info:
        model(max_repairs=1).invoke(MESSAGES, chat_tools())
    assert "<tool_call>" not in str(info.value)
    assert route.call_count == 2
    note = json.loads(route.calls[1].request.content)["messages"][-1]
    assert note["role"] == "user" and "tool-calling interface" in note["content"]


@respx.mock
def test_empty_reply_is_asked_again_then_answered_clearly():
    route = respx.post(URL).mock(side_effect=[ok(completion("")), ok(completion("12 pairs"))])
    reply = model().invoke(MESSAGES, chat_tools())
    assert reply.text == "12 pairs"
    assert reply.response_metadata["repairs"][0]["kind"] == "empty_reply"
    assert json.loads(route.calls[1].request.content)["messages"][-1]["content"].startswith(
        "Your last reply was empty"
    )


@respx.mock
def test_the_empty_reply_nudge_quotes_the_turn_s_answer_lines():
    """Recorded with Qwen2.5-Coder-1.5B: after a correct stock lookup it replied nothing, and
    the bare nudge got "Sorry, I didn't get any information"; the nudge now quotes the result."""
    result = {"answer": "Rain boots in Shanghai: 411 available to promise.", "totals": {}}
    messages = [
        *MESSAGES,
        AIMessage(content="", tool_calls=[{"id": "c1", "name": "stock_lookup", "args": {}}]),
        ToolMessage(content=json.dumps(result), tool_call_id="c1", name="stock_lookup"),
    ]
    route = respx.post(URL).mock(side_effect=[ok(completion("")), ok(completion("411 pairs"))])
    assert model().invoke(messages, chat_tools()).text == "411 pairs"
    note = json.loads(route.calls[1].request.content)["messages"][-1]["content"]
    assert note.startswith("Your last reply was empty. The tool results say: Rain boots in")
    assert "411 available to promise" in note


@respx.mock
def test_an_answer_that_copies_the_nudge_keeps_only_what_the_results_say():
    """Recorded with Qwen2.5-Coder-1.5B (chat-plan-rain-zh, 22:40 UTC): nudged after an empty
    reply, it answered with the whole nudge, "Your last reply was empty. The tool results say:
    调拨计划：…", which the user read as is."""
    result = {"answer": "调拨计划：2 票，共 18 件，预计净值 ¥362。", "totals": {}}
    messages = [
        SystemMessage("sys"),
        HumanMessage("帮我规划雨靴调拨"),
        AIMessage(content="", tool_calls=[{"id": "c1", "name": "plan_transfers", "args": {}}]),
        ToolMessage(content=json.dumps(result), tool_call_id="c1", name="plan_transfers"),
    ]
    copied = (
        "Your last reply was empty. The tool results say: 调拨计划：2 票，共 18 件，预计净值 ¥362。"
    )
    respx.post(URL).mock(side_effect=[ok(completion("")), ok(completion(copied))])
    reply = model().invoke(messages, chat_tools())
    assert reply.text == "调拨计划：2 票，共 18 件，预计净值 ¥362。"
    kinds = [r["kind"] for r in reply.response_metadata["repairs"]]
    assert kinds == ["empty_reply", "echoed_nudge"]
    # the same words without a nudge before them are the model's own, and stand
    respx.post(URL).mock(side_effect=[ok(completion("Answer the user with that."))])
    assert model().invoke(messages, chat_tools()).text == "Answer the user with that."


@respx.mock
def test_repeated_empty_replies_raise_a_clear_error():
    respx.post(URL).mock(return_value=ok(completion(None)))
    with pytest.raises(LLMError, match="empty reply 2 times in a row"):
        model(max_repairs=1).invoke(MESSAGES, chat_tools())


@respx.mock
def test_invalid_calls_are_recorded_on_the_repaired_message():
    respx.post(URL).mock(
        side_effect=[
            ok(completion(calls=[("c1", "propose_markdown", '{"style": "RB001", "depth": 5}')])),
            ok(completion(calls=[("c2", "stock_lookup", '{"city": "Shanghai"}')])),
        ]
    )
    reply = model().invoke(MESSAGES, chat_tools())
    assert [c["id"] for c in reply.tool_calls] == ["c2"]
    [bad] = reply.invalid_tool_calls
    assert bad["args"] == '{"style": "RB001", "depth": 5}' and "depth" in bad["error"]
    assert reply.response_metadata["repairs"][0]["kind"] == "invalid_tool_call"


@respx.mock
def test_400_is_not_retried_and_says_so():
    respx.post(URL).mock(
        return_value=httpx.Response(400, json={"error": {"message": "context_length_exceeded"}})
    )
    with pytest.raises(LLMError, match=r"HTTP 400 \(not retried\)") as info:
        model(max_retries=3).invoke(MESSAGES, [])
    assert "after" not in str(info.value)
    assert respx.calls.call_count == 1


@respx.mock
def test_429_is_retried_with_the_servers_delay():
    waits: list[float] = []
    respx.post(URL).mock(
        side_effect=[
            httpx.Response(429, json={"error": {"message": "slow"}}, headers={"retry-after": "2"}),
            ok(completion("hello")),
        ]
    )
    assert model(max_retries=2, sleep=waits.append).invoke(MESSAGES, []).text == "hello"
    assert waits == [2.0]


@respx.mock
def test_read_timeout_is_not_retried_while_the_server_still_works():
    respx.post(URL).mock(side_effect=httpx.ReadTimeout("slow model"))
    with pytest.raises(LLMError, match=r"did not answer within 300 s.*not retried"):
        model(max_retries=3).invoke(MESSAGES, [])
    assert respx.calls.call_count == 1


@respx.mock
def test_connection_refused_is_retried():
    respx.post(URL).mock(side_effect=[httpx.ConnectError("refused"), ok(completion("up again"))])
    assert model(max_retries=1).invoke(MESSAGES, []).text == "up again"


@respx.mock
def test_usage_is_summed_over_repairs():
    first = completion(calls=[("c1", "stock_lookup", "{bad")])
    first["usage"] = {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}
    second = completion("ok")
    second["usage"] = {"prompt_tokens": 130, "completion_tokens": 5, "total_tokens": 135}
    respx.post(URL).mock(side_effect=[ok(first), ok(second)])
    reply = model().invoke(MESSAGES, chat_tools())
    assert reply.usage_metadata == {"input_tokens": 230, "output_tokens": 15, "total_tokens": 245}


ERROR = (
    "error: unknown sku 'RB001'; did you mean RB001-BLK-35, RB001-BLK-36? To cover every SKU of "
    "style RB001, pass style='RB001'. SKU codes are STYLE-COLOUR-SIZE, e.g. DR001-GRY-L. Next: "
    "call list_catalog(category=...) for style codes, then stock_lookup(style=...)"
)


def _after_error(question: str) -> list[Any]:
    from langchain_core.messages import AIMessage

    call = {"id": "c1", "name": "forecast_demand", "args": {"skus": ["RB001"]}}
    return [
        SystemMessage("sys"),
        HumanMessage(question),
        AIMessage(content="", tool_calls=[call]),
        ToolMessage(ERROR, tool_call_id="c1", name="forecast_demand", status="error"),
    ]


@respx.mock
def test_an_answer_that_only_repeats_a_tool_error_is_told_plainly():
    """Qwen2.5-Coder-1.5B's recorded answer after a refused call (tests/agents/cassettes)."""
    respx.post(URL).mock(
        return_value=ok(completion("To cover every SKU of style RB001, pass style='RB001'."))
    )
    reply = model().invoke(_after_error("Forecast rain boots in Shanghai"), [])
    assert reply.text.startswith("I could not finish this: forecast_demand refused the call")
    assert "unknown sku 'RB001'" in reply.text and "Next:" not in reply.text
    assert [r["kind"] for r in reply.response_metadata["repairs"]] == ["echoed_tool_error"]

    respx.post(URL).mock(return_value=ok(completion("pass style='RB001'. SKU codes are")))
    reply = model().invoke(_after_error("预测上海雨靴需求"), [])
    assert reply.text.startswith("未能完成：工具 forecast_demand 拒绝了这次调用")


@respx.mock
def test_an_error_copied_with_a_few_words_around_it_is_told_plainly():
    """Seen live (chat-plan-rain-zh): a copied error with words around it reached the user."""
    copied = "Sorry! Error: unknown sku 'RB001'; did you mean RB001-BLK-35, RB001-BLK-36? Thanks."
    respx.post(URL).mock(return_value=ok(completion(copied)))
    reply = model().invoke(_after_error("Forecast rain boots in Shanghai"), [])
    assert reply.text.startswith("I could not finish this: forecast_demand refused the call")
    # ... while an answer that only names the unknown code in its own words stands
    own = (
        "I could not find the SKU RB001 in the catalogue. Could you tell me which size of the "
        "rain boots you mean, for example RB001-BLK-35?"
    )
    respx.post(URL).mock(return_value=ok(completion(own)))
    reply = model().invoke(_after_error("Forecast rain boots in Shanghai"), [])
    assert reply.text == own
    assert not reply.response_metadata.get("repairs")


@respx.mock
def test_a_tool_error_repeated_inside_tool_response_tags_is_told_plainly():
    """Recorded through llama.cpp's server: the error copied inside Qwen's <tool_response>."""
    echoed = f"<tool_response>\n{ERROR}\n</tool_response>"
    respx.post(URL).mock(return_value=ok(completion(echoed)))
    reply = model().invoke(_after_error("Forecast rain boots in Shanghai"), [])
    assert reply.text.startswith("I could not finish this: forecast_demand refused the call")
    assert "<tool_response>" not in reply.text


@respx.mock
def test_an_answer_that_explains_the_error_in_its_own_words_is_kept():
    own = "The SKU RB001 does not exist; RB001-BLK-35 and RB001-BLK-36 are its sizes."
    respx.post(URL).mock(return_value=ok(completion(own)))
    reply = model().invoke(_after_error("Forecast rain boots in Shanghai"), [])
    assert reply.text == own
    assert not reply.response_metadata.get("repairs")


@respx.mock
def test_an_invalid_optional_argument_is_dropped_and_the_call_runs():
    """Recorded with Qwen2.5-Coder-1.5B: plan_transfers with junk in every constraint field,
    refused three times. Now it runs on the defaults, and the repair says what was dropped."""
    junk = {"city": "Shanghai", "category": "rain_boots", "constraints": {"pack_multiple": 0}}
    route = respx.post(URL).mock(
        return_value=ok(completion(calls=[("c1", "plan_transfers", json.dumps(junk))]))
    )
    reply = model().invoke(MESSAGES, chat_tools())
    assert route.call_count == 1
    assert reply.tool_calls[0]["args"] == {"city": "Shanghai", "category": "rain_boots"}
    (repair,) = reply.response_metadata["repairs"]
    assert repair["kind"] == "dropped_invalid_arguments" and repair["call_id"] == "c1"
    assert "constraints.pack_multiple" in repair["arguments"]["constraints"]
    assert not reply.invalid_tool_calls


@respx.mock
def test_a_datetime_where_a_date_is_asked_keeps_its_date():
    """Recorded through llama.cpp's server (chat-plan-rain-zh): the rain scenario's start as a
    datetime; it was dropped whole and the plan ran without the rain the user described."""
    rain = {"city": "上海", "start": "2015-07-11T08:00:00+00:00", "precipitation_mm_per_day": 75}
    sent = {"city": "上海", "category": "雨靴", "rain": [rain]}
    respx.post(URL).mock(
        return_value=ok(completion(calls=[("c1", "plan_transfers", json.dumps(sent))]))
    )
    reply = model().invoke(MESSAGES, chat_tools())
    assert reply.tool_calls[0]["args"]["rain"] == [{**rain, "start": "2015-07-11"}]
    (repair,) = reply.response_metadata["repairs"]
    assert "its date 2015-07-11 used" in repair["arguments"]["rain"]


@respx.mock
def test_a_proposal_with_an_invalid_argument_is_still_refused():
    shipment = {"source": "DC-SHA", "dest": "SHA-S01", "lines": [{"sku": "X", "qty": 1}]}
    bad = {"shipments": [shipment], "emergency": "very"}  # only an optional argument is wrong
    respx.post(URL).mock(
        side_effect=[
            ok(completion(calls=[("c1", "propose_transfer", json.dumps(bad))])),
            ok(completion("I could not propose it.")),
        ]
    )
    reply = model().invoke(MESSAGES, chat_tools())
    assert not reply.tool_calls
    assert [c["name"] for c in reply.invalid_tool_calls] == ["propose_transfer"]


@respx.mock
def test_a_failed_call_carries_its_invalid_calls_repairs_and_tokens():
    """The benchmark's validity meter read invalid calls off returned messages only: a model
    call that ended in LLMError lost them (6 of 9 valid was printed as 1.0)."""
    body = completion(calls=[("c", "stock_lookup", '{"x": ')])
    body["usage"] = {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}
    respx.post(URL).mock(return_value=ok(body))
    with pytest.raises(LLMError) as failed:
        model(max_repairs=2).invoke(MESSAGES, chat_tools())
    assert len(failed.value.invalid_tool_calls) == 3
    assert [r["kind"] for r in failed.value.repairs] == ["invalid_tool_call"] * 3
    assert failed.value.usage["total_tokens"] == 36


@respx.mock
def test_a_city_question_answered_for_one_store_is_widened_and_junk_options_are_ignored(
    runtime, checkpointer
):
    """The two failures recorded with Qwen2.5-Coder-1.5B, through the graph: SHA-S01 alone for
    "上海门店…" (it answered one store's 3 for the city's 411), and junk in an optional argument.
    Both calls run; each result tells the model what was changed."""
    stock = '{"location": "SHA-S01", "category": "rain_boots", "cover_window_days": 1}'
    route = respx.post(URL).mock(
        side_effect=[
            ok(completion(calls=[("c1", "stock_lookup", stock)])),
            ok(completion("上海门店雨靴可售若干双。")),
        ]
    )
    runtime.llm = model()
    graph = build_graph("ops_chat", runtime, checkpointer)
    result = chat(runtime, graph, "t", "上海门店还有多少雨靴?")
    assert result.status == RunStatus.SUCCEEDED
    content = json.loads(json.loads(route.calls[1].request.content)["messages"][-1]["content"])
    assert "city='Shanghai'" in content["resolved_names"]["location='SHA-S01'"]
    assert "cover_window_days" in content["ignored_arguments"]
    locations = {row["location"] for row in content["by_location"]}
    assert len(locations) > 1 and all(code.startswith("SHA-S") for code in locations)


@respx.mock
def test_chat_template_tokens_are_removed_and_a_reply_of_nothing_else_is_not_asked_again():
    """Measured: a dev server that did not stop on them sent "<|im_start|>" as the answer."""
    route = respx.post(URL).mock(
        side_effect=[
            ok(completion("<|im_start|>assistant\n411 pairs.<|im_end|>\n<|im_start|>user\nok")),
            ok(completion("<|im_start|>")),
        ]
    )
    reply = model().invoke(MESSAGES, chat_tools())
    assert reply.text == "411 pairs."
    assert [r["kind"] for r in reply.response_metadata["repairs"]] == ["template_tokens"]
    reply = model().invoke(MESSAGES, chat_tools())
    assert reply.text == "" and not reply.tool_calls
    assert route.call_count == 2  # one request each: the empty answer goes to the graph's check


@respx.mock
@pytest.mark.parametrize(
    "written",
    [
        '{"answer": "调拨计划：2 票，共 18 件，预计净值 ¥362。"}',
        '```json\n{"answer": "调拨计划：2 票，共 18 件，预计净值 ¥362。", "totals": {}}\n```',
    ],
)
def test_an_answer_written_as_a_tool_result_is_unwrapped_to_its_words(written: str):
    """Recorded with Qwen2.5-Coder-1.5B (chat-plan-rain-zh): it answered in the tool results'
    own shape, which the user would have read as JSON."""
    respx.post(URL).mock(side_effect=[ok(completion(written))])
    reply = model().invoke(MESSAGES, chat_tools())
    assert reply.text == "调拨计划：2 票，共 18 件，预计净值 ¥362。"
    assert [r["kind"] for r in reply.response_metadata["repairs"]] == ["json_answer"]
    # JSON without an answer, or prose, is left as written
    for kept in ('{"totals": {}}', "调拨计划：2 票。"):
        respx.post(URL).mock(side_effect=[ok(completion(kept))])
        assert model().invoke(MESSAGES, chat_tools()).text == kept
