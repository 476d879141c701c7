"""Large tool results reach a model as a summary within its budget: totals first, rows paged."""

from __future__ import annotations

import json

from agents.graphs.ops_chat.compact import approx_tokens, summarise
from agents.llm.offline_answers import render_stock
from inventory.demo_world.vocabulary import DEMO_VOCABULARY


def _lookup(positions: int) -> dict:
    rows = [
        {
            "location": f"SHA-S{i % 10:02d}",
            "city": "Shanghai",
            "sku": f"RB001-BLK-{i}",
            "atp": 2,
            "on_hand": 3,
            "days_of_cover": None,
        }
        for i in range(positions)
    ]
    totals = {"positions": positions, "atp": 2 * positions, "on_hand": 3 * positions}
    return {
        "as_of": "2015-07-01T09:00:00",
        "positions": rows,
        "totals": totals | {"reserved": 0, "in_transit_in": 0, "in_transit_out": 0},
        "truncated": False,
        "by_location": [
            {"location": f"SHA-S{i:02d}", "atp": 2 * positions // 10} for i in range(10)
        ],
    }


def test_small_results_are_unchanged() -> None:
    payload = _lookup(3)
    assert json.loads(summarise("stock_lookup", payload, 10_000)) == payload


def test_large_results_fit_the_budget_with_exact_totals_first() -> None:
    payload = _lookup(2_000)
    text = summarise("stock_lookup", payload, 1_500)
    assert approx_tokens(text) <= 1_500
    out = json.loads(text)
    assert list(out)[:3] == ["as_of", "totals", "truncated"]
    assert out["totals"] == payload["totals"]
    assert out["by_location_page"]["shown"] == "1-10 of 10"  # short lists whole
    assert len(out["by_location"]) == 10
    page = out["positions_page"]
    assert page["same_for_all"] == {"city": "Shanghai", "atp": 2, "on_hand": 3}
    assert out["positions"][0] == {"location": "SHA-S00", "sku": "RB001-BLK-0"}
    kept = len(out["positions"])
    assert 10 < kept < 2_000
    assert page["shown"] == f"1-{kept} of 2000"
    assert "page=2" in page["next"]


def test_pages_walk_through_the_rows_without_overlap() -> None:
    payload = _lookup(500)
    first = json.loads(summarise("stock_lookup", payload, 800, page=1))
    second = json.loads(summarise("stock_lookup", payload, 800, page=2))
    skus_1 = {r["sku"] for r in first["positions"]}
    skus_2 = {r["sku"] for r in second["positions"]}
    assert skus_1 and skus_2 and not skus_1 & skus_2
    assert second["positions_page"]["shown"].startswith(f"{len(skus_1) + 1}-")


def test_nested_lists_give_way_to_rows_when_they_do_not_fit() -> None:
    series = [
        {"location": f"SHA-S{i:02d}", "total_mean": 1.5, "points": [{"d": j} for j in range(28)]}
        for i in range(60)
    ]
    text = summarise("forecast_demand", {"model": "m", "series": series}, 600)
    rows = json.loads(text)["series"]
    assert rows[0]["points_count"] == 28 and "points" not in rows[0]
    assert approx_tokens(text) <= 600


def test_chinese_text_counts_about_one_token_per_character() -> None:
    assert approx_tokens("上海门店") == 4
    assert approx_tokens("abcdefg") == 2


def test_the_planner_reads_a_summary_made_for_it_as_the_tools_output() -> None:
    payload = _lookup(2_000)
    payload.pop("by_location")
    out = json.loads(summarise("stock_lookup", payload, 5_000, for_model=False))
    assert out["positions"][0] == payload["positions"][0]  # rows keep their shape
    answer = render_stock(
        out, {"city": "Shanghai", "category": "rain_boots"}, "en", DEMO_VOCABULARY
    )
    assert "4000 available to promise" in answer and "totals cover every match" in answer
    answer_zh = render_stock(
        out, {"city": "Shanghai", "category": "rain_boots"}, "zh", DEMO_VOCABULARY
    )
    assert "4000" in answer_zh and "上海" in answer_zh


def test_the_budget_is_a_hard_limit_even_when_a_single_row_is_too_much() -> None:
    payload = _lookup(2_000)
    for budget in (200, 250, 300, 400):
        text = summarise("stock_lookup", payload, budget)
        assert approx_tokens(text) <= budget
        out = json.loads(text)
        assert out["totals"] == payload["totals"]
        shown = out["positions_page"]["shown"]
        assert shown.endswith("of 2000") and (shown == "0 of 2000") == (out["positions"] == [])
