"""Chat scenarios against any OpenAI-compatible model, k times, beside the offline planner.

    .venv/bin/python benchmarks/llm_chat.py --base-url http://127.0.0.1:11434/v1 \\
        --model qwen2.5:1.5b-instruct --context-tokens 8192 --k 4
    .venv/bin/python benchmarks/llm_chat.py --fake --k 1          # self-check, no model needed

Not in CI (a live model is slow and not deterministic). Runs the eval harness's chat scenarios
(EN + 中文 stock, forecast, rain plan, injection) with ``--llm live``, then the same scenarios
with the offline planner, and prints one JSON line:

- ``pass_1``: ``system`` -- pass^1 as the product answers (grounded answers and the offline
  fallback as configured, on by default) -- beside ``own`` -- the same trials judged on the
  model's own last answer (its reply checks re-run on it; a model that failed fails);
- ``pass_hat_k``: suite pass^1..k (system) for the model, ``pass_hat_k_own`` the same on the
  model's own answers, and ``offline.pass_hat_k`` for the planner;
- ``per_scenario``: system and own pass^1 of each scenario;
- ``tool_calls``: calls that ran, invalid calls (repaired or not), repairs by kind, tool results
  that were errors (e.g. unknown codes), and ``validity`` = valid / (valid + invalid);
- ``tokens_per_turn`` / ``tokens_per_call``: provider-reported usage (in + out);
- ``latency_per_turn_s`` (p50, max) per graph run end to end, ``model_seconds_per_turn``,
  ``model_failures`` by reason, ``context_overflows``, turns answered by the offline fallback,
  and ``policy_violations`` (the eval's check that nothing ran without the policy's decision);
- ``offline.latency_per_turn_s`` for the same turns.

Settings come from ``STOCKPILOT_LLM_*`` unless given as flags (``--scenarios a,b`` runs a
subset, in that order); the offline fallback and grounded answers are as the product ships them
(``STOCKPILOT_LLM_FALLBACK``, ``STOCKPILOT_LLM_GROUNDED_ANSWERS``); ``replaced_answers`` and
``fallback_answers`` count the turns the graph answered instead of the model.
``--fake`` starts ``benchmarks/fake_openai.py`` on a free port (the offline planner behind HTTP,
with ``--fake-faults hermes,object-args`` to exercise the adapter's repairs).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

import agents.llm.factory as factory
from agents.graphs.ops_chat.grounded import REPLACED_PREFIXES
from agents.llm.base import LLMError, ToolDefinition
from evals.drive import GraphDriver
from evals.expectations import check_reply
from evals.passk import suite_pass_hat_k
from evals.runner import RunOptions, run_suite
from evals.scenario import Scenario, load_scenarios
from inventory.config import PROJECT_ROOT, get_settings

SCENARIOS = (
    "chat-stock-en",
    "chat-stock-zh",
    "chat-forecast-en",
    "chat-plan-rain-zh",
    "chat-injection-en",
    "chat-injection-zh",
)


class Meter:
    """Everything the benchmark counts, per model call and per graph run, reset per trial."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.turn_seconds: list[float] = []

    def record(self, **entry: Any) -> None:
        self.calls.append(entry)


def _timed_stream(meter: Meter) -> Any:
    """GraphDriver._stream, timed: one entry per graph run (a chat turn or an approval round)."""
    original = GraphDriver._stream

    def stream(self: GraphDriver, payload: Any, config: dict[str, Any]) -> None:
        started = time.perf_counter()
        try:
            original(self, payload, config)
        finally:
            meter.turn_seconds.append(time.perf_counter() - started)

    return original, stream


class MeteredModel:
    """Wraps a chat model: times each call and reads usage, repairs and invalid calls off it."""

    def __init__(self, inner: Any, meter: Meter) -> None:
        self.inner, self.meter = inner, meter
        self.name = inner.name

    def __getattr__(self, name: str) -> Any:  # context_tokens, max_output_tokens, ...
        return getattr(self.inner, name)

    def invoke(self, messages: Sequence[BaseMessage], tools: Sequence[ToolDefinition]) -> AIMessage:
        results = [m for m in messages if isinstance(m, ToolMessage)]
        started = time.perf_counter()
        try:
            reply = self.inner.invoke(messages, tools)
        except LLMError as exc:
            # The attempts before the failure count: their invalid calls, repairs and tokens.
            self.meter.record(
                seconds=time.perf_counter() - started,
                failed=str(exc),
                tokens=int(getattr(exc, "usage", {}).get("total_tokens", 0)),
                valid=0,
                invalid=len(getattr(exc, "invalid_tool_calls", [])),
                repairs=[r["kind"] for r in getattr(exc, "repairs", [])],
                tool_errors_seen=sum(m.status == "error" for m in results),
                results_seen=len(results),
            )
            raise
        usage = reply.usage_metadata or {}
        self.meter.record(
            seconds=time.perf_counter() - started,
            text=None if reply.tool_calls else reply.text,
            tokens=int(usage.get("total_tokens", 0)),
            valid=len(reply.tool_calls),
            invalid=len(reply.invalid_tool_calls),
            repairs=[r["kind"] for r in reply.response_metadata.get("repairs", [])],
            tool_errors_seen=sum(m.status == "error" for m in results),
            results_seen=len(results),
        )
        return reply


def _failure_kind(message: str) -> str:
    lowered = message.lower()
    if "context" in lowered or ("maximum" in lowered and "token" in lowered):
        return "context_overflow"
    if "did not answer within" in lowered:
        return "timeout"
    if "http" in lowered:
        return "http"
    if "unreachable" in lowered:
        return "unreachable"
    return "unusable_output"


def _p50(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def run(
    scenarios: list[Scenario],
    k: int,
    mode: str,
    base: Any,
    workdir: Path,
    cassette_dir: Path | None = None,
) -> tuple[Any, list[dict[str, Any]]]:
    """The suite in ``mode`` (live | record | offline), and per trial: the model calls and the
    seconds of each graph run. ``record`` is live with every exchange written to
    ``cassette_dir/<scenario>.json`` (the last trial's, when k > 1)."""
    meter = Meter()
    per_trial: list[dict[str, Any]] = []
    make = factory.make_chat_model

    def metered(settings: Any, *args: Any, **kwargs: Any) -> Any:
        model = make(settings, *args, **kwargs)  # the offline fallback is not the model measured
        return MeteredModel(model, meter) if settings.llm_configured else model

    factory.make_chat_model = metered  # type: ignore[assignment]
    original, timed = _timed_stream(meter)
    GraphDriver._stream = timed  # type: ignore[method-assign]

    def on_trial(scenario: Scenario, trial: int, result: Any) -> None:
        own = own_verdict(scenario, result, meter.calls) if mode != "offline" else result.passed
        per_trial.append(
            {"calls": list(meter.calls), "turns": list(meter.turn_seconds), "own": own}
        )
        if mode != "offline":  # a live pass takes an hour: say how each trial went as it ends
            _progress(scenario, trial, result, meter)
        meter.calls.clear()
        meter.turn_seconds.clear()

    try:
        result = run_suite(
            scenarios,
            RunOptions(trials=k, llm=mode, workdir=workdir, cassette_dir=cassette_dir),  # type: ignore[arg-type]
            base=base,
            on_trial=on_trial,
        )
    finally:
        factory.make_chat_model = make  # type: ignore[assignment]
        GraphDriver._stream = original  # type: ignore[method-assign]
    return result, per_trial


def own_answer(calls: list[dict[str, Any]]) -> str | None:
    """The model's own last answer: the text of its last call, if that call answered (no tool
    call, no failure). The graph may have replaced it (grounded answers, claims) or answered for
    it (the offline fallback); this is what the model itself said."""
    if not calls or "failed" in calls[-1]:
        return None
    return calls[-1].get("text")


def own_verdict(scenario: Scenario, result: Any, calls: list[dict[str, Any]]) -> bool:
    """Whether the trial passes with the model's own answer in place of the final reply: the
    same checks, the reply checks run on ``own_answer``. A model that failed fails."""
    answer = own_answer(calls)
    obs = result.observation
    if answer is None or obs is None:
        return False
    if answer == obs.final_reply or scenario.expect.reply is None:
        return bool(result.passed)
    kept = [c for c in result.checks if not c.name.startswith("reply.")]
    own_obs = obs.model_copy(update={"final_reply": answer})
    checks = kept + check_reply(scenario.expect.reply, own_obs)
    return all(c.passed for c in checks if c.enforced)


def _progress(scenario: Scenario, trial: int, result: Any, meter: Meter) -> None:
    """One JSON line on stderr per finished trial, so a run cut short still reports."""
    calls = meter.calls
    reply = (result.observation.final_reply or "") if result.observation is not None else ""
    line = {
        "scenario": scenario.id,
        "trial": trial,
        "passed": result.passed,
        "own_passed": own_verdict(scenario, result, meter.calls),
        "own_answer": (own_answer(meter.calls) or "")[:300],
        "failures": [r[:300] for r in result.failure_reasons],
        "reply": reply[:300],
        "valid": sum(c.get("valid", 0) for c in calls),
        "invalid": sum(c.get("invalid", 0) for c in calls),
        "repairs": dict(Counter(k for c in calls for k in c.get("repairs", []))),
        "model_failures": [c["failed"][:200] for c in calls if "failed" in c],
        "tokens": [c["tokens"] for c in calls],
        "turn_seconds": [round(s, 1) for s in meter.turn_seconds],
        "loadavg": [round(x, 1) for x in os.getloadavg()],
    }
    print(json.dumps(line, ensure_ascii=False), file=sys.stderr, flush=True)


def _pass_1(outcomes: dict[str, list[bool]]) -> float | None:
    """pass^1 over scenarios: the mean, over scenarios, of each one's share of passing trials."""
    shares = [sum(t) / len(t) for t in outcomes.values() if t]
    return round(sum(shares) / len(shares), 3) if shares else None


def _turns(scenario: Scenario) -> int:
    return max(1, len(scenario.trigger.chat or []))


def _latency(per_trial: list[dict[str, Any]]) -> dict[str, float | None]:
    """Seconds per graph run (a user turn, or an approver's round), end to end."""
    seconds = [s for trial in per_trial for s in trial["turns"]]
    return {"p50": _p50(seconds), "max": round(max(seconds), 3) if seconds else None}


def summarise(
    scenarios: list[Scenario], result: Any, per_trial: list[dict[str, Any]]
) -> dict[str, Any]:
    turns_of = {s.id: _turns(s) for s in scenarios}
    trial_turns = [turns_of[s.id] for s in result.scenarios for _ in s.trials]
    calls = [c for trial in per_trial for c in trial["calls"]]
    valid = sum(c.get("valid", 0) for c in calls)
    invalid = sum(c.get("invalid", 0) for c in calls)
    repairs = Counter(kind for c in calls for kind in c.get("repairs", []))
    failures = Counter(_failure_kind(c["failed"]) for c in calls if "failed" in c)
    tokens_per_turn = [
        sum(c["tokens"] for c in trial["calls"]) / turns
        for trial, turns in zip(per_trial, trial_turns, strict=True)
    ]
    model_seconds = [
        sum(c["seconds"] for c in trial["calls"]) / turns
        for trial, turns in zip(per_trial, trial_turns, strict=True)
    ]
    own: dict[str, list[bool]] = {}
    for scenario_id, trial in zip(
        [s.id for s in result.scenarios for _ in s.trials], per_trial, strict=True
    ):
        own.setdefault(scenario_id, []).append(trial["own"])
    system = {s.id: [t.passed for t in s.trials] for s in result.scenarios}
    return {
        "pass_1": {"system": _pass_1(system), "own": _pass_1(own)},
        "pass_hat_k": result.suite_pass_hat_k,
        # the same estimate on the model's own answers (``own_verdict``)
        "pass_hat_k_own": {
            k: round(suite_pass_hat_k(own, k), 4) for k in range(1, len(per_trial) // len(own) + 1)
        }
        if own
        else {},
        "per_scenario": {
            s.id: {"system": _pass_1({s.id: system[s.id]}), "own": _pass_1({s.id: own[s.id]})}
            for s in result.scenarios
        },
        "failures": {
            s.id: [r[:300] for t in s.trials for r in t.failure_reasons]
            for s in result.scenarios
            if not s.passed
        },
        "tool_calls": {
            "valid": valid,
            "invalid": invalid,
            "validity": round(valid / (valid + invalid), 3) if valid + invalid else None,
            "repairs": dict(repairs),
            "tool_errors": sum(c.get("tool_errors_seen", 0) for c in calls),
        },
        "model_calls": len(calls),
        "model_failures": dict(failures),
        "context_overflows": failures.get("context_overflow", 0),
        "fallback_answers": sum(
            "offline planner answers instead" in (t.observation.final_reply or "")
            or "以下由离线规划器回答" in (t.observation.final_reply or "")
            for s in result.scenarios
            for t in s.trials
            if t.observation is not None
        ),
        "replaced_answers": sum(
            (t.observation.final_reply or "").startswith(tuple(REPLACED_PREFIXES.values()))
            for s in result.scenarios
            for t in s.trials
            if t.observation is not None
        ),
        "policy_violations": sum(
            int(t.kpis.get("policy_violations") or 0) for s in result.scenarios for t in s.trials
        ),
        "tokens_per_call": _p50([c["tokens"] for c in calls if c["tokens"]]),
        "tokens_per_turn": _p50(tokens_per_turn),
        "latency_per_turn_s": _latency(per_trial),
        "model_seconds_per_turn": _p50(model_seconds),
        "duration_s": result.duration_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Chat scenarios against an OpenAI-compatible model"
    )
    parser.add_argument("--k", type=int, default=3, help="trials per scenario")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--base-url")
    parser.add_argument("--model")
    parser.add_argument("--api-key")
    parser.add_argument("--context-tokens", type=int)
    parser.add_argument("--timeout-s", type=float)
    parser.add_argument("--fake", action="store_true", help="use benchmarks/fake_openai.py")
    parser.add_argument("--fake-faults", default="", help="hermes,object-args")
    parser.add_argument(
        "--record",
        type=Path,
        metavar="DIR",
        help="also write each scenario's exchanges as a cassette to DIR (see tests/agents/"
        "test_llm_cassettes.py)",
    )
    parser.add_argument("--no-offline", action="store_true", help="skip the offline comparison")
    args = parser.parse_args()

    updates: dict[str, Any] = {}
    if args.fake:
        from fake_openai import serve  # benchmarks/ is on sys.path when run as a script

        _server, url = serve(0, {f for f in args.fake_faults.split(",") if f})
        updates.update(llm_base_url=url, llm_model="fake-offline-planner")
    for flag, field in (
        ("base_url", "llm_base_url"),
        ("model", "llm_model"),
        ("api_key", "llm_api_key"),
        ("context_tokens", "llm_context_tokens"),
        ("timeout_s", "llm_timeout_s"),
    ):
        if getattr(args, flag) is not None:
            updates[field] = getattr(args, flag)
    base = get_settings().model_copy(update=updates)
    if not base.llm_configured:
        parser.error("give --base-url and --model (or STOCKPILOT_LLM_*), or --fake")
    wanted = [s for s in args.scenarios.split(",") if s]
    known = {s.id: s for s in load_scenarios(PROJECT_ROOT / "evals" / "scenarios")}
    scenarios = [known[s] for s in dict.fromkeys(wanted) if s in known]  # in the order given
    missing = set(wanted) - {s.id for s in scenarios}
    if missing:
        parser.error(f"unknown scenarios: {', '.join(sorted(missing))}")

    with tempfile.TemporaryDirectory(prefix="llm-chat-") as tmp:
        mode = "record" if args.record else "live"
        live, live_calls = run(scenarios, args.k, mode, base, Path(tmp) / "live", args.record)
        out: dict[str, Any] = {
            "model": base.llm_model,
            "base_url": base.llm_base_url,
            "context_tokens": base.llm_context_tokens,
            "k": args.k,
            **summarise(scenarios, live, live_calls),
        }
        if not args.no_offline:
            offline, offline_trials = run(scenarios, args.k, "offline", base, Path(tmp) / "offline")
            out["offline"] = {
                "pass_hat_k": offline.suite_pass_hat_k,
                "per_scenario": {s.id: s.pass_hat_k.get(1) for s in offline.scenarios},
                "latency_per_turn_s": _latency(offline_trials),
                "duration_s": offline.duration_s,
            }
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
