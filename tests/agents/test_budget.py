"""The conversation sent to a model fits its window: old results first, then old turns."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from agents.graphs.ops_chat.budget import ContextBudget, fit_history, message_tokens


def _turn(n: int, result_chars: int) -> list:
    return [
        HumanMessage(f"question {n}"),
        AIMessage("", tool_calls=[{"id": f"c{n}", "name": "stock_lookup", "args": {}}]),
        ToolMessage("x" * result_chars, tool_call_id=f"c{n}", name="stock_lookup"),
        AIMessage(f"answer {n}"),
    ]


def _tokens(messages: list) -> int:
    return sum(message_tokens(m) for m in messages)


def test_a_conversation_that_fits_is_sent_whole() -> None:
    messages = _turn(1, 100) + _turn(2, 100)
    assert fit_history(messages, 10_000) == messages


def test_earlier_results_become_stubs_before_any_turn_is_dropped() -> None:
    messages = _turn(1, 7_000) + _turn(2, 700)
    fitted = fit_history(messages, 600)
    assert [m.text for m in fitted if isinstance(m, HumanMessage)] == ["question 1", "question 2"]
    assert fitted[2].text.startswith("[earlier result of stock_lookup left out")
    assert fitted[6].text == "x" * 700  # this turn's result stays whole
    assert _tokens(fitted) <= 600


def test_old_turns_go_when_stubs_are_not_enough() -> None:
    messages = [m for n in range(40) for m in _turn(n, 10)] + _turn(99, 700)
    fitted = fit_history(messages, 400)
    assert isinstance(fitted[0], HumanMessage)  # never a result without its call
    assert fitted[-4].text == "question 99" and _tokens(fitted) <= 400


def test_the_budget_shares_the_window() -> None:
    budget = ContextBudget.for_model(8192, fixed_tokens=2700, max_output_tokens=None)
    assert budget.reply_tokens == 1024
    assert budget.history_tokens == 8192 - 2700 - 1024
    assert budget.tool_result_tokens == budget.history_tokens // 3
