"""What `perennial status` and `perennial demo` print: rich tables of the model, its runs and its ledger.

Read-only views of the registry, MLflow and the ledger, kept apart from the commands that act.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from perennial.core.names import Alias, Tag
from perennial.settings import Settings

# piped into a log or CI, rich would cut every table to 80 columns ("2024-… | open | windo…"): wide
# enough there to read; on a terminal, or with COLUMNS set, rich's own width
PIPED_WIDTH = 220
console = Console(width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else PIPED_WIDTH)


def print_importance_history(settings: Settings, config_path: str) -> None:
    """Feature by version: a feature losing its importance shows as a falling row."""
    from perennial.config import load_config
    from perennial.io import tracking
    from perennial.io.registry import Registry

    loaded = load_config(settings.root / config_path)
    tracking.configure(settings)
    versions = sorted(Registry(loaded.tracking.registered_model).versions(), key=lambda v: int(v.version))
    history = {v.version: found for v in versions if (found := _importances(v.tags))}
    if not history:
        raise LookupError(f"no version of {loaded.tracking.registered_model} has recorded importances yet: train one")
    table = Table(
        title=f"permutation importance ({loaded.evaluation.primary_metric} drop) by version of {loaded.tracking.registered_model}"
    )
    table.add_column("feature")
    for version in history:
        table.add_column(f"v{version}", justify="right")
    features = sorted(
        {f for values in history.values() for f in values}, key=lambda f: -max(h.get(f, 0.0) for h in history.values())
    )
    for feature in features:
        table.add_row(feature, *(f"{h[feature]:.4f}" if feature in h else "-" for h in history.values()))
    console.print(table)


def _importances(tags: dict[str, str]) -> dict[str, float] | None:
    """Every feature's importance from the training run's JSON; the version's tag holds only the top ones.

    (A feature falling out of the top is exactly the decay this view is for: it must keep its figure.)
    """
    import json

    from perennial.io import tracking

    artifact = tags.get(Tag.IMPORTANCE_ARTIFACT, "")
    if artifact.startswith("runs:/") and "/" in artifact.removeprefix("runs:/"):
        run_id, path = artifact.removeprefix("runs:/").split("/", 1)
        stored = tracking.load_json(run_id, path)
        if stored and stored.get("features"):
            return {f["feature"]: float(f["mean"]) for f in stored["features"]}
    return json.loads(tags[Tag.IMPORTANCE]) if Tag.IMPORTANCE in tags else None


def data_notes(config: Any) -> list[str]:
    """What a table without an id or time column means for labels and windows (status and monitor say it)."""
    notes = []
    if config.data.id_column is None:
        notes.append(
            "no id column: a row's key is a hash of its feature values; delayed labels find their "
            "predictions only when they come in the same rows, with the feature values that were scored"
        )
    if config.data.time_column is None:
        windows = (
            "each `perennial score` is a monitoring window of its own (monitoring.window: batch)"
            if config.monitoring.window == "batch"
            else "each `perennial score` stamps its rows with the scoring time, so a monitoring window "
            "holds the batches scored in it"
        )
        notes.append(f"no time column: the split is by row key; freshness and per-day volume are skipped; {windows}")
    return notes


def window_line(result: dict[str, Any], min_drift_rows: int) -> str:
    """`perennial monitor`'s first line: the window, its drift and its performance, each with its own
    reason. 'drift not judged, too few labels (45 < 200)' read as one cause where drift had its own:
    48 rows, under monitoring.min_drift_rows."""
    from perennial.core.monitoring import drift_unjudged

    perf = result["performance"]
    if result["drift_share"] is None:
        drift = drift_unjudged(result["rows"], min_drift_rows) or "drift not judged"
    else:
        drifted = f" ({', '.join(result['drifted_columns'])})" if result["drifted_columns"] else ""
        drift = f"feature drift share {result['drift_share']:.2f}{drifted}"
    performance = (
        f"{perf['metric']} {perf['value']:.4f} [{perf['low']:.4f}, {perf['high']:.4f}]"
        if perf
        else result["label_note"] or "performance not measured"
    )
    return f"window {result['window']}{_days(result)}: {drift}; {performance}"


def _days(result: dict[str, Any]) -> str:
    """The UTC days a window spans, where its label (its first day) does not say them: a month's
    label does, and so does a single day's."""
    days = result.get("days")
    if not days or days[0] == days[1] or result["window"] == days[0][:7]:  # a single day, or a month ("2023-10")
        return ""
    return f" ({days[0]} to {days[1]}, UTC days)"


def _from_mlflow(settings: Settings, model: str, experiment: str, runs: int) -> tuple[Any, list[Any]]:
    """The registry and the last training runs through MLflow's client (a server, or another schema)."""
    from perennial.io import tracking
    from perennial.io.registry import Registry
    from perennial.io.registry_view import RunRow

    tracking.configure(settings)
    client = tracking.client()  # one client (and one MLflow store) for the registry and the runs
    found = client.search_runs(
        [e.experiment_id for e in [client.get_experiment_by_name(experiment)] if e],
        filter_string=f"tags.`{Tag.KIND}` = 'training'",
        order_by=["attributes.start_time DESC"],
        max_results=runs,
    )
    recent = [RunRow(r.info.run_id, r.info.run_name, r.info.start_time, r.info.status, r.data.tags) for r in found]
    return Registry(model, client), recent


def _print_models(registry: Any, configured_mode: str) -> None:
    """The champion and challenger, their gate verdicts and lineage, and the release mode."""
    release = registry.release_mode() or f"{configured_mode} (from the config)"
    models = Table(title=f"model {registry.name}, release mode {release}")
    for column in ("alias", "version", "gate", "trained by run", "data fingerprint"):
        models.add_column(column)
    for alias in (Alias.CHAMPION, Alias.CHALLENGER):
        version = registry.alias_version(alias)
        info = registry.info(version) if version else None
        tags = info.tags if info is not None else {}
        models.add_row(
            alias,
            version or "-",
            tags.get(Tag.GATE, "-"),
            tags.get(Tag.TRAINING_RUN, "-"),
            tags.get(Tag.DATA_FINGERPRINT, "-"),
        )
    console.print(models)


def print_status(settings: Settings, config_path: str, runs: int = 5) -> None:
    from perennial.config import load_config
    from perennial.core.names import RELEASE_DECISIONS, release_action
    from perennial.io.ledger import Ledger
    from perennial.io.registry_view import open_view

    config = load_config(settings.root / config_path)
    # the default SQLite store is read directly, without importing MLflow (io/registry_view.py)
    view = open_view(settings.tracking_uri, config.tracking.registered_model)
    try:
        registry, recent = (
            (view, view.runs(config.tracking.experiment, "training", runs))
            if view is not None
            else _from_mlflow(settings, config.tracking.registered_model, config.tracking.experiment, runs)
        )
        _print_models(registry, config.serving.mode)
    finally:
        if view is not None:
            view.close()
    ledger = Ledger(settings.ledger_url)
    try:
        entries = ledger.history(registry.name, limit=50)
    finally:
        ledger.close()
    decisions = {release_action(d) for d in RELEASE_DECISIONS}
    decided = next((e for e in entries if e.action in decisions), None)
    if decided is not None:
        when = decided.at.strftime("%Y-%m-%d %H:%M")
        console.print(
            f"release decision on v{decided.version} ({when}): {decided.action} — {decided.reason}", soft_wrap=True
        )
    for note in data_notes(config):
        console.print(note, soft_wrap=True)
    table = Table(title="last training runs")
    for column in ("run", "started", "status", "validation", "gate", "reason", "why it failed"):
        table.add_column(column)
    for run in recent:
        started = dt.datetime.fromtimestamp(run.start_time / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        tags = run.tags
        table.add_row(
            run.name,
            started,
            run.status,
            tags.get(Tag.VALIDATION, "-"),
            # a binary model that decides no row positive passed on its ranking: said where its verdict is
            tags.get(Tag.GATE, "-") + ("; decides no row positive" if tags.get(Tag.NO_POSITIVE_DECIDED) else ""),
            tags.get(Tag.REASON, "-"),
            tags.get(Tag.FAILURE, "-"),  # a refused retrain: the gate's failing check, as the run recorded it
        )
    console.print(table)
    history = Table(title="promotion ledger (newest first)")
    for column in ("when", "alias", "version", "from", "action", "gate", "who", "why"):
        history.add_column(column)
    for entry in entries[:10]:
        history.add_row(
            entry.at.strftime("%Y-%m-%d %H:%M:%S"),
            entry.alias,
            entry.version,
            entry.previous_version or "-",
            entry.action,
            entry.gate or "-",
            entry.actor,
            entry.reason,
        )
    console.print(history)
    console.print(episodes_table(settings.ledger_url, config.name))


def episodes_table(ledger_url: str, dataset: str) -> Table:
    """The dataset's drift episodes, newest first: what opened each, its retrain and how it ended."""
    from perennial.io.monitor_store import MonitorStore

    store = MonitorStore(ledger_url)
    try:
        found = store.episodes(dataset)
    finally:
        store.close()
    table = Table(title="drift episodes (newest first)")
    for column in ("start", "end", "windows", "trigger", "retrains", "retrain", "outcome", "persistent", "closed by"):
        table.add_column(column)
    for e in found:
        table.add_row(
            e.start,
            e.end or "open",
            str(e.windows),
            e.trigger,
            str(e.retrains),
            f"holdout to {e.retrain}" if e.retrain else "-",
            (f"{e.outcome}, v{e.version}" if e.version else e.outcome or "running") if e.retrains else "-",
            "a person was asked" if e.alerted else "-",
            e.closed_by or "-",
        )
    return table


def print_where_to_look(settings: Settings) -> None:
    console.print(
        "\nWhere to look:\n"
        f"  MLflow store:     {settings.tracking_uri}  (artifacts in {settings.artifact_root})\n"
        f"  Prefect database: {settings.prefect_home}\n"
        "  Both UIs:         perennial ui   → Prefect http://127.0.0.1:4200, MLflow http://127.0.0.1:5000\n"
        "  Gate report:      MLflow run artifacts gate/report.md, and the Prefect artifact '<config>-gate-report'\n"
        "  Summary:          perennial status"
    )
