"""Entry point of the ``stockpilot`` console script; each command group registers itself here.

Command groups import heavy stacks (sktime, LangGraph, FastAPI), so only the group a command
line names is imported; ``--help`` and unknown names import them all so help stays complete.
"""

from __future__ import annotations

import importlib
import sys
from typing import Literal

import typer

from inventory.config import override_settings

app = typer.Typer(
    name="stockpilot",
    help="Stockpilot: one inventory pool, deterministic tools, agents behind a policy gate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    demo: bool = typer.Option(
        False,
        "--demo",
        help="Demo mode (or STOCKPILOT_DEMO=1): the demo world's clock, its public keys and "
        "alert secret. Never for a real pool.",
    ),
    clock: str | None = typer.Option(
        None,
        "--clock",
        help="wall | world: where 'now' comes from (STOCKPILOT_CLOCK; default: world in demo "
        "mode, else wall).",
    ),
) -> None:
    """Stockpilot: one inventory pool, deterministic tools, agents behind a policy gate."""
    # An explicit callback keeps the app a command group even when only one command is loaded.
    if clock not in (None, "wall", "world"):
        raise typer.BadParameter("use wall or world", param_hint="--clock")
    mode: Literal["wall", "world"] | None = clock  # type: ignore[assignment]
    # Settings are re-read on every invocation, so the environment of this command line counts.
    override_settings(reset=True, demo=True if demo else None, clock=mode)


#: Top-level command name → the module whose ``register(app)`` adds it.
COMMANDS: dict[str, str] = {
    "db": "stockpilot_cli.db",
    "demo-world": "stockpilot_cli.demo",
    "stock": "stockpilot_cli.stock",
    "import": "stockpilot_cli.importers",
    "example": "stockpilot_cli.example",
    "eval": "stockpilot_cli.evals",
    "sim": "stockpilot_cli.sim",
    "outbox": "stockpilot_cli.outbox",
    "serve": "stockpilot_cli.serve",
    "api-key": "stockpilot_cli.api_keys",
    "alert": "stockpilot_cli.alert",
    "chat": "stockpilot_cli.chat",
    "forecast": "stockpilot_cli.forecast",
    "plan": "stockpilot_cli.plan",
    "promos": "stockpilot_cli.plan",
    "mcp": "stockpilot_cli.mcp_stdio",
}


#: Options of the root command that take a value (skipped when looking for the command name).
ROOT_OPTIONS_WITH_VALUE = {"--clock"}


def modules_for(argv: list[str]) -> list[str]:
    """The modules to import for this command line (all of them when no command is named)."""
    values = {index + 1 for index, arg in enumerate(argv) if arg in ROOT_OPTIONS_WITH_VALUE}
    command = next(
        (arg for index, arg in enumerate(argv) if not arg.startswith("-") and index not in values),
        None,
    )
    if command in COMMANDS:
        return [COMMANDS[command]]
    return list(dict.fromkeys(COMMANDS.values()))


_registered: set[str] = set()


def register_commands(argv: list[str] | None = None) -> typer.Typer:
    for name in modules_for(sys.argv[1:] if argv is None else argv):
        if name not in _registered:
            importlib.import_module(name).register(app)
            _registered.add(name)
    return app


def full_app() -> typer.Typer:
    """The app with every command group registered (tests, docs)."""
    return register_commands([])


def main() -> None:
    register_commands()
    app()


if __name__ == "__main__":
    main()
