"""A Chinese request gets a Chinese answer all through: proposal lines are said from their facts,
not the English summary the approval card carries."""

from __future__ import annotations

import re

import pytest

from agents.registry import build_graph
from tests.agents.helpers import SKU, chat, last_text, stock_up


@pytest.fixture
def graph(runtime, checkpointer):
    stock_up(runtime.engine, "DC-SHA", SKU, 600)
    return build_graph("ops_chat", runtime, checkpointer)


def test_a_chinese_transfer_request_is_answered_in_chinese(runtime, graph):
    text = last_text(chat(runtime, graph, "t-zh", f"从DC-SHA调拨40双{SKU}到SHA-S01"))
    assert "DC-SHA → SHA-S01：40 件" in text and "运费 ¥" in text
    assert not re.search(r"\b(units|retail value|freight|queued|dispatched)\b", text), text


def test_the_english_answer_keeps_the_english_summary(runtime, graph):
    text = last_text(chat(runtime, graph, "t-en", f"ship 40 pairs of {SKU} from DC-SHA to SHA-S01"))
    assert "DC-SHA → SHA-S01: 40 units" in text and "件" not in text
