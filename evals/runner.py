"""Run scenarios: world → graph (the service's own, via ``agents.registry``) → scripted approvals →
background dispatch → end state → counterfactual replay → checks.

Each trial gets its own directory with its own pool, checkpoint file and simulated enterprise
systems, so trials never see each other's orders.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field, field_validator
from sqlmodel import Session, select
from threadpoolctl import threadpool_limits

from agents.alerts import WeatherAlert, admit_alert
from connectors.base import ConnectorSet, RetryPolicy
from evals.approver import ScriptedApprover
from evals.cassette import Cassette, CassetteError, recording_client, replaying
from evals.drive import DriveResult, GraphDriver, where
from evals.expectations import CheckResult, evaluate
from evals.kpis import ReplayKpis
from evals.observe import observe
from evals.passk import pass_hat_k, suite_pass_hat_k
from evals.planners import PlannerKind, planner
from evals.replay import ReplayError, Scope, replay, snapshot_stock
from evals.results import Headline, ScenarioSummary, SuiteResult, TrialResult
from evals.scenario import Scenario
from evals.world import (
    PostgresWorlds,
    World,
    WorldSetupError,
    build_world,
    harvest_forecast_models,
    set_clock,
)
from inventory.clock import Clock, world_clock
from inventory.config import Settings, get_settings
from inventory.db import session_scope
from inventory.demo_world.vocabulary import DEMO_VOCABULARY
from inventory.models import OutboxMessage, Sku, Style, WeatherDaily
from inventory.pool_copy import is_postgres_url
from tools.plan_transfers.value import load_value_terms

LlmMode = Literal["auto", "offline", "live", "record"]

#: Dispatcher passes the runner makes (moving the world clock past each backoff) before it
#: declares the outbox stuck — the service's background worker would keep going.
DISPATCH_PASSES = 8


class RunOptions(BaseModel):
    trials: int = Field(default=1, ge=1, le=100)
    workdir: Path = Field(description="Where each trial's world lives while it runs.")
    llm: LlmMode = Field(
        default="auto",
        description="auto: replay a scenario's cassette if it has one, else the offline planner; "
        "offline: always the planner; live: the configured LLM; record: live and write cassettes.",
    )
    keep_worlds: bool = False
    cassette_dir: Path | None = Field(default=None, description="Where `record` writes.")
    planner: PlannerKind = Field(
        default="optimizer",
        description="The transfer planner the service runs with: the shipped optimizer, or a "
        "do-nothing / greedy peer (evals.planners).",
    )
    database_url: str | None = Field(
        default=None,
        description="Run trials on PostgreSQL: a URL of any database on the server, used only to "
        "create each trial's private database (sp_eval_*, dropped after the trial unless "
        "keep_worlds). Unset: a SQLite file per trial.",
    )

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str | None) -> str | None:
        if value is not None and not is_postgres_url(value):
            raise ValueError("database_url must be a postgresql:// URL (SQLite is the default)")
        return value


def _check(name: str, passed: bool, detail: str) -> CheckResult:
    return CheckResult(name=name, passed=passed, detail=detail)


def weather_check(world: World, scenario: Scenario) -> CheckResult | None:
    """Does the world's real weather on the scenario's day fall in the band the scenario claims?"""
    claim = scenario.weather_check
    if claim is None:
        return None
    with Session(world.engine) as session:
        row = session.exec(
            select(WeatherDaily).where(
                WeatherDaily.city == claim.city, WeatherDaily.date == claim.date
            )
        ).first()
    if row is None:
        return _check("world.weather", False, f"no weather for {claim.city} on {claim.date}")
    ok = row.rain_band == claim.band
    detail = f"{claim.city} {claim.date}: {row.precipitation_mm:.1f} mm ({row.rain_band})"
    return _check("world.weather", ok, detail if ok else f"{detail}, scenario claims {claim.band}")


def replay_scope(scenario: Scenario) -> Scope:
    """The decision the agent faced: a rain alert plans rain gear for its city's stores.

    Scenarios are demo worlds (DESIGN §7), so their words are the demo world's vocabulary."""
    resolve_city, rain_categories = DEMO_VOCABULARY.resolve_city, DEMO_VOCABULARY.rain_categories
    if scenario.replay_scope is not None:
        chosen = scenario.replay_scope
        return Scope(
            city=resolve_city(chosen.city) if chosen.city else None,
            categories=frozenset(chosen.categories) or None,
        )
    alert = scenario.trigger.alert
    if (
        alert is not None
        and alert.payload.get("type", "rain") == "rain"
        and "city" in alert.payload
    ):
        return Scope(city=resolve_city(str(alert.payload["city"])), categories=rain_categories)
    return Scope()


def retail_prices(engine: Any) -> dict[str, float]:
    """SKU → full retail price: what the policy values goods at."""
    with Session(engine) as session:
        rows = session.exec(select(Sku.code, Style.price).join(Style, Style.code == Sku.style_code))
        return {code: price for code, price in rows}


def _move_clock(world: World, by: dt.timedelta) -> None:
    world.now = world.now + by
    set_clock(world.engine, world.now)


def admit_through_webhook(world: World) -> Callable[[dict[str, Any], int], tuple[str, bool]]:
    """Deliver rain alerts through the webhook's durable, idempotent admission (as the service
    does), so a repeated alert id starts nothing new. Other alert types go straight to a thread."""

    first_issued: dict[str, dt.datetime] = {}  # a redelivery is the same alert, same body

    def admit(payload: dict[str, Any], delivery: int) -> tuple[str, bool]:
        external_id = payload.get("external_id")
        if payload.get("type", "rain") != "rain" or not external_id:
            return f"eval-{external_id or 'alert'}-{delivery}", False
        alert = WeatherAlert(
            alert_id=str(external_id),
            issued_at=first_issued.setdefault(str(external_id), world.now),
            city=str(payload["city"]),
            precipitation_mm=float(payload.get("mm", 0.0)),
            window_hours=int(payload.get("hours", 24)),
        )
        accepted = admit_alert(world.engine, str(payload.get("sender") or "eval"), alert)
        return accepted.thread_id, accepted.duplicate

    return admit


def _sweep_expired(world: World) -> list[str]:
    """The service worker's sweep: due approvals and their subjects expire together; an order
    that never reached the gate (no approval row) lapses on its own expiry."""
    from agents.executor.orders import expire_due_orders
    from agents.executor.timing import as_utc
    from agents.expiry import expire_due_approvals

    expired = [a.subject_id for a in expire_due_approvals(world.engine, as_utc(world.now))]
    with session_scope(world.engine) as session:
        return expired + expire_due_orders(session, at=world.now)


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    """World times are naive and read as UTC (as the executor's ``as_utc`` does); stored ones
    may come back aware."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def drain_outbox(world: World, connectors: ConnectorSet) -> list[str]:
    """What the service's background worker does: send due outbox rows, retry after backoff."""
    from agents.executor.dispatcher import Dispatcher

    dispatcher = Dispatcher(world.engine, connectors, clock=lambda: world.now)
    notes: list[str] = []
    for _ in range(DISPATCH_PASSES):
        report = dispatcher.run_pending()
        if report.retried:
            notes.append(f"dispatcher retried {len(report.retried)} message(s) after a failure")
        if report.failed:
            notes.append(f"dispatcher gave up on {report.failed}")
        with Session(world.engine) as session:
            waiting = session.exec(
                select(OutboxMessage).where(OutboxMessage.status == "pending")
            ).all()
        if not waiting:
            break
        due = min(_naive_utc(m.next_attempt_at or world.now) for m in waiting)
        wait = due - _naive_utc(world.now)
        _move_clock(world, max(wait, dt.timedelta(0)) + dt.timedelta(seconds=1))
    return notes


class _LlmChoice(BaseModel):
    mode: str
    cassette_path: Path | None = None


def _llm_choice(scenario: Scenario, options: RunOptions) -> _LlmChoice:
    cassette = None
    if scenario.cassette is not None and scenario.source is not None:
        cassette = (scenario.source.parent / scenario.cassette).resolve()
    if options.llm == "record":
        target = (
            (options.cassette_dir / f"{scenario.id}.json") if options.cassette_dir else cassette
        )
        return _LlmChoice(mode="record", cassette_path=target)
    if options.llm == "auto" and cassette is not None:
        return _LlmChoice(mode="replay", cassette_path=cassette)
    return _LlmChoice(mode="live" if options.llm == "live" else "offline")


@contextmanager
def _chat_model(
    choice: _LlmChoice, settings: Settings, clock: Clock
) -> Iterator[tuple[object, Callable[[], list[str]]]]:
    """The chat model for a trial, and a function listing LLM-side problems after the run."""
    from agents.llm.factory import make_chat_model
    from agents.llm.offline import OfflinePlanner
    from agents.llm.openai_adapter import OpenAIChatModel

    if choice.mode == "offline":
        yield OfflinePlanner(clock), list
        return
    if choice.mode == "live":
        if not settings.llm_configured:
            raise CassetteError("--llm live needs STOCKPILOT_LLM_BASE_URL and STOCKPILOT_LLM_MODEL")
        yield make_chat_model(settings, clock), list
        return
    if choice.mode == "record":
        if not settings.llm_configured or choice.cassette_path is None:
            raise CassetteError("--llm record needs STOCKPILOT_LLM_* set and a cassette path")
        assert settings.llm_base_url and settings.llm_model
        tape = Cassette(base_url=settings.llm_base_url, model=settings.llm_model)
        client = recording_client(tape, timeout_s=settings.llm_timeout_s)
        model = make_chat_model(settings, clock, http_client=client)
        try:
            yield model, list
        finally:
            client.close()
            tape.save(choice.cassette_path)
        return
    assert choice.cassette_path is not None
    tape = Cassette.load(choice.cassette_path)
    with replaying(tape) as player:
        model = OpenAIChatModel(
            base_url=tape.base_url, model=tape.model, api_key="replay", max_retries=0
        )

        def problems() -> list[str]:
            unused = (
                [f"{player.unused} recorded exchange(s) never requested"] if player.unused else []
            )
            return player.problems + unused

        yield model, problems


def _kpis(
    replayed: ReplayKpis | None, approvals_requested: int, violations: int
) -> dict[str, float | None]:
    flat: dict[str, float | None] = replayed.flat() if replayed else {}
    flat["approvals_requested"] = float(approvals_requested)
    flat["policy_violations"] = float(violations)
    return flat


def run_trial(
    scenario: Scenario,
    trial: int,
    options: RunOptions,
    connectors: ConnectorSet,
    base: Settings | None = None,
    postgres: PostgresWorlds | None = None,
) -> TrialResult:
    """One isolated run of ``scenario``; never raises for a scenario-level failure. With
    ``postgres`` its world (and the graph's checkpoints) live in a PostgreSQL database."""
    from agents.persistence import open_checkpointer
    from agents.policy import load_policy
    from agents.registry import build_graph
    from agents.runtime import AgentRuntime

    started = time.perf_counter()
    choice = _llm_choice(scenario, options)
    result = TrialResult(
        scenario_id=scenario.id, trial=trial, passed=False, duration_s=0.0, llm=choice.mode
    )
    world: World | None = None
    try:
        world = build_world(scenario, options.workdir, base, postgres, keep=options.keep_worlds)
        checks: list[CheckResult] = []
        if (weather := weather_check(world, scenario)) is not None:
            checks.append(weather)
        start = snapshot_stock(world.engine)
        prices = retail_prices(world.engine)
        approver = ScriptedApprover(scenario.approver, price_of=lambda sku: prices.get(sku, 0.0))
        with ExitStack() as stack:
            reset_systems(connectors)
            if scenario.world.wms_failures:
                _inject_wms_failures(connectors, scenario.world.wms_failures)
            clock = world_clock(world.engine)  # evals run on the world's clock, moved by hand
            llm, llm_problems = stack.enter_context(_chat_model(choice, world.settings, clock))
            runtime = AgentRuntime(
                engine=world.engine,
                settings=world.settings,
                llm=llm,  # type: ignore[arg-type]
                connectors=connectors,
                clock=clock,
                policy=load_policy(world.settings.policy_file),
            )
            checkpointer = stack.enter_context(open_checkpointer(world.settings))
            graph = build_graph(scenario.trigger.assistant_id, runtime, checkpointer)
            drive = GraphDriver(
                graph,
                world.engine,
                scenario,
                approver,
                advance_clock=lambda by: _move_clock(world, by),  # type: ignore[arg-type]
                sweep_expired=lambda: _sweep_expired(world),  # type: ignore[arg-type]
                thread_prefix=f"eval-{scenario.id}-t{trial}",
                admit_alert=admit_through_webhook(world),
            ).run()
            notes = drain_outbox(world, connectors)
            harvest_forecast_models(world)
            for problem in llm_problems():
                drive = _with_error(drive, f"LLM cassette: {problem}")
            obs = observe(
                world.engine,
                connectors,
                drive,
                runtime.policy,
                scenario.expect,
                tool_context=runtime.tool_context,
            )
        obs.notes += notes
        obs.user_messages = [turn.content for turn in scenario.trigger.chat or []]
        replayed = None
        try:
            replayed = replay(
                world.engine,
                start,
                scenario.clock,
                scenario.replay_days,
                replay_scope(scenario),
                load_value_terms(world.settings.value_terms_file),
            )
        except ReplayError as exc:
            obs.notes.append(f"replay unavailable: {exc}")
        human_requests = max(
            obs.interrupts, sum(a.status != "auto_approved" for a in obs.approvals)
        )
        result.kpis = _kpis(replayed, human_requests, len(obs.policy_violations))
        result.replay = replayed
        result.observation = obs
        result.decisions = approver.decisions
        checks += evaluate(scenario.expect, obs, result.kpis, approver.decisions)
        if obs.policy_violations:
            checks.append(_check("policy.violations", False, "; ".join(obs.policy_violations)))
        result.checks = checks
    except Exception as exc:  # one broken scenario must fail with its reason, not end the suite
        what = "world setup" if isinstance(exc, WorldSetupError) else "harness"
        result.checks.append(_check(what, False, f"{type(exc).__name__}: {exc}{where(exc)}"))
    finally:
        if world is not None:
            world.dispose()
            if options.keep_worlds:
                kept = options.workdir / "kept" / f"{scenario.id}-t{trial}"
                shutil.rmtree(kept, ignore_errors=True)
                shutil.copytree(world.directory, kept, ignore=shutil.ignore_patterns("models"))
    failing = [c for c in result.checks if c.enforced and not c.passed]
    result.passed = not failing
    result.failure_reasons = [f"{c.name}: {c.detail}" for c in failing]
    result.duration_s = round(time.perf_counter() - started, 3)
    return result


def _with_error(drive: DriveResult, message: str) -> DriveResult:
    return drive.model_copy(
        update={"status": "error", "error": "; ".join(filter(None, [drive.error, message]))}
    )


def _admin(connectors: ConnectorSet, path: str, body: dict | None = None) -> None:
    server = connectors.simulated_server
    if server is None:
        raise RuntimeError("scenarios need the simulated enterprise systems")
    response = httpx.post(f"{server.url}/admin/{path}", json=body, timeout=5.0)
    response.raise_for_status()


def reset_systems(connectors: ConnectorSet) -> None:
    """Empty the simulated systems so a trial sees only its own orders; verify it."""
    _admin(connectors, "reset")
    left = connectors.wms.list_transfer_orders()
    if left:
        raise RuntimeError(f"simulated WMS still holds {len(left)} order(s) after a reset")


def _inject_wms_failures(connectors: ConnectorSet, times: int) -> None:
    """Tell the simulated WMS to answer 503 ``times`` times before it recovers."""
    _admin(connectors, "faults", {"system": "wms", "mode": "error", "times": times, "status": 503})


def simulated_systems() -> ConnectorSet:
    """One private simulated WMS/OMS/pricing/notify for a suite, reset before every trial.

    Retries inside a call are short so a "WMS down" scenario exercises the dispatcher's own
    backoff rather than sleeping in the client.
    """
    retry = RetryPolicy(attempts=2, initial_wait_s=0.01, max_wait_s=0.05, timeout_s=10.0)
    return ConnectorSet.simulated(retry=retry)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def headline(summaries: list[ScenarioSummary]) -> Headline:
    """Capture share and sell-through over the rain scenarios; each scenario's trials averaged
    first, so K trials weigh as much as one."""
    rain = [s for s in summaries if "rain" in s.tags]
    captures: list[float] = []
    units = sold = net = hindsight = captured_net = captured_hindsight = 0.0
    for summary in rain:
        replays = [t.replay for t in summary.trials if t.replay is not None]
        if not replays:
            continue
        capture = _mean([r.capture_share for r in replays if r.capture_share is not None])
        if capture is not None:
            captures.append(capture)
            captured_net += _mean([r.executed.net_value for r in replays]) or 0.0
            captured_hindsight += (
                _mean([r.hindsight.net_value for r in replays if r.hindsight is not None]) or 0.0
            )
        units += _mean([float(r.executed.units_transferred) for r in replays]) or 0.0
        sold += _mean([float(r.executed.transferred_units_sold) for r in replays]) or 0.0
        net += _mean([r.executed.net_value for r in replays]) or 0.0
        hindsight += _mean([r.hindsight.net_value if r.hindsight else 0.0 for r in replays]) or 0.0
    mean_capture = _mean(captures)
    return Headline(
        rain_scenarios=len(rain),
        mean_capture_share=round(mean_capture, 4) if mean_capture is not None else None,
        capture_defined_in=len(captures),
        weighted_capture_share=(
            round(captured_net / captured_hindsight, 4) if captured_hindsight > 0 else None
        ),
        sell_through=round(sold / units, 4) if units else None,
        units_transferred=round(units, 2),
        transferred_units_sold=round(sold, 2),
        net_value=round(net, 2),
        hindsight_net_value=round(hindsight, 2),
    )


ProgressCallback = Callable[[Scenario, int, TrialResult], None]


def _run_scenario(
    scenario: Scenario,
    options: RunOptions,
    connectors: ConnectorSet,
    base: Settings,
    on_trial: ProgressCallback | None,
    postgres: PostgresWorlds | None = None,
) -> ScenarioSummary:
    trials: list[TrialResult] = []
    for trial in range(1, options.trials + 1):
        outcome = run_trial(scenario, trial, options, connectors, base, postgres)
        trials.append(outcome)
        if on_trial is not None:
            on_trial(scenario, trial, outcome)
    passes = sum(t.passed for t in trials)
    return ScenarioSummary(
        id=scenario.id,
        purpose=scenario.purpose,
        tags=scenario.tags,
        role=scenario.role,
        world_seed=scenario.world.seed,
        source=str(scenario.source or ""),
        trials=trials,
        pass_hat_k={k: pass_hat_k(passes, len(trials), k) for k in range(1, len(trials) + 1)},
    )


@contextmanager
def _postgres_worlds(database_url: str | None) -> Iterator[PostgresWorlds | None]:
    if database_url is None:
        yield None
        return
    worlds = PostgresWorlds(database_url)
    try:
        yield worlds
    finally:
        worlds.close()


def run_suite(
    scenarios: list[Scenario],
    options: RunOptions,
    *,
    on_trial: ProgressCallback | None = None,
    base: Settings | None = None,
) -> SuiteResult:
    """Every scenario × ``options.trials``; pass^k for k = 1..trials."""
    base = base or get_settings()
    started_at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    clock = time.perf_counter()
    summaries: list[ScenarioSummary] = []
    # Trials run one after another; OpenMP pools in the forecaster spin against each other on a
    # loaded 2-core box (a 3 s fit took 86 s at load 9), so native threads are capped at one.
    import forecasting.global_model  # noqa: F401  (loads the OpenMP runtime the limit must see)

    with (
        threadpool_limits(limits=1),
        planner(options.planner),
        simulated_systems() as connectors,
        _postgres_worlds(options.database_url) as postgres,
    ):
        for scenario in scenarios:
            summaries.append(_run_scenario(scenario, options, connectors, base, on_trial, postgres))
    outcomes = {s.id: [t.passed for t in s.trials] for s in summaries}
    return SuiteResult(
        started_at=started_at,
        duration_s=round(time.perf_counter() - clock, 2),
        trials=options.trials,
        llm_mode=options.llm,
        scenarios=summaries,
        suite_pass_hat_k={
            k: round(suite_pass_hat_k(outcomes, k), 4) for k in range(1, options.trials + 1)
        },
        headline=headline(summaries),
    )
