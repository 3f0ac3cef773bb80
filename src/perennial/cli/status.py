"""Commands that look and report: status (the model, its runs and ledger), doctor (do they agree)."""

from __future__ import annotations

from typing import Annotated

import typer

from perennial.cli.common import DEFAULT_CONFIG, ConfigOpt, fail, project
from perennial.cli.views import console, print_importance_history, print_status


def status(
    config: ConfigOpt = DEFAULT_CONFIG,
    runs: int = 5,
    features: Annotated[
        bool, typer.Option("--features", help="permutation importance of each feature across versions")
    ] = False,
) -> None:
    """Champion, challenger, the last gate verdict, recent runs and the promotion ledger."""
    settings = project()
    if features:
        try:
            print_importance_history(settings, config)
        except LookupError as exc:
            fail(str(exc))
        return
    print_status(settings, config, runs)


def doctor(
    config: ConfigOpt = DEFAULT_CONFIG,
    repair: Annotated[bool, typer.Option(help="apply the safe repairs (ledger reconcile, leftover files)")] = False,
) -> None:
    """Check that aliases, ledger, prediction partitions and the champion's artifacts agree; say how to repair."""
    settings = project()
    from perennial.config import load_config
    from perennial.io.doctor import diagnose
    from perennial.io.prediction_store import ParquetPredictionStore, open_store

    loaded = load_config(settings.root / config)
    store = open_store(loaded, settings.root)  # a SQL store is transactional: no partitions to inspect
    store_path = store.path if isinstance(store, ParquetPredictionStore) else None
    report = diagnose(
        loaded.tracking.registered_model,
        settings.ledger_url,
        store_path,
        repair=repair,
        scorings_accumulate=loaded.data.time_column is None,
        tracking_uri=settings.tracking_uri,
    )
    console.print(f"checked {', '.join(report.checks)} of model {report.model}")
    for finding in report.findings:
        mark = "[green]repaired[/]" if finding.repaired else "[bold red]problem[/]"
        how = "" if finding.repaired or not finding.repairable else " (perennial doctor --repair)"
        console.print(f"{mark} [{finding.check}] {finding.problem}\n    repair: {finding.repair}{how}")
    if not report.healthy:
        raise typer.Exit(1)
    console.print("[green]consistent[/]" if not report.findings else "[green]consistent after repair[/]")
