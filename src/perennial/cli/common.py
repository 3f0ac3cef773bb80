"""What every command shares: the --config option and its default, the project root, one way to fail,
and one way to run a flow."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from perennial.cli.errors import FlowFailure, print_error, quiet_expected_errors
from perennial.settings import Settings, apply_defaults, default_config

ConfigOpt = Annotated[str, typer.Option("--config", "-c", help="config file, relative to the project root")]


# pyproject's [tool.perennial] default_config: read once here, so --help shows it
DEFAULT_CONFIG = default_config()


def project() -> Settings:
    """The project's settings, its defaults exported to the environment and its root importable."""
    settings = apply_defaults()
    root = str(code_root(settings.root))
    if root not in sys.path:
        sys.path.insert(0, root)  # flows/ and tasks/ are project code run from the checkout
    return settings


def code_root(project_root: Path) -> Path:
    """Where flows/ and tasks/ are imported from: the project when it holds them, else this checkout.

    A team's own folder (its data and config, no flows/) still runs the flows of the checkout
    Perennial is installed from (editable: src/perennial/cli/ sits three levels below it).
    """
    if (project_root / "flows").is_dir():
        return project_root
    checkout = Path(__file__).resolve().parents[3]
    return checkout if (checkout / "flows").is_dir() else project_root


def fail(message: str) -> None:
    """Print one error and exit with its kind's code (a FlowFailure carries it; others exit 1)."""
    print_error(str(message))
    raise typer.Exit(getattr(message, "exit_code", 1))


def run_flow(flow: Any, **params: Any) -> Any:
    """Run a flow; a FAILED run returns its message (with the error's exit code) to print once."""
    quiet_expected_errors()
    state = flow(**params, return_state=True)
    if state.is_failed() or state.is_crashed():
        return None, FlowFailure.of(state)
    return state.result(), None


def checked(config: str) -> None:
    """The config parsed and checked against its data's header and target, before Prefect or MLflow start."""
    from perennial.io.preflight import check_config

    settings = project()
    check_config(settings.root / config, settings.root)
