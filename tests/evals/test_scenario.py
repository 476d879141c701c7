"""Scenario files: the shipped suite loads, and a bad file says which file and which field."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.scenario import ScenarioError, load_scenario, load_scenarios

SCENARIOS = Path(__file__).resolve().parents[2] / "evals" / "scenarios"

MINIMAL = """
id: tiny
purpose: A minimal valid scenario used by the tests.
clock: 2015-07-11T08:00:00
trigger:
  chat:
    - content: how many rain boots in Shanghai?
"""


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_suite_has_at_least_twenty_valid_scenarios() -> None:
    scenarios = load_scenarios(SCENARIOS)
    assert len(scenarios) >= 20
    assert len({s.id for s in scenarios}) == len(scenarios)
    assert all("\n" not in s.purpose for s in scenarios)


RAIN_ALERT = """
id: rain-x
purpose: A rain alert used by the tests.
tags: [rain]
clock: 2015-07-11T08:00:00
trigger:
  alert: {payload: {type: rain, city: Shanghai, mm: 75, hours: 24}}
"""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("", "needs role act, control or false-alarm"),
        ("role: act\n", "role act needs kpi floors on ['capture_share', 'net_value']"),
        (
            "role: act\nexpect: {kpis: {min: {capture_share: 0.5, net_value: 0}}}\n",
            "doing nothing would pass",
        ),
        ("role: false-alarm\n", "transfer_cost ≤ 500"),
        (
            "role: control\nexpect: {kpis: {min: {net_value: -900}, max: {transfer_cost: 100}}}\n",
            "net_value ≥ -500",
        ),
    ],
)
def test_a_rain_scenario_must_be_able_to_fail(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(write(tmp_path, RAIN_ALERT + extra))
    assert message in str(info.value)


def test_shipped_rain_scenarios_have_roles_that_can_fail() -> None:
    rain = [s for s in load_scenarios(SCENARIOS) if "rain" in s.tags]
    roles = {s.role for s in rain}
    assert roles == {"act", "control", "false-alarm"}
    for scenario in rain:
        if scenario.role == "act":
            # Act worlds sit on a real heavy-rain day, so hindsight has something to gain.
            assert scenario.weather_check and scenario.weather_check.band in ("heavy", "rainstorm")
        if scenario.role == "false-alarm":
            assert scenario.weather_check and scenario.weather_check.band == "none"
            assert float(scenario.trigger.alert.payload["mm"]) >= 25  # a heavy-rain alert


def test_shipped_rain_scenarios_cover_every_band_in_every_city() -> None:
    rain = [s for s in load_scenarios(SCENARIOS) if "rain" in s.tags and s.role != "false-alarm"]
    covered = {(s.weather_check.city, s.weather_check.band) for s in rain if s.weather_check}
    cities = {"Beijing", "Shanghai", "Guangzhou", "Chengdu", "Shenyang"}
    bands = {"moderate", "heavy", "rainstorm"}
    assert covered == {(c, b) for c in cities for b in bands}
    for scenario in rain:
        assert scenario.clock.date() == scenario.weather_check.date  # now = morning of the rain


def test_minimal_scenario_defaults(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, MINIMAL))
    assert scenario.trigger.assistant_id == "ops_chat"
    assert scenario.approver.default == "approve"
    assert scenario.expect.kpis.max == {"policy_violations": 0.0}


def test_unknown_field_names_file_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "expect:\n  orderz: {none: true}\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(path) in str(err.value)
    assert "expect.orderz" in str(err.value)


def test_bad_value_is_named_with_its_value(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("2015-07-11T08:00:00", "yesterday"))
    with pytest.raises(ScenarioError, match=r"clock: .*'yesterday'"):
        load_scenario(path)


def test_trigger_needs_exactly_one_kind(tmp_path: Path) -> None:
    text = MINIMAL + "  alert:\n    payload: {type: rain, city: Shanghai, mm: 30}\n"
    with pytest.raises(ScenarioError, match="exactly one of `alert` or `chat`"):
        load_scenario(write(tmp_path, text))


def test_stock_override_needs_exactly_one_change(tmp_path: Path) -> None:
    text = (
        MINIMAL
        + "world:\n  stock:\n    - match: {city: Shanghai}\n      scale: 0.5\n      add: 3\n"
    )
    with pytest.raises(ScenarioError, match=r"world\.stock\.0.*exactly one of"):
        load_scenario(write(tmp_path, text))


def test_invalid_yaml_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(write(tmp_path, "id: [unclosed\n"))
    with pytest.raises(ScenarioError, match="expected a mapping"):
        load_scenario(write(tmp_path, "- a\n- b\n"))


def test_duplicate_ids_in_a_directory(tmp_path: Path) -> None:
    write(tmp_path, MINIMAL, "a.yaml")
    write(tmp_path, MINIMAL, "b.yaml")
    with pytest.raises(ScenarioError, match="already used"):
        load_scenarios(tmp_path)


def test_every_bad_file_is_reported_at_once(tmp_path: Path) -> None:
    write(tmp_path, MINIMAL.replace("id: tiny", "id: Bad Id"), "a.yaml")
    write(tmp_path, MINIMAL.replace("purpose: A minimal", "purpose: x\n#"), "b.yaml")
    with pytest.raises(ScenarioError) as err:
        load_scenarios(tmp_path)
    assert "a.yaml" in str(err.value) and "b.yaml" in str(err.value)


def test_select_filters_by_id_or_tag(tmp_path: Path) -> None:
    write(tmp_path, MINIMAL, "a.yaml")
    write(tmp_path, MINIMAL.replace("id: tiny", "id: other\ntags: [rainy]"), "b.yaml")
    assert [s.id for s in load_scenarios(tmp_path, select="rainy")] == ["other"]
    with pytest.raises(ScenarioError, match="no scenarios found matching 'nope'"):
        load_scenarios(tmp_path, select="nope")
