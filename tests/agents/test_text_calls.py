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
    ],
)
def test_broken_calls_are_refused_with_a_reason(text: str) -> None:
    parsed = parse_text_calls(text)
    assert parsed.calls == [] and parsed.problem
