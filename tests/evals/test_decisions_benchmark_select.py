"""``benchmarks/decisions.py --select``: exact scenario ids, never substrings, and a clear usage
error (exit code 2, no traceback) on an id it does not hold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.decisions import SCENARIOS, SelectionError, select_scenarios, with_history
from evals.heldout import held_out_scenarios
from evals.scenario import load_scenarios

ROOT = Path(__file__).resolve().parents[2]
_ALL = load_scenarios(SCENARIOS)


def test_an_id_selects_that_scenario_only() -> None:
    # "rain-beijing-heavy" is a substring of no other id, but "beijing" and "heavy" are of many:
    # neither may select anything.
    picked = select_scenarios(_ALL, "rain-beijing-heavy", "")
    assert [s.id for s in picked] == ["rain-beijing-heavy"]
    for word in ("beijing", "heavy", "rain"):
        with pytest.raises(SelectionError, match=word):
            select_scenarios(_ALL, word, "")


def test_several_ids_and_roles() -> None:
    picked = select_scenarios(_ALL, "false-alarm-shanghai, rain-chengdu-rainstorm", "act")
    assert [s.id for s in picked] == ["rain-chengdu-rainstorm"]
    everything = select_scenarios(_ALL, "", "")
    assert everything and all("rain" in s.tags for s in everything)


def test_default_is_the_seed_7_cases_and_other_seeds_go_by_id() -> None:
    """The suite's seed-11/12 rain scenarios are the seed-7 cases on other worlds: by default the
    benchmark keeps its seed-7 set (``--world-seeds`` reaches the others, and a default that took
    the copies too would count them twice there); an id on another seed is still selectable."""
    everything = select_scenarios(_ALL, "", "")
    assert {s.world.seed for s in everything} == {7}
    assert {s.world.seed for s in _ALL if "rain" in s.tags} > {7}
    (other,) = select_scenarios(_ALL, "rain-shanghai-rainstorm-s11", "")
    assert other.world.seed == 11


def _benchmark(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "benchmarks/decisions.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_unknown_id_is_a_usage_error_naming_it() -> None:
    run = _benchmark("--select", "rain-beijing-heavy,rain-nowhere")
    assert run.returncode == 2
    assert "rain-nowhere" in run.stderr and "Traceback" not in run.stderr
    assert "rain-beijing-heavy" in run.stderr  # the ids there are are listed


def test_history_days_rebuild_each_world_and_drop_those_before_the_weather() -> None:
    """``--history-days``: every world gets that history; an event whose history would start
    before the real weather (2010-01-01) is left out, not built on missing weather."""
    events = held_out_scenarios(1, 0, _ALL)
    longer = with_history(events, 365)
    assert {s.world.history_days for s in events} == {120}
    assert {s.world.history_days for s in longer} == {365}
    dropped = {s.id for s in events} - {s.id for s in longer}
    assert dropped and all(s.clock.year == 2010 for s in events if s.id in dropped)
    assert all(s.clock.date().isoformat() >= "2011-01-01" for s in longer)
    assert [s.id for s in with_history(events, 120)] == [s.id for s in events]
    run = _benchmark("--history-days", "5")
    assert run.returncode == 2 and "--history-days must be 28 to 2000, got 5" in run.stderr
