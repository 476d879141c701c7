"""The alert's report: facts from the state, in words by a template or, if configured, an LLM.

The LLM only words facts already decided; it never sees tools and cannot change an outcome.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage

from agents.graphs.alert_response.prompts import SUMMARY_SYSTEM
from agents.graphs.alert_response.state import AlertState
from agents.llm.base import LLMError
from agents.runtime import AgentRuntime


def write_report(runtime: AgentRuntime, state: AlertState) -> AlertState:
    facts = _facts(state)
    summary = _template_summary(facts)
    if runtime.llm.name != "offline":
        try:
            message = runtime.llm.invoke(
                [
                    SystemMessage(SUMMARY_SYSTEM),
                    HumanMessage(json.dumps({**facts, "language": "en"}, default=str)),
                ],
                [],
            )
            summary = message.text or summary
        except LLMError as exc:
            facts["summary_error"] = str(exc)
    return {"report": {**facts, "summary": summary}}


def _facts(state: AlertState) -> dict[str, Any]:
    outcomes: dict[str, Any] = state.get("outcomes") or {}
    proposals = {p["subject_id"]: p for p in state.get("proposals") or []}
    plan = state.get("plan") or {}
    return {
        "triage": state.get("triage", {}),
        "scope": {k: v for k, v in (state.get("scope") or {}).items() if k != "stores"}
        | {"stores": len((state.get("scope") or {}).get("stores", []))},
        "forecast": state.get("forecast", {}),
        "plan_totals": plan.get("totals"),
        "plan_error": plan.get("error") or (state.get("forecast") or {}).get("error"),
        "empty_reason": plan.get("empty_reason"),
        "status_counts": dict(Counter(o["status"] for o in outcomes.values())),
        "actions": [
            {
                "subject_id": subject_id,
                "summary": proposals.get(subject_id, {}).get("summary", ""),
                **outcome,
            }
            for subject_id, outcome in outcomes.items()
        ],
    }


def _template_summary(facts: dict[str, Any]) -> str:
    triage = facts["triage"]
    parts = [f"{triage.get('reason', 'alert')}."]
    if not triage.get("act"):
        return parts[0] + " No action taken."
    if error := facts.get("plan_error"):
        return parts[0] + f" {error}. No action taken."
    forecast = facts.get("forecast") or {}
    if late := forecast.get("unimported_days"):
        parts.append(
            f"Sales are recorded through {forecast['sales_through']} ({late} day"
            f"{'s' if late > 1 else ''} not imported yet): forecast from that day."
        )
    if unrecorded := forecast.get("unrecorded_weather_days"):
        parts.append(
            f"Weather is recorded through {forecast['weather_through']} ({unrecorded} day"
            f"{'s' if unrecorded > 1 else ''} not recorded yet): taken at the season's climate, "
            "not as dry."
        )
    if forecast and not (forecast.get("short_units") or forecast.get("size_holes")):
        parts.append(
            f"Forecast demand {forecast.get('demand_units', 0):g} units against "
            f"{forecast.get('atp_units', 0)} available: no shortage, no action."
        )
        return " ".join(parts)
    if forecast:
        parts.append(
            f"Forecast shortfall {forecast['short_units']:g} units across "
            f"{forecast['short_series']} store-styles; {forecast.get('size_holes', 0)} sizes "
            "expected to sell are at zero."
        )
    if not facts["actions"]:
        parts.append(f"No transfer proposed ({facts.get('empty_reason') or 'nothing worth it'}).")
        return " ".join(parts)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(facts["status_counts"].items()))
    parts.append(f"{len(facts['actions'])} proposals: {counts}.")
    return " ".join(parts)
