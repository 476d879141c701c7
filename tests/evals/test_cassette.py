"""Record a chat exchange through the real openai adapter, then replay it with no network."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import respx
from langchain_core.messages import HumanMessage

from agents.llm.base import LLMError, ToolDefinition
from agents.llm.openai_adapter import OpenAIChatModel
from connectors.base import ConnectorSet
from evals.cassette import Cassette, CassetteError, recording_client, replaying
from tools.stock_lookup.models import StockLookupInput

BASE = "https://llm.example.test/v1"
QUESTION = "How many rain boots are left in Shanghai stores?"
COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": "test-model",
    "choices": [
        {
            "index": 0,
            "finish_reason": "tool_calls",
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {
                            "name": "stock_lookup",
                            "arguments": '{"city": "Shanghai", "category": "rain_boots"}',
                        },
                    }
                ],
            },
        }
    ],
}
TOOL = ToolDefinition.from_model("stock_lookup", "Find stock positions.", StockLookupInput)


def record(path: Path) -> list[dict]:
    tape = Cassette(base_url=BASE, model="test-model")
    with respx.mock() as router:
        route = router.post(f"{BASE}/chat/completions").mock(
            return_value=httpx.Response(200, json=COMPLETION)
        )
        client = recording_client(tape)
        model = OpenAIChatModel(base_url=BASE, model="test-model", api_key="k", http_client=client)
        message = model.invoke([HumanMessage(content=QUESTION)], [TOOL])
        client.close()
    assert route.call_count == 1
    tape.save(path)
    return message.tool_calls


def test_record_then_replay_through_the_real_adapter(tmp_path: Path) -> None:
    path = tmp_path / "tape.json"
    recorded_calls = record(path)
    tape = Cassette.load(path)
    assert len(tape.exchanges) == 1
    assert tape.exchanges[0].request["messages"][-1]["content"] == QUESTION

    with replaying(tape) as player:
        model = OpenAIChatModel(base_url=BASE, model="test-model", api_key="r", max_retries=0)
        message = model.invoke([HumanMessage(content=QUESTION)], [TOOL])
    assert message.tool_calls == recorded_calls
    assert message.tool_calls[0]["args"] == {"city": "Shanghai", "category": "rain_boots"}
    assert player.problems == [] and player.unused == 0


def test_replay_that_leaves_the_recorded_conversation_fails_loudly(tmp_path: Path) -> None:
    path = tmp_path / "tape.json"
    record(path)
    with replaying(Cassette.load(path)) as player:
        model = OpenAIChatModel(base_url=BASE, model="test-model", api_key="r", max_retries=0)
        with pytest.raises(LLMError, match="cassette"):
            model.invoke([HumanMessage(content="Plan transfers for Guangzhou")], [TOOL])
    assert "left the recorded conversation" in player.problems[0]
    assert player.unused == 1


def test_local_systems_pass_through_while_replaying(tmp_path: Path) -> None:
    """The simulated WMS runs on localhost during a scenario: replay must not swallow it."""
    path = tmp_path / "tape.json"
    record(path)
    with ConnectorSet.simulated() as connectors, replaying(Cassette.load(path)):
        assert connectors.wms.list_transfer_orders() == []


def test_unreadable_cassette(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(CassetteError, match="not a valid cassette"):
        Cassette.load(bad)
    with pytest.raises(CassetteError, match="cannot read"):
        Cassette.load(tmp_path / "missing.json")
