"""Large tool results reach the model as valid JSON, with exact totals and a count of omissions."""

from __future__ import annotations

import json

from agents.graphs.ops_chat.compact import OMITTED_KEY, compact_json
from agents.llm.offline_answers import render_stock
from inventory.demo_world.vocabulary import DEMO_VOCABULARY


def _lookup(positions: int) -> dict:
    rows = [
        {"location": f"SHA-S{i % 10:02d}", "sku": f"RB001-BLK-{i}", "atp": 2, "on_hand": 3}
        for i in range(positions)
    ]
    totals = {"positions": positions, "atp": 2 * positions, "on_hand": 3 * positions}
    return {
        "as_of": "2015-07-01T09:00:00",
        "positions": rows,
        "totals": totals | {"reserved": 0, "in_transit_in": 0, "in_transit_out": 0},
        "truncated": False,
    }


def test_small_results_are_unchanged() -> None:
    payload = _lookup(3)
    assert json.loads(compact_json(payload, 10_000)) == payload


def test_large_results_stay_valid_json_under_the_limit() -> None:
    payload = _lookup(2_000)
    text = compact_json(payload, 20_000)
    assert len(text) <= 20_000
    out = json.loads(text)
    assert out["totals"] == payload["totals"]
    kept = len(out["positions"])
    assert 0 < kept < 2_000
    assert out[OMITTED_KEY] == {"positions": 2_000 - kept}


def test_the_planner_answers_from_a_compacted_lookup() -> None:
    out = json.loads(compact_json(_lookup(2_000), 20_000))
    answer = render_stock(
        out, {"city": "Shanghai", "category": "rain_boots"}, "en", DEMO_VOCABULARY
    )
    assert "4000 available to promise" in answer
    assert "totals cover every match" in answer
    answer_zh = render_stock(
        out, {"city": "Shanghai", "category": "rain_boots"}, "zh", DEMO_VOCABULARY
    )
    assert "4000" in answer_zh and "上海" in answer_zh
