"""Private worlds: a template copy with the scenario's overrides, applied through movements."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from evals.scenario import Scenario
from evals.world import WorldSetupError, build_world, deep_merge
from inventory.models import StockMovement, StockPosition, WorldMeta

BASE = {
    "id": "world-test",
    "purpose": "Checks the overrides of a private world.",
    "world": {"cities": ["Shanghai"], "stores": 8, "styles": 12},
    "clock": "2015-07-11T08:00:00",
    "trigger": {"chat": [{"content": "hi"}]},
}


def scenario(**world: object) -> Scenario:
    return Scenario.model_validate({**BASE, "world": {**BASE["world"], **world}})


def positions(session: Session, location: str) -> dict[str, StockPosition]:
    rows = session.exec(select(StockPosition).where(StockPosition.location_code == location))
    return {p.sku_code: p for p in rows}


def test_overrides_go_through_movements_and_worlds_are_private(tmp_path: Path) -> None:
    plain = build_world(scenario(), tmp_path / "a")
    with Session(plain.engine) as session:
        before = positions(session, "SHA-S01")
        clock = session.get(WorldMeta, "clock")
    plain.dispose()
    assert clock is not None and clock.value["now"] == "2015-07-11T08:00:00"
    sku = next(code for code, p in before.items() if p.on_hand >= 4 and p.reserved == 0)

    changed = build_world(
        scenario(
            stock=[
                {"match": {"location": "SHA-S01"}, "scale": 0.5},
                {"match": {"location": "SHA-S01", "sku": sku}, "set_on_hand": 1},
            ]
        ),
        tmp_path / "b",
    )
    with Session(changed.engine) as session:
        after = positions(session, "SHA-S01")
        adjustments = session.exec(
            select(func.count())
            .select_from(StockMovement)
            .where(StockMovement.actor == "eval-setup")
        ).one()
    changed.dispose()
    assert after[sku].on_hand == 1
    other = next(
        code for code, p in before.items() if code != sku and p.on_hand >= 2 and p.reserved == 0
    )
    assert after[other].on_hand == before[other].on_hand // 2
    assert adjustments >= 2


def test_unknown_selector_and_policy_key_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(WorldSetupError, match=r"world\.stock\[0\]\.match: no stock position"):
        build_world(scenario(stock=[{"match": {"location": "NOPE-S99"}, "add": 1}]), tmp_path / "c")
    with pytest.raises(WorldSetupError, match=r"policy\.transfer\.auto_aprove: unknown policy key"):
        build_world(scenario(policy={"transfer": {"auto_aprove": {}}}), tmp_path / "d")


def test_policy_tweaks_merge_deeply() -> None:
    merged = deep_merge({"a": {"b": 1, "c": 2}, "d": 3}, {"a": {"c": 5}})
    assert merged == {"a": {"b": 1, "c": 5}, "d": 3}
