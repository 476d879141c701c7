"""``/v1/evals/latest``: the last eval report written under the service's data directory, so
the console can show how the agents last scored (``stockpilot eval run … --report
<data_dir>/reports``). Read only; the service never runs evals itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import ReaderDep, SettingsDep
from api.errors import ERROR_RESPONSES

router = APIRouter(prefix="/evals", tags=["evals"], responses=ERROR_RESPONSES)


class EvalScenarioView(BaseModel):
    id: str
    purpose: str = ""
    passed: bool
    passes: int
    trials: int


class EvalReportView(BaseModel):
    path: str = Field(description="Where the report was read from (relative to the data dir).")
    started_at: str | None
    duration_s: float | None
    llm_mode: str | None
    passed: bool
    headline: dict[str, Any]
    scenarios: list[EvalScenarioView]
    markdown: str | None = Field(description="report.md beside it, when there is one.")


class LatestEval(BaseModel):
    """``report`` None when no eval has written one yet (not an error: a fresh service has none);
    ``hint`` then says how to produce one."""

    report: EvalReportView | None
    hint: str | None = None


def latest_report(reports: Path) -> Path | None:
    """The newest ``report.json`` in ``reports`` or one folder below it."""
    found = [*reports.glob("report.json"), *reports.glob("*/report.json")]
    return max(found, key=lambda p: p.stat().st_mtime, default=None)


@router.get("/latest", summary="The last eval report under <data_dir>/reports")
def latest(settings: SettingsDep, _: ReaderDep) -> LatestEval:
    reports = settings.data_dir / "reports"
    path = latest_report(reports)
    if path is None:
        return LatestEval(
            report=None,
            hint=f"no eval report under {reports}: run `stockpilot eval run evals/scenarios "
            f"--report {reports}`",
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        scenarios = [
            EvalScenarioView(
                id=s["id"],
                purpose=s.get("purpose", ""),
                passed=bool(s["passed"]),
                passes=int(s.get("passes", 0)),
                trials=len(s.get("trials") or []),
            )
            for s in data.get("scenarios", [])
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:  # a half-written or foreign file
        return LatestEval(report=None, hint=f"the eval report {path} cannot be read: {exc}")
    markdown = path.with_name("report.md")
    return LatestEval(
        report=EvalReportView(
            path=str(path.relative_to(settings.data_dir)),
            started_at=data.get("started_at"),
            duration_s=data.get("duration_s"),
            llm_mode=data.get("llm_mode"),
            passed=bool(data.get("passed")),
            headline=data.get("headline") or {},
            scenarios=scenarios,
            markdown=markdown.read_text(encoding="utf-8") if markdown.is_file() else None,
        )
    )
