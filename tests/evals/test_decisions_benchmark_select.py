"""``benchmarks/decisions.py --select``: exact scenario ids, never substrings, and a clear usage
error (exit code 2, no traceback) on an id it does not hold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.decisions import SCENARIOS, SelectionError, select_scenarios
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


def test_unknown_id_is_a_usage_error_naming_it() -> None:
    run = subprocess.run(
        [sys.executable, "benchmarks/decisions.py", "--select", "rain-beijing-heavy,rain-nowhere"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 2
    assert "rain-nowhere" in run.stderr and "Traceback" not in run.stderr
    assert "rain-beijing-heavy" in run.stderr  # the ids there are are listed
