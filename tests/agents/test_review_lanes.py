"""The approval card says when a transfer's lane performs differently from its configuration."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from agents.graphs.common import review
from inventory.db import session_scope
from tests.utils.fulfilment_events import add_network, deliver

VERDICT = {"rules": ["max_units_per_order"], "approvers_required": 1}


def transfer(subject_id: str, source: str, dest: str) -> dict:
    return {
        "subject_id": subject_id,
        "kind": "transfer_order",
        "units": 5,
        "value": 1495.0,
        "expected_value": 900.0,
        "cost": 50.0,
        "action": {
            "name": "transfer_order",
            "args": {"source": source, "dest": dest, "lines": [{"sku": "RB001-BLK-38", "qty": 5}]},
        },
    }


def test_the_card_names_a_lane_whose_realised_figures_differ(engine: Engine) -> None:
    with session_scope(engine) as session:
        add_network(session, ["SHA-A1", "SHA-B1"])
    for n in range(10):  # DC-SHA → SHA-A1 takes 48 h, at twice the configured cost
        deliver(engine, f"WMS-{n}", hours=48, cost=100.0)
    records = [transfer("TO-1", "DC-SHA", "SHA-A1"), transfer("TO-2", "DC-SHA", "SHA-B1")]
    notes = review.lane_notes(engine, records)
    assert list(notes) == [("DC-SHA", "SHA-A1")]
    slow = review.describe(records[0], VERDICT, lanes=notes)
    assert "**Lane (realised ≠ configured):** lead time 40 h vs 24 h configured (+67%" in slow
    assert "cost +67% vs configured (realised ×2.00" in slow
    assert "Lane (realised" not in review.describe(records[1], VERDICT, lanes=notes)
    assert review.lane_notes(engine, [{"kind": "markdown", "action": {"args": {}}}]) == {}
