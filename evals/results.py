"""Results of a suite run as data: what the report renders and the JSON file holds."""

from __future__ import annotations

from pydantic import BaseModel, Field

from evals.approver import ScriptedDecision
from evals.expectations import CheckResult
from evals.kpis import ReplayKpis
from evals.observation import Observation


class TrialResult(BaseModel):
    """One run of one scenario."""

    scenario_id: str
    trial: int
    passed: bool
    duration_s: float
    failure_reasons: list[str] = Field(default_factory=list)
    checks: list[CheckResult] = Field(default_factory=list)
    kpis: dict[str, float | None] = Field(default_factory=dict)
    replay: ReplayKpis | None = None
    observation: Observation | None = None
    decisions: list[ScriptedDecision] = Field(default_factory=list)
    llm: str = Field(default="offline", description="offline | live | record | replay")

    @property
    def diagnostics(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.enforced and not c.passed]


class ScenarioSummary(BaseModel):
    id: str
    purpose: str
    tags: list[str]
    role: str = Field(default="other", description="act | control | false-alarm | other.")
    world_seed: int | None = Field(
        default=None,
        description="The demo-world seed the scenario's world was generated from (its catalog, "
        "promo calendar and demand draws): a result holds for that world, not for every world.",
    )
    source: str
    trials: list[TrialResult]
    pass_hat_k: dict[int, float] = Field(description="k → estimated P(all k trials pass).")

    @property
    def passes(self) -> int:
        return sum(t.passed for t in self.trials)

    @property
    def passed(self) -> bool:
        return self.passes == len(self.trials)


class Headline(BaseModel):
    """The product's headline numbers over the rain scenarios (tag ``rain``)."""

    rain_scenarios: int
    mean_capture_share: float | None = Field(
        description="Mean share of hindsight-optimal net value captured (where defined)."
    )
    capture_defined_in: int
    weighted_capture_share: float | None = Field(
        default=None,
        description="Σ executed net value ÷ Σ hindsight net value over the same scenarios: "
        "less sensitive than the mean to scenarios with little to gain.",
    )
    sell_through: float | None = Field(
        description="Transferred units that sold within the window ÷ units transferred."
    )
    units_transferred: float = Field(description="Per trial (mean over trials), all scenarios.")
    transferred_units_sold: float
    net_value: float
    hindsight_net_value: float


class SuiteResult(BaseModel):
    started_at: str
    duration_s: float
    trials: int
    llm_mode: str
    scenarios: list[ScenarioSummary]
    suite_pass_hat_k: dict[int, float]
    headline: Headline

    @property
    def failed(self) -> list[ScenarioSummary]:
        return [s for s in self.scenarios if not s.passed]

    @property
    def passed(self) -> bool:
        return not self.failed
