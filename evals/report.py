"""The suite report: a Markdown page an ops lead can read in two minutes, and the same as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from evals.results import ScenarioSummary, SuiteResult, TrialResult


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f} %"


def _cny(value: float | None) -> str:
    return "n/a" if value is None else f"¥{value:,.0f}"


def _mean_kpi(summary: ScenarioSummary, key: str) -> float | None:
    values = [t.kpis.get(key) for t in summary.trials]
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _orders(trial: TrialResult) -> tuple[int, int]:
    obs = trial.observation
    if obs is None:
        return 0, 0
    return len(obs.wms_orders), sum(o.units for o in obs.wms_orders)


def _approvals(trial: TrialResult) -> int:
    value = trial.kpis.get("approvals_requested")
    return int(value) if value is not None else 0


def _seed(summary: ScenarioSummary) -> str:
    return "-" if summary.world_seed is None else str(summary.world_seed)


def _seeds(summaries: list[ScenarioSummary]) -> str:
    seeds = sorted({s.world_seed for s in summaries if s.world_seed is not None})
    return ", ".join(str(s) for s in seeds) or "-"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(result: SuiteResult) -> str:
    k = result.trials
    lines = [
        "# Stockpilot evaluation report",
        "",
        f"Started {result.started_at} · {len(result.scenarios)} scenarios × {k} trial(s) · "
        f"LLM: {result.llm_mode} · world seeds {_seeds(result.scenarios)} · "
        f"{result.duration_s:.1f} s",
        "",
    ]
    failed = result.failed
    verdict = "PASSED" if not failed else f"FAILED ({len(failed)} scenario(s))"
    passed_count = len(result.scenarios) - len(failed)
    lines += [
        f"**Result: {verdict}** — {passed_count}/{len(result.scenarios)} scenarios passed every "
        f"trial; suite pass^{k} = {result.suite_pass_hat_k.get(k, 0.0):.2f}.",
        "",
        "## Headline (rain scenarios)",
        "",
    ]
    h = result.headline
    lines += [
        f"- Share of the hindsight-optimal value captured (mean over {h.capture_defined_in} of "
        f"{h.rain_scenarios} rain scenarios where there was value to capture): "
        f"**{_pct(h.mean_capture_share)}**; value-weighted (Σ net ÷ Σ hindsight net over the "
        f"same scenarios): **{_pct(h.weighted_capture_share)}**",
        f"- Transferred units sold within the window: **{_pct(h.sell_through)}** "
        f"({h.transferred_units_sold:g} of {h.units_transferred:g} units per trial)",
        f"- Net value (margin recovered − unsold cost − freight): {_cny(h.net_value)} "
        f"vs {_cny(h.hindsight_net_value)} for the hindsight-optimal plan",
        "",
        "## Scenarios",
        "",
        f"| Scenario | World seed | Purpose | Result | pass^{k} | WMS orders | Units | "
        "Approvals asked | Net value | Capture | Sell-through |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for summary in result.scenarios:
        first = summary.trials[0]
        n_orders, units = _orders(first)
        # Capture and sell-through judge transfer decisions: shown where one was taken or due.
        judged = "rain" in summary.tags or units > 0
        status = "pass" if summary.passed else f"**FAIL** ({summary.passes}/{len(summary.trials)})"
        lines.append(
            f"| `{summary.id}` | {_seed(summary)} | {_escape(summary.purpose)} | {status} | "
            f"{summary.pass_hat_k.get(k, 0.0):.2f} | {n_orders} | {units} | {_approvals(first)} | "
            f"{_cny(_mean_kpi(summary, 'net_value'))} | "
            f"{_pct(_mean_kpi(summary, 'capture_share')) if judged else '-'} | "
            f"{_pct(_mean_kpi(summary, 'sell_through')) if judged else '-'} |"
        )
    if failed:
        lines += ["", "## Why scenarios failed", ""]
        for summary in failed:
            lines.append(f"### `{summary.id}` ({summary.source})")
            for trial in summary.trials:
                if trial.passed:
                    continue
                lines.append(f"- trial {trial.trial}:")
                lines += [f"  - {_escape(reason)}" for reason in trial.failure_reasons]
            lines.append("")
    losing = [
        (s, t) for s in result.scenarios for t in s.trials[:1] if (t.kpis.get("net_value") or 0) < 0
    ]
    if losing:
        lines += ["", "## Where the executed plan lost money against doing nothing", ""]
        for summary, trial in losing:
            lines.append(
                f"- `{summary.id}`: moved {int(trial.kpis.get('units_transferred') or 0)} units, "
                f"{int(trial.kpis.get('transferred_units_sold') or 0)} sold within the window; "
                f"net {_cny(trial.kpis.get('net_value'))} "
                f"(hindsight-optimal {_cny(trial.kpis.get('hindsight_net_value'))})"
            )
    diagnostics = [
        (s.id, t.trial, c) for s in result.scenarios for t in s.trials for c in t.diagnostics
    ]
    if diagnostics:
        lines += ["", "## Trajectory diagnostics (not failing)", ""]
        lines += [
            f"- `{sid}` trial {trial}: {c.name} — {_escape(c.detail)}"
            for sid, trial, c in diagnostics
        ]
    lines += ["", "## Details", ""]
    for summary in result.scenarios:
        trial = summary.trials[0]
        lines.append(f"### `{summary.id}`")
        lines.append("")
        lines.append(f"{summary.purpose}  ")
        lines.append(
            f"Tags: {', '.join(summary.tags) or '-'} · world seed {_seed(summary)} · "
            f"file `{summary.source}`"
        )
        lines.append("")
        if trial.observation is not None:
            obs = trial.observation
            lines.append(
                f"- Run: {obs.run_status}; tools called: {', '.join(obs.tool_calls) or '-'}"
            )
            for order in obs.wms_orders[:10]:
                skus = ", ".join(f"{line.sku}×{line.qty}" for line in order.lines[:6])
                lines.append(f"- WMS {order.reference}: {order.source} → {order.dest}: {skus}")
            if len(obs.wms_orders) > 10:
                lines.append(f"- … {len(obs.wms_orders) - 10} more WMS orders")
            lines += [f"- Note: {_escape(note)}" for note in obs.notes]
        for decision in trial.decisions:
            lines.append(
                f"- Approver: {decision.decision} {decision.action_name} "
                f"({decision.units} units, {_cny(decision.value)})"
            )
        if trial.replay is not None:
            r = trial.replay
            hindsight = r.hindsight.net_value if r.hindsight else None
            lines.append(
                f"- Replay over {r.window_days} day(s): no action loses {r.no_action_lost_units} "
                f"units ({_cny(r.no_action_lost_value)}); executed avoids "
                f"{r.executed.lost_units_avoided} units, net on margin "
                f"{_cny(r.executed.net_value)} ({r.executed.unsold_units} moved unit(s) unsold); "
                f"hindsight-optimal net {_cny(hindsight)}"
                + (f" ({r.hindsight_note})" if r.hindsight_note else "")
            )
        for check in trial.checks:
            mark = "✓" if check.passed else ("✗" if check.enforced else "·")
            lines.append(f"  - {mark} {check.name}: {_escape(check.detail)}")
        lines.append("")
    return "\n".join(lines) + "\n"


def to_json(result: SuiteResult) -> dict:
    data = result.model_dump(mode="json")
    data["passed"] = result.passed
    for summary, raw in zip(result.scenarios, data["scenarios"], strict=True):
        raw["passed"] = summary.passed
        raw["passes"] = summary.passes
    return data


def write_report(result: SuiteResult, directory: Path) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.json`` into ``directory``; return both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    md = directory / "report.md"
    js = directory / "report.json"
    md.write_text(render_markdown(result), encoding="utf-8")
    js.write_text(json.dumps(to_json(result), indent=2, ensure_ascii=False), encoding="utf-8")
    return md, js
