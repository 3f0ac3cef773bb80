"""Commands that move the model's aliases, each move recorded in the ledger: release, promote, rollback."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from perennial.cli.common import DEFAULT_CONFIG, ConfigOpt, fail, project, run_flow
from perennial.cli.views import console
from perennial.core.names import ReleaseMode


def release(
    mode: Annotated[ReleaseMode, typer.Argument(help="shadow, canary, or champion (the champion alone)")],
    config: ConfigOpt = DEFAULT_CONFIG,
    reason: Annotated[str, typer.Option(help="why (recorded in the ledger)")] = "manual release step",
) -> None:
    """Put the challenger in shadow or canary in every running service (they follow within a poll)."""
    from perennial.io.registry import release as set_release

    entry = _ledger_move(config, lambda registry, ledger: set_release(registry, ledger, mode.value, reason))
    console.print(f"[green]release mode {mode.value}[/] for challenger v{entry.version} ({entry.actor}: {reason})")


def promote(
    version: str,
    config: ConfigOpt = DEFAULT_CONFIG,
    force: Annotated[bool, typer.Option(help="skip the gate; needs --reason")] = False,
    reason: Annotated[str | None, typer.Option(help="why (recorded in the ledger)")] = None,
) -> None:
    """Make VERSION the champion: the gate runs against the current champion first."""
    if force and not reason:
        fail("--force needs --reason: the ledger records why the gate was skipped")
    project()
    from flows.promotion import promotion_flow

    _, error = run_flow(promotion_flow, version=version, config_path=config, force_reason=reason if force else None)
    if error:
        fail(error)
    console.print(f"[green]v{version} is champion[/]")


def rollback(
    config: ConfigOpt = DEFAULT_CONFIG,
    reason: Annotated[str, typer.Option(help="why (recorded in the ledger)")] = "manual rollback",
) -> None:
    """Move `champion` back to the version it held before, in one command."""
    from perennial.io.registry import rollback as roll_back

    entry = _ledger_move(config, lambda registry, ledger: roll_back(registry, ledger, reason))
    console.print(
        f"[green]champion rolled back: v{entry.previous_version} → v{entry.version}[/] ({entry.actor}: {reason})"
    )
    if os.environ.get("PREFECT_API_URL"):  # a Prefect server is there to hear it (`perennial up`)
        from perennial.config import load_config
        from perennial.core.events import ModelRolledBack
        from tasks.events import emit

        emit(
            ModelRolledBack(
                dataset=load_config(project().root / config).name,
                window=entry.at.date().isoformat(),
                version=entry.version,
                previous_version=entry.previous_version,
                reason=reason,
            )
        )


def _ledger_move(config: str, move: Any) -> Any:
    """Run one recorded alias move (``move(registry, ledger)``) for the config's model; a refusal exits 1."""
    settings = project()
    from perennial.config import load_config
    from perennial.io import tracking
    from perennial.io.ledger import Ledger
    from perennial.io.registry import Registry

    tracking.configure(settings)
    ledger = Ledger(settings.ledger_url)
    try:
        return move(Registry(load_config(settings.root / config).tracking.registered_model), ledger)
    finally:
        ledger.close()
