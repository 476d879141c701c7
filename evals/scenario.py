"""Scenarios as data: one YAML file per case, validated so a typo fails loudly with file and field.

A scenario is everything needed to replay one situation through the service's graphs and judge
the result on the end state of the world (DESIGN §7): the world to start from, the clock, the
trigger, the scripted human, and the expectations.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evals.expectations_model import Expectations

SCENARIO_SUFFIXES = (".yaml", ".yml")


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StockSelector(_Strict):
    """Which stock positions an override touches; every given filter must match (AND)."""

    location: str | None = None
    sku: str | None = None
    style: str | None = None
    category: str | None = None
    city: str | None = None
    location_kind: Literal["store", "dc", "online"] | None = None


class StockOverride(_Strict):
    """Change on-hand stock of the selected positions (through ``inventory.movements.adjust``)."""

    match: StockSelector
    set_on_hand: int | None = Field(default=None, ge=0)
    scale: float | None = Field(default=None, ge=0, description="Multiply on-hand, rounded down.")
    add: int | None = None

    @model_validator(mode="after")
    def _exactly_one_change(self) -> StockOverride:
        given = [n for n in ("set_on_hand", "scale", "add") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of set_on_hand, scale, add (got {given or 'none'})")
        return self


class InTransitOverride(_Strict):
    """A shipment already on its way when the scenario starts (reserved + dispatched at source)."""

    source: str
    dest: str
    sku: str
    qty: int = Field(gt=0)


class WorldSetup(_Strict):
    """The demo world to copy (a cached template per spec) and what to change in the copy."""

    seed: int = 7
    stores: int = Field(default=12, ge=1, le=500)
    styles: int = Field(default=16, ge=1, le=2000)
    history_days: int = Field(default=120, ge=28, le=2000)
    cities: list[str] = Field(
        default_factory=list, description="Cities with stores (all five when empty)."
    )
    stock: list[StockOverride] = Field(default_factory=list)
    in_transit: list[InTransitOverride] = Field(default_factory=list)
    policy: dict[str, Any] = Field(
        default_factory=dict, description="Deep-merged over the shipped policy file."
    )
    wms_failures: int = Field(
        default=0, ge=0, description="The simulated WMS answers 5xx this many times first."
    )


class WeatherCheck(_Strict):
    """The real weather the scenario claims; checked against the world's weather table."""

    city: str
    date: dt.date
    band: Literal["none", "light", "moderate", "heavy", "rainstorm"]


class AlertTrigger(_Strict):
    """An alert as a sender would post it; ``repeat`` > 1 delivers the same alert again."""

    payload: dict[str, Any]
    repeat: int = Field(default=1, ge=1, le=5)


class ChatTurn(_Strict):
    content: str = Field(min_length=1)


class Trigger(_Strict):
    alert: AlertTrigger | None = None
    chat: list[ChatTurn] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_kind(self) -> Trigger:
        if (self.alert is None) == (not self.chat):
            raise ValueError("give exactly one of `alert` or `chat` (a list of turns)")
        return self

    @property
    def assistant_id(self) -> str:
        return "alert_response" if self.alert is not None else "ops_chat"


class Principal(_Strict):
    name: str
    roles: list[str] = Field(default_factory=lambda: ["approver"])


DecisionKind = Literal["approve", "reject", "edit", "ignore"]


class DecisionRule(_Strict):
    """Decide one way when an action's numbers cross a bound; the first matching rule wins."""

    decision: DecisionKind
    min_value: float | None = None
    max_value: float | None = None
    min_units: int | None = None
    max_units: int | None = None
    action_name: str | None = None
    qty_factor: float | None = Field(default=None, gt=0, le=1, description="For edit decisions.")
    message: str = "rejected by the scripted approver"


class ApproverScript(_Strict):
    """The scripted human. ``ignore`` leaves the request pending (for expiry scenarios)."""

    default: DecisionKind = "approve"
    rules: list[DecisionRule] = Field(default_factory=list)
    qty_factor: float = Field(default=0.5, gt=0, le=1, description="Edit: scale line qty.")
    message: str = "rejected by the scripted approver"
    principal: Principal = Principal(name="eval-approver", roles=["approver"])
    second_principal: Principal | None = Field(
        default=None, description="Answers a second (four-eyes) request for the same action."
    )
    max_rounds: int = Field(default=6, ge=1, le=50)
    advance_clock_hours: float = Field(
        default=0.0, ge=0, description="After an ignored request: move the clock, then sweep."
    )


class ReplayScope(_Strict):
    """What the hindsight-optimal plan may touch: the same decision the agent faced."""

    city: str | None = Field(default=None, description="Destinations: this city's stores.")
    categories: list[str] = Field(default_factory=list, description="Empty: every category.")


#: Caps on what a rain alert that should not be acted on may cost (issue 10): freight sent and
#: net value lost, per event.
MAX_NO_ACTION_FREIGHT = 500.0
MIN_NO_ACTION_NET = -500.0

ScenarioRole = Literal["act", "control", "false-alarm", "other"]


class Scenario(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=80)
    purpose: str = Field(min_length=10, description="One line: what this scenario proves.")
    tags: list[str] = Field(default_factory=list)
    role: ScenarioRole = Field(
        default="other",
        description="act: hindsight has something to gain and the agent must capture it (floors "
        "on capture_share and net_value; a do-nothing agent fails); control: nothing to gain, "
        "acting may only cost little; false-alarm: a heavy-rain alert on a day that stayed dry, "
        "freight and loss capped; other: not a rain decision. Every `rain` scenario is one of the "
        "first three.",
    )
    world: WorldSetup = WorldSetup()
    clock: dt.datetime
    weather_check: WeatherCheck | None = None
    trigger: Trigger
    approver: ApproverScript = ApproverScript()
    expect: Expectations = Expectations()
    replay_days: int = Field(
        default=2,
        ge=1,
        le=28,
        description="Days of realised demand the replay scores (the alert graph plans the rain "
        "day and the day after).",
    )
    replay_scope: ReplayScope | None = Field(
        default=None,
        description="Scope of the hindsight plan; a rain alert defaults to its city's stores and "
        "the rain categories, anything else to the whole network.",
    )
    cassette: Path | None = Field(
        default=None, description="Recorded LLM exchanges, relative to the scenario file."
    )
    source: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _purpose_is_one_line(self) -> Scenario:
        if "\n" in self.purpose.strip():
            raise ValueError("purpose must be one line")
        return self

    @model_validator(mode="after")
    def _role_has_its_floors(self) -> Scenario:
        """A role is only as good as the bounds that make it fail: check they are declared."""
        if "rain" in self.tags and self.role == "other":
            raise ValueError("a `rain` scenario needs role act, control or false-alarm")
        low, high = self.expect.kpis.min, self.expect.kpis.max
        if self.role == "act":
            missing = [k for k in ("capture_share", "net_value") if k not in low]
            if missing:
                raise ValueError(f"role act needs kpi floors on {missing}")
            if low["capture_share"] <= 0 or low["net_value"] <= 0:
                raise ValueError(
                    "role act needs capture_share and net_value floors above 0, or doing "
                    "nothing would pass"
                )
        if self.role in ("control", "false-alarm"):
            if high.get("transfer_cost", float("inf")) > MAX_NO_ACTION_FREIGHT:
                raise ValueError(
                    f"role {self.role} needs kpis.max.transfer_cost ≤ {MAX_NO_ACTION_FREIGHT:g}"
                )
            if low.get("net_value", float("-inf")) < MIN_NO_ACTION_NET:
                raise ValueError(
                    f"role {self.role} needs kpis.min.net_value ≥ {MIN_NO_ACTION_NET:g}"
                )
        return self


def _format_error(path: Path, exc: ValidationError) -> str:
    lines = [f"{path}: {exc.error_count()} problem(s)"]
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        given = err.get("input")
        shown = "" if isinstance(given, dict | list) else f" (got {given!r})"
        lines.append(f"  - {where}: {err['msg']}{shown}")
    return "\n".join(lines)


def load_scenario(path: Path) -> Scenario:
    """Read and validate one scenario file."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from exc
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc}") from exc
    if not isinstance(raw, dict):
        raise ScenarioError(
            f"{path}: expected a mapping at the top level, got {type(raw).__name__}"
        )
    try:
        scenario = Scenario.model_validate({**raw, "source": path})
    except ValidationError as exc:
        raise ScenarioError(_format_error(path, exc)) from exc
    return scenario


def load_scenarios(target: Path, *, select: str | None = None) -> list[Scenario]:
    """Every scenario in a directory (sorted by file name), or the one file given.

    Raises:
        ScenarioError: a file is invalid, the target holds none, or two files share an id.
    """
    if target.is_dir():
        files = sorted(p for p in target.iterdir() if p.suffix in SCENARIO_SUFFIXES)
    elif target.is_file():
        files = [target]
    else:
        raise ScenarioError(f"{target}: no such file or directory")
    problems: list[str] = []
    scenarios: list[Scenario] = []
    for file in files:
        try:
            scenarios.append(load_scenario(file))
        except ScenarioError as exc:
            problems.append(str(exc))
    if problems:
        raise ScenarioError("\n".join(problems))
    seen: dict[str, Path] = {}
    for sc in scenarios:
        if sc.id in seen:
            raise ScenarioError(f"{sc.source}: id {sc.id!r} already used by {seen[sc.id]}")
        seen[sc.id] = sc.source or Path("?")
    if select:
        scenarios = [s for s in scenarios if select in s.id or select in s.tags]
    if not scenarios:
        raise ScenarioError(
            f"{target}: no scenarios found" + (f" matching {select!r}" if select else "")
        )
    return scenarios
