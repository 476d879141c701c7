"""``stockpilot eval run``: replay scenarios through the service's graphs and score them."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from evals.results import SuiteResult
from evals.scenario import Scenario, ScenarioError, load_scenarios

console = Console()
eval_app = typer.Typer(help="Evaluation harness: scenarios, replay, pass^k.", no_args_is_help=True)


def _summary_table(result: SuiteResult) -> Table:
    k = result.trials
    table = Table(title=f"{len(result.scenarios)} scenarios × {k} trial(s)")
    for column in ("scenario", "seed", "result", f"pass^{k}", "orders", "net value", "capture"):
        table.add_column(column, no_wrap=column == "scenario")
    for summary in result.scenarios:
        first = summary.trials[0]
        orders = len(first.observation.wms_orders) if first.observation else 0
        net = first.kpis.get("net_value")
        moved = first.kpis.get("units_transferred") or 0
        judged = "rain" in summary.tags or moved > 0  # capture judges transfer decisions
        capture = first.kpis.get("capture_share") if judged else None
        table.add_row(
            summary.id,
            "-" if summary.world_seed is None else str(summary.world_seed),
            "[green]pass[/]"
            if summary.passed
            else f"[red]FAIL {summary.passes}/{len(summary.trials)}[/]",
            f"{summary.pass_hat_k.get(k, 0.0):.2f}",
            str(orders),
            "-" if net is None else f"¥{net:,.0f}",
            "-" if capture is None else f"{capture:.0%}",
        )
    return table


@eval_app.command("run")
def run(
    target: Annotated[Path, typer.Argument(help="A scenario file or a directory of them.")],
    trials: Annotated[
        int, typer.Option("--trials", "-k", min=1, max=100, help="Trials per scenario (pass^k).")
    ] = 1,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write report.md + report.json here.")
    ] = None,
    llm: Annotated[str, typer.Option("--llm", help="auto | offline | live | record")] = "auto",
    select: Annotated[
        str | None, typer.Option("--select", help="Only scenarios whose id or tag contains this.")
    ] = None,
    workdir: Annotated[
        Path | None,
        typer.Option("--workdir", help="Where trial worlds live (default: a temp dir)."),
    ] = None,
    keep_worlds: Annotated[
        bool, typer.Option("--keep-worlds", help="Keep each trial's pool for inspection.")
    ] = False,
    cassette_dir: Annotated[
        Path | None, typer.Option("--cassette-dir", help="Where --llm record writes.")
    ] = None,
    planner: Annotated[
        str,
        typer.Option(
            "--planner", help="optimizer | do-nothing | greedy: the transfer planner to judge."
        ),
    ] = "optimizer",
    db_url: Annotated[
        str | None,
        typer.Option(
            "--db-url",
            help="Run on PostgreSQL: a postgresql:// URL of a database on the server; each "
            "trial gets its own database there (sp_eval_*, dropped after it). Default: SQLite.",
        ),
    ] = None,
) -> None:
    """Run scenarios; exit 1 when any scenario fails, 2 when a scenario file is invalid."""
    # Imported here so `stockpilot --help` stays fast and never depends on the agent stack.
    from evals.report import write_report
    from evals.runner import LlmMode, RunOptions, run_suite

    if llm not in ("auto", "offline", "live", "record"):
        console.print(f"[red]--llm: unknown mode {llm!r}; choose auto, offline, live or record[/]")
        raise typer.Exit(2)
    from evals.planners import PLANNERS

    if planner not in PLANNERS:
        console.print(f"[red]--planner: unknown {planner!r}; choose {', '.join(PLANNERS)}[/]")
        raise typer.Exit(2)
    from inventory.pool_copy import is_postgres_url

    if db_url is not None and not is_postgres_url(db_url):
        console.print(f"[red]--db-url: not a postgresql:// URL: {db_url!r}[/]")
        raise typer.Exit(2)
    try:
        scenarios = load_scenarios(target, select=select)
    except ScenarioError as exc:
        console.print(f"[red]invalid scenarios[/]\n{exc}")
        raise typer.Exit(2) from exc
    mode: LlmMode = llm  # type: ignore[assignment]
    with tempfile.TemporaryDirectory(prefix="stockpilot-eval-") as tmp:
        options = RunOptions(
            trials=trials,
            workdir=workdir or Path(tmp),
            llm=mode,
            keep_worlds=keep_worlds,
            cassette_dir=cassette_dir,
            planner=planner,  # type: ignore[arg-type]
            database_url=db_url,
        )
        progress = Progress(
            TextColumn("[bold]eval[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=console,
        )
        with progress:
            task = progress.add_task("starting", total=len(scenarios) * trials)

            def on_trial(scenario: Scenario, trial: int, outcome: object) -> None:
                passed = getattr(outcome, "passed", False)
                mark = "[green]✓[/]" if passed else "[red]✗[/]"
                progress.update(task, advance=1, description=f"{mark} {scenario.id} #{trial}")

            result = run_suite(scenarios, options, on_trial=on_trial)
    console.print(_summary_table(result))
    for summary in result.failed:
        trial = next(t for t in summary.trials if not t.passed)
        console.print(f"[red]✗ {summary.id}[/] (trial {trial.trial}):")
        for reason in trial.failure_reasons:
            console.print(f"    {reason[:400]}", markup=False, highlight=False)
    h = result.headline
    if h.rain_scenarios:
        capture = "n/a" if h.mean_capture_share is None else f"{h.mean_capture_share:.0%}"
        weighted = "n/a" if h.weighted_capture_share is None else f"{h.weighted_capture_share:.0%}"
        sell = "n/a" if h.sell_through is None else f"{h.sell_through:.0%}"
        console.print(
            f"rain scenarios: capture of hindsight-optimal value: mean {capture} over "
            f"{h.capture_defined_in}/{h.rain_scenarios} scenarios, value-weighted {weighted}; "
            f"transferred units sold {sell}"
        )
    if report is not None:
        md, js = write_report(result, report)
        console.print(f"report: {md} and {js}")
    verdict = (
        "[green]all scenarios passed[/]"
        if result.passed
        else f"[red]{len(result.failed)} scenario(s) failed[/]"
    )
    console.print(f"{verdict} in {result.duration_s:.1f} s")
    if not result.passed:
        raise typer.Exit(1)


@eval_app.command("list")
def list_scenarios(
    target: Annotated[Path, typer.Argument(help="A scenario file or a directory of them.")] = Path(
        "evals/scenarios"
    ),
) -> None:
    """List scenarios with their one-line purpose (validates every file)."""
    try:
        scenarios = load_scenarios(target)
    except ScenarioError as exc:
        console.print(f"[red]invalid scenarios[/]\n{exc}")
        raise typer.Exit(2) from exc
    table = Table(title=f"{len(scenarios)} scenarios")
    table.add_column("id")
    table.add_column("seed")
    table.add_column("tags")
    table.add_column("purpose")
    for scenario in scenarios:
        table.add_row(
            scenario.id, str(scenario.world.seed), ", ".join(scenario.tags), scenario.purpose
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")
