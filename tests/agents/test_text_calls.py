"""Tool calls small models write as text, in the formats their chat templates use."""

from __future__ import annotations

import pytest

from agents.llm.text_calls import parse_text_calls


@pytest.mark.parametrize(
    ("text", "calls"),
    [
        (
            '<tool_call>\n{"name": "stock_lookup", "arguments": {"city": "上海"}}\n</tool_call>',
            [("stock_lookup", {"city": "上海"})],
        ),
        (
            '<tool_call>{"name": "a", "arguments": {}}</tool_call>\n'
            '<tool_call>{"name": "b", "arguments": {"x": 1}}</tool_call>',
            [("a", {}), ("b", {"x": 1})],
        ),
        (  # unterminated: the server cut the reply after the call
            '<tool_call>{"name": "a", "arguments": {"x": 1}}',
            [("a", {"x": 1})],
        ),
        ('```json\n{"name": "a", "parameters": {"x": 1}}\n```', [("a", {"x": 1})]),
        ('[TOOL_CALLS][{"name": "a", "arguments": {"x": 1}}]', [("a", {"x": 1})]),
        ('{"name": "a", "arguments": "{\\"x\\": 1}"}', [("a", '{"x": 1}')]),
        ('{"type": "function", "function": {"name": "a", "arguments": {}}}', [("a", {})]),
        # recorded live (Qwen2.5-Coder-1.5B): the tool named under "function"
        (
            '{"function": "plan_transfers", "arguments": {"city": "上海"}}',
            [("plan_transfers", {"city": "上海"})],
        ),
        ('{"function": {"name": "a", "parameters": {"x": 1}}}', [("a", {"x": 1})]),
        # the <tools> block of Qwen's template, imitated: JSON inside, closed or not
        ('<tools>\n{"name": "a", "arguments": {"x": 1}}\n</tools>', [("a", {"x": 1})]),
        (
            '<tools>[{"name": "a", "arguments": {}}, {"name": "b", "parameters": {"y": 2}}]',
            [("a", {}), ("b", {"y": 2})],
        ),
        # ... or <function> tags, the JSON as an attribute (recorded live) or as the body
        (
            '<tools>\n    <function name="forecast_demand" '
            'parameters=\'{"city": "上海", "days": 7}\'>\n</tools>',
            [("forecast_demand", {"city": "上海", "days": 7})],
        ),
        (
            '<function name="a" arguments="{&quot;x&quot;: 1}"/>',
            [("a", {"x": 1})],
        ),
        (
            '<function=stock_lookup>{"city": "Shanghai"}</function>',
            [("stock_lookup", {"city": "Shanghai"})],
        ),
    ],
)
def test_known_formats_become_calls(text: str, calls: list) -> None:
    parsed = parse_text_calls(text)
    assert parsed.calls == calls and parsed.problem is None


@pytest.mark.parametrize(
    "text",
    [
        "Shanghai stores hold 276 pairs.",
        'Totals:\n```json\n{"atp": 276}\n```',
        '{"atp": 276, "name": "Shanghai"}',
        "",
    ],
)
def test_ordinary_answers_are_not_calls(text: str) -> None:
    assert not parse_text_calls(text).found


@pytest.mark.parametrize(
    "text",
    [
        '<tool_call>{"name": "a", "arguments": {</tool_call>',
        '<tool_call>{"arguments": {}}</tool_call>',
        "<function=stock_lookup>{city: Shanghai}</function>",
        # recorded live: the second call cut off at the output limit; none of them runs
        '<tools>\n<function name="forecast_demand" parameters=\'{"city": "上海"}\'>\n'
        '<function name="plan_transfers" parameters=\'{"city": "上海", "destinations": ["SHA-S1',
        '<tools>{"name": "plan_transfers", "arguments": {"city": "上海", "rain": [',
        '<tools>{"name": "a"}</tools>',
        # the tool's signature copied from the prompt is not a call, in any markup
        '{"type": "function", "function": {"name": "a", "parameters": {"type": "object", '
        '"properties": {"x": {"type": "integer"}}}}}',
        '<tools><function name="a" parameters=\'{"type": "object", "properties": {}}\'></tools>',
    ],
)
def test_broken_calls_are_refused_with_a_reason(text: str) -> None:
    parsed = parse_text_calls(text)
    assert parsed.calls == [] and parsed.problem


def test_the_markup_is_named_for_the_record() -> None:
    assert (
        parse_text_calls('<tools>{"name": "a", "arguments": {}}</tools>').form == "Qwen tools block"
    )
    assert parse_text_calls('{"function": "a", "arguments": {}}').form == "bare JSON"
    signature = '{"function": {"name": "a", "parameters": {"type": "object", "properties": {}}}}'
    assert "signature of a" in (parse_text_calls(signature).problem or "")
