"""The `perennial` command.

Flows live in the project's ``flows/`` folder (project code, not installed), so commands
find the project root from ``pyproject.toml`` and import them from there, after the
embedded defaults are exported: nothing here imports Prefect at module load.

The commands live in modules by what they do and are registered here, in the order ``--help``
lists them.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from perennial.cli import configs, lifecycle, releases, servers, status
from perennial.cli.errors import DEBUG_ENV
from perennial.cli.errors import run as run_app
from perennial.cli.views import console

__all__ = ["app", "console", "main"]  # console: the one every command prints to (tests set its width)

app = typer.Typer(
    help="Perennial: the production lifecycle of a tabular model on Prefect and MLflow.", no_args_is_help=True
)

for command in (
    lifecycle.demo,
    configs.init,
    configs.check,
    lifecycle.validate,
    lifecycle.train,
    lifecycle.score,
    servers.serve,
    releases.release,
    releases.promote,
    releases.rollback,
    status.status,
    status.doctor,
    lifecycle.monitor,
    lifecycle.simulate,
    servers.up,
    servers.down,
    servers.ui,
):
    app.command()(command)


@app.callback()
def _options(
    debug: Annotated[
        bool, typer.Option("--debug", help="show tracebacks (expected errors print one line without)")
    ] = False,
) -> None:
    """Perennial: the production lifecycle of a tabular model on Prefect and MLflow."""
    if debug:
        os.environ[DEBUG_ENV] = "1"


def main() -> None:  # pragma: no cover - console entry point
    run_app(app)
