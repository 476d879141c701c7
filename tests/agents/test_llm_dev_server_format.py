"""The dev model server's Qwen2.5 prompt, stop sequences and Hermes tool-call parsing
(benchmarks/dev_llm/): pure Python, no model. The cassettes in tests/agents/cassettes/ were
recorded through it, so a prompt it renders wrongly would have made them worse than the model
is."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _module(name: str) -> ModuleType:
    path = ROOT / "benchmarks" / "dev_llm" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"dev_llm_{name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # a dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


fmt = _module("chat_format")
engine = _module("engine")  # llama.cpp is loaded only when an Engine is made
TOOL = {
    "type": "function",
    "function": {"name": "stock_lookup", "parameters": {"type": "object", "properties": {}}},
}


def test_a_conversation_with_tools_renders_as_qwen_expects():
    prompt = fmt.render(
        [
            {"role": "system", "content": "You are Stockpilot."},
            {"role": "user", "content": "上海还有多少雨靴?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "stock_lookup", "arguments": '{"city": "上海"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": '{"atp": 3}'},
            {"role": "tool", "tool_call_id": "c2", "content": '{"atp": 4}'},
        ],
        [TOOL],
    )
    assert prompt.startswith("<|im_start|>system\nYou are Stockpilot.\n\n# Tools\n")
    assert json.dumps(TOOL) in prompt
    assert (
        '<|im_start|>assistant\n<tool_call>\n{"name": "stock_lookup", "arguments": '
        '{"city": "上海"}}\n</tool_call><|im_end|>\n'
    ) in prompt
    # consecutive tool results share one user turn
    assert prompt.count("<|im_start|>user") == 2
    assert (
        '<|im_start|>user\n<tool_response>\n{"atp": 3}\n</tool_response>\n<tool_response>\n'
        '{"atp": 4}\n</tool_response><|im_end|>\n'
    ) in prompt
    assert prompt.endswith("<|im_start|>assistant\n")


def test_without_a_system_message_qwen_s_default_is_used():
    prompt = fmt.render([{"role": "user", "content": "hi"}], None)
    assert prompt.startswith(f"<|im_start|>system\n{fmt.DEFAULT_SYSTEM}<|im_end|>\n")
    assert "# Tools" not in prompt


def test_hermes_blocks_become_tool_calls_with_string_arguments():
    text = (
        'Looking it up.\n<tool_call>\n{"name": "stock_lookup", "arguments": {"city": "上海"}}\n'
        '</tool_call>\n<tool_call>\n{"name": "list_catalog", "arguments": {}}\n</tool_call>'
    )
    content, calls = fmt.parse_output(text)
    assert content == "Looking it up."
    assert [c["function"]["name"] for c in calls] == ["stock_lookup", "list_catalog"]
    assert json.loads(calls[0]["function"]["arguments"]) == {"city": "上海"}
    assert isinstance(calls[1]["function"]["arguments"], str)


def test_an_unclosed_block_at_the_end_still_counts_but_broken_json_stays_text():
    _, calls = fmt.parse_output('<tool_call>\n{"name": "list_locations", "arguments": {}}')
    assert [c["function"]["name"] for c in calls] == ["list_locations"]
    content, calls = fmt.parse_output("<tool_call>\n{name: stock_lookup}\n</tool_call>")
    assert calls == []
    assert "<tool_call>" in content  # left for the client's text-call repair to judge


def test_generation_stops_at_the_chat_template_s_tokens():
    """Measured before: greedy Qwen2.5-1.5B answered "<|im_start|>" and the server sent it."""
    stops = [s.encode() for s in engine.CHAT_STOPS]
    assert set(engine.CHAT_STOPS) == {"<|im_end|>", "<|im_start|>", "<|endoftext|>"}
    assert engine.stop_at(b"<|im_start|>", stops, len(b"<|im_start|>")) == 0
    text = b"411 pairs.<|im_end|>"
    assert engine.stop_at(text, stops, len(b"<|im_end|>")) == len(b"411 pairs.")
    # a stop sequence completed by the last piece, begun in an earlier one
    assert engine.stop_at(b"411<|im_e" + b"nd|>", stops, 4) == 3
    assert engine.stop_at("上海 411 双".encode(), stops, 3) is None


def test_a_request_s_own_stop_sequences_are_added_to_the_template_s():
    assert engine.stop_sequences([]) == list(engine.CHAT_STOPS)
    assert engine.stop_sequences("END")[-1] == "END"
    assert engine.stop_sequences(["a", "<|im_end|>"]) == [*engine.CHAT_STOPS, "a"]
