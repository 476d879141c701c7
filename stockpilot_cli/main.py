"""Entry point of the ``stockpilot`` console script; each command group registers itself here."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="stockpilot",
    help="Stockpilot: one inventory pool, deterministic tools, agents behind a policy gate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# Each module defines ``register(app)``. Keep one line per command group.
COMMAND_MODULES = [
    "stockpilot_cli.db",
    "stockpilot_cli.demo",
    "stockpilot_cli.stock",
    "stockpilot_cli.importers",
    "stockpilot_cli.evals",
    "stockpilot_cli.sim",
    "stockpilot_cli.outbox",
    "stockpilot_cli.serve",
    "stockpilot_cli.api_keys",
    "stockpilot_cli.alert",
    "stockpilot_cli.chat",
    "stockpilot_cli.forecast",
    "stockpilot_cli.plan",
]

for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


if __name__ == "__main__":
    app()
