"""The reviewer's side of an approval as agent-chat-ui drives it: a readable card, a published
args schema, and edits sent back with every arg as a string."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from agents.graphs.common.review import EditInvalid, args_schema, parse_edited_args
from agents.registry import build_graph
from inventory.models import RunStatus, Sku, TransferOrder
from tests.agents.helpers import SKU, chat, decide, stock_up

LINES = [{"sku": SKU, "qty": 30}]


def test_args_as_agent_chat_ui_sends_them_are_parsed_against_the_schema() -> None:
    sent = {"source": "DC-SHA", "dest": "SHA-S01", "lines": json.dumps(LINES), "subject_id": "TO-1"}
    assert parse_edited_args("transfer_order", sent) == {
        "source": "DC-SHA",
        "dest": "SHA-S01",
        "lines": LINES,
    }
    markdown = parse_edited_args(
        "markdown", {"depth": "0.25"}, original={"style": "RB001", "location": None, "depth": 0.3}
    )
    assert markdown["depth"] == 0.25 and markdown["style"] == "RB001"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ({"lines": "[{sku: 1}"}, "lines: not valid JSON"),
        ({"lines": json.dumps([{"sku": SKU, "qty": 0}])}, "lines.0.qty"),
        ({"lines": "[]"}, "lines"),
        ({"colour": "red"}, "has no arg 'colour'"),
    ],
)
def test_a_bad_edit_says_which_arg_and_why(args: dict, says: str) -> None:
    original = {"source": "DC-SHA", "dest": "SHA-S01", "lines": LINES}
    with pytest.raises(EditInvalid, match=says.replace("(", r"\(").replace(".", r"\.")):
        parse_edited_args("transfer_order", args, original=original)


def test_the_schema_is_published_with_subject_id_read_only() -> None:
    schema = args_schema("transfer_order")
    assert schema is not None and schema["properties"]["subject_id"]["readOnly"] is True
    assert schema["properties"]["lines"]["type"] == "array"
    assert "reason" not in (args_schema("markdown") or {})["properties"]


@pytest.fixture
def runtime(any_runtime):
    """On SQLite and PostgreSQL, each with the checkpointer ``serve`` opens for it."""
    return any_runtime


@pytest.fixture
def checkpointer(any_checkpointer):
    return any_checkpointer


@pytest.fixture
def graph(runtime, checkpointer):
    stock_up(runtime.engine, "DC-SHA", SKU, 600)
    return build_graph("ops_chat", runtime, checkpointer)


def _ship(qty: int) -> str:
    return f"ship {qty} pairs of {SKU} from DC-SHA to SHA-S01"


def test_the_card_is_a_table_by_style_and_size(runtime, graph) -> None:
    result = chat(runtime, graph, "t", _ship(100))
    (action,) = result.interrupts[0]["value"]["action_requests"]
    with Session(runtime.engine) as session:
        sku = session.get(Sku, SKU)
    text = action["description"]
    assert "DC-SHA → SHA-S01" in text and "| style | size | units |" in text
    assert f"| {sku.size} | 100 |" in text and sku.style_code in text
    assert "| units | retail value | expected sales saved | transfer cost |" in text
    assert "**Reason:** asked in chat" in text and "100 > 60" in text


def test_an_edit_with_string_args_is_applied(runtime, graph, connectors) -> None:
    result = chat(runtime, graph, "t", _ship(100))
    (action,) = result.interrupts[0]["value"]["action_requests"]
    as_sent = {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in action["args"].items()
    }
    as_sent["lines"] = json.dumps(LINES)
    edit = {"type": "edit", "edited_action": {"name": "transfer_order", "args": as_sent}}
    done = decide(runtime, graph, "t", [edit])
    assert done.status == RunStatus.SUCCEEDED
    assert [r.order.lines[0].qty for r in connectors.wms.list_transfer_orders()] == [30]


def test_a_rejected_edit_leads_the_card_with_why(runtime, graph, connectors) -> None:
    chat(runtime, graph, "t", _ship(100))
    edit = {"type": "edit", "edited_action": {"name": "transfer_order", "args": {"lines": "[{"}}}
    again = decide(runtime, graph, "t", [edit])
    assert again.status == RunStatus.INTERRUPTED
    text = again.interrupts[0]["value"]["action_requests"][0]["description"]
    assert text.startswith("> ⚠️ edit rejected: lines: not valid JSON")
    assert connectors.wms.list_transfer_orders() == []
    with Session(runtime.engine) as session:
        assert session.exec(select(TransferOrder.status)).all() == ["pending_approval"]
