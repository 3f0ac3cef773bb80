"""The `perennial` command.

Flows live in the project's ``flows/`` folder (project code, not installed), so commands
find the project root from ``pyproject.toml`` and import them from there, after the
embedded defaults are exported: nothing here imports Prefect at module load.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from perennial.cli_errors import DEBUG_ENV, FlowFailure, err_console, quiet_expected_errors
from perennial.cli_errors import run as run_app
from perennial.cli_views import console, print_importance_history, print_status, print_where_to_look
from perennial.core.names import ReleaseMode
from perennial.settings import Settings, apply_defaults, default_config

app = typer.Typer(
    help="Perennial: the production lifecycle of a tabular model on Prefect and MLflow.", no_args_is_help=True
)

ConfigOpt = Annotated[str, typer.Option("--config", "-c", help="config file, relative to the project root")]


# pyproject's [tool.perennial] default_config: read once here, so --help shows it
DEFAULT_CONFIG = default_config()


def _project() -> Settings:
    settings = apply_defaults()
    root = str(settings.root)
    if root not in sys.path:
        sys.path.insert(0, root)  # flows/ and tasks/ are project code run from the checkout
    return settings


def _fail(message: str) -> None:
    """Print one error and exit with its kind's code (a FlowFailure carries it; others exit 1)."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(getattr(message, "exit_code", 1))


def _run_flow(flow: Any, **params: Any) -> Any:
    """Run a flow; a FAILED run returns its message (with the error's exit code) to print once."""
    quiet_expected_errors()
    state = flow(**params, return_state=True)
    if state.is_failed() or state.is_crashed():
        return None, FlowFailure.of(state)
    return state.result(), None


def _checked(config: str) -> None:
    """The config parsed and checked against its data's header and target, before Prefect or MLflow start."""
    from perennial.io.preflight import check_config

    settings = _project()
    check_config(settings.root / config, settings.root)


@app.callback()
def _options(
    debug: Annotated[
        bool, typer.Option("--debug", help="show tracebacks (expected errors print one line without)")
    ] = False,
) -> None:
    """Perennial: the production lifecycle of a tabular model on Prefect and MLflow."""
    if debug:
        os.environ[DEBUG_ENV] = "1"


@app.command()
def demo() -> None:
    """The whole training lifecycle on the bundled 2013 NYC flights data, twice.

    Run 1 trains on January–May and holds out June; run 2 trains on January–June, holds out
    July and must compete with the champion run 1 made, on the same holdout.
    """
    settings = _project()
    from perennial.io.demo_data import ensure_demo_data

    started = time.perf_counter()
    path = ensure_demo_data(settings.data_dir / "flights.parquet")
    console.print(f"demo data: {path}")
    from flows.training import training_flow

    windows = [(dt.date(2013, 6, 1), dt.date(2013, 7, 1)), (dt.date(2013, 7, 1), dt.date(2013, 8, 1))]
    for number, (train_end, holdout_end) in enumerate(windows, 1):
        console.rule(f"run {number}: train until {train_end}, hold out until {holdout_end}")
        outcome, error = _run_flow(
            training_flow, config_path=DEFAULT_CONFIG, train_end=train_end, holdout_end=holdout_end, reason="demo"
        )
        if error and "gate FAILED" not in error:
            _fail(error)
        console.print(f"[bold]{'gate verdict: ' + error if error else outcome.summary}[/]")
    console.rule(f"done in {time.perf_counter() - started:.0f} s")
    print_status(settings, DEFAULT_CONFIG)
    print_where_to_look(settings)


@app.command()
def init(
    data: Annotated[
        Path, typer.Argument(help="a CSV (.gz .bz2 .xz .zip .zst), Parquet file or directory, or JSON lines")
    ],
    target: Annotated[str, typer.Option(help="the label column")],
    positive_label: Annotated[
        str | None, typer.Option(help="the label's positive value (when not plain from 0/1, no/yes...)")
    ] = None,
    time: Annotated[
        str | None, typer.Option(help="event time column: a time split (default: none, a random split by row key)")
    ] = None,
    id: Annotated[
        str | None, typer.Option("--id", help="unique row id column (default: none, rows keyed by content)")
    ] = None,
    task: Annotated[
        str | None, typer.Option(help="binary, multiclass or regression (default: inferred from the target's values)")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="config to write (default: configs/<name>.yaml)")
    ] = None,
    force: Annotated[bool, typer.Option(help="overwrite an existing config")] = False,
) -> None:
    """Profile DATA and write a commented starter config that `perennial train -c FILE` runs as it is."""
    settings = _project()
    from perennial.core.task import TASKS
    from perennial.io.starter import _name, starter_config

    data = data.expanduser().resolve()
    if not data.exists():
        _fail(f"{data}: no such file or directory")
    shown = str(data.relative_to(settings.root)) if data.is_relative_to(settings.root) else str(data)
    if task is not None and task not in TASKS:
        _fail(f"--task {task}: not a task; use one of {', '.join(TASKS)}")
    text = starter_config(data, target, positive_label, time, id, shown_path=shown, task=task)  # type: ignore[arg-type]
    path = output or settings.root / "configs" / f"{_name(data)}.yaml"
    if path.exists() and not force:
        _fail(f"{path} exists: pass --force to overwrite it, or -o another file")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    shown_config = path.relative_to(settings.root) if path.resolve().is_relative_to(settings.root) else path
    console.print(f"[green]wrote {shown_config}[/]: read it, then `perennial train -c {shown_config}`", soft_wrap=True)


@app.command()
def check(config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Check a config and its data's header and target, in seconds (nothing starts)."""
    from perennial.io.preflight import check_config

    settings = _project()
    loaded, labels = check_config(settings.root / config, settings.root)
    found = f"; target '{labels.column}': positive {labels.positive!r}, negative {labels.negative!r}" if labels else ""
    console.print(f"[green]{config} is valid[/] ({len(loaded.data.features.columns)} features{found})", soft_wrap=True)


@app.command()
def validate(
    config: ConfigOpt = DEFAULT_CONFIG,
    holdout_end: Annotated[dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="end of the window")] = None,
) -> None:
    """Validate the configured data window against the data contract (no training)."""
    _checked(config)
    from flows.validation import validation_flow

    report, error = _run_flow(
        validation_flow, config_path=config, holdout_end=holdout_end.date() if holdout_end else None
    )
    if error:
        _fail(error)
    console.print(f"[green]{report.summary()}[/]")


@app.command()
def train(
    config: ConfigOpt = DEFAULT_CONFIG,
    train_end: Annotated[dt.datetime | None, typer.Option(formats=["%Y-%m-%d"])] = None,
    holdout_end: Annotated[dt.datetime | None, typer.Option(formats=["%Y-%m-%d"])] = None,
    reason: str = "manual",
) -> None:
    """Run the training flow once: validate, train, evaluate, gate, register."""
    _checked(config)
    from flows.training import training_flow

    outcome, error = _run_flow(
        training_flow,
        config_path=config,
        train_end=train_end.date() if train_end else None,
        holdout_end=holdout_end.date() if holdout_end else None,
        reason=reason,
    )
    if error:
        _fail(error)
    console.print(outcome.headline, style="green" if outcome.champion_version else "yellow", soft_wrap=True)


@app.command()
def score(
    config: ConfigOpt = DEFAULT_CONFIG,
    start: Annotated[
        dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="first day (default: holdout start)")
    ] = None,
    end: Annotated[dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="day after the last")] = None,
    alias: str = "champion",
) -> None:
    """Batch-score a window with a model alias into the prediction store (no time column: every row)."""
    _checked(config)
    from flows.batch_scoring import batch_scoring_flow

    rows, error = _run_flow(
        batch_scoring_flow,
        config_path=config,
        start=start.date() if start else None,
        end=end.date() if end else None,
        alias=alias,
    )
    if error:
        _fail(error)
    console.print(f"[green]scored {rows:,} rows[/]")


@app.command()
def serve(
    config: ConfigOpt = DEFAULT_CONFIG,
    host: Annotated[str | None, typer.Option(help="bind address (default from config: 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default from config)")] = None,
    mode: Annotated[
        ReleaseMode | None,
        typer.Option(help="start in this mode instead of the config's; `perennial release` switches it live"),
    ] = None,
) -> None:
    """Serve the champion over HTTP (FastAPI + uvicorn), with hot reload, shadow and canary."""
    settings = _project()
    from perennial.config import load_config

    load_config(settings.root / config)  # a config mistake is one message before the server starts
    from perennial.serving.run import serve as run_service

    run_service(str(settings.root / config), host, port, mode.value if mode else None)


@app.command()
def release(
    mode: Annotated[ReleaseMode, typer.Argument(help="shadow, canary, or champion (the champion alone)")],
    config: ConfigOpt = DEFAULT_CONFIG,
    reason: Annotated[str, typer.Option(help="why (recorded in the ledger)")] = "manual release step",
) -> None:
    """Put the challenger in shadow or canary in every running service (they follow within a poll)."""
    from perennial.io.registry import release as set_release

    entry = _ledger_move(config, lambda registry, ledger: set_release(registry, ledger, mode.value, reason))
    console.print(f"[green]release mode {mode.value}[/] for challenger v{entry.version} ({entry.actor}: {reason})")


@app.command()
def promote(
    version: str,
    config: ConfigOpt = DEFAULT_CONFIG,
    force: Annotated[bool, typer.Option(help="skip the gate; needs --reason")] = False,
    reason: Annotated[str | None, typer.Option(help="why (recorded in the ledger)")] = None,
) -> None:
    """Make VERSION the champion: the gate runs against the current champion first."""
    if force and not reason:
        _fail("--force needs --reason: the ledger records why the gate was skipped")
    _project()
    from flows.promotion import promotion_flow

    _, error = _run_flow(promotion_flow, version=version, config_path=config, force_reason=reason if force else None)
    if error:
        _fail(error)
    console.print(f"[green]v{version} is champion[/]")


@app.command()
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
                dataset=load_config(_project().root / config).name,
                window=entry.at.date().isoformat(),
                version=entry.version,
                previous_version=entry.previous_version,
                reason=reason,
            )
        )


def _ledger_move(config: str, move: Any) -> Any:
    """Run one recorded alias move (``move(registry, ledger)``) for the config's model; a refusal exits 1."""
    settings = _project()
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


@app.command()
def status(
    config: ConfigOpt = DEFAULT_CONFIG,
    runs: int = 5,
    features: Annotated[
        bool, typer.Option("--features", help="permutation importance of each feature across versions")
    ] = False,
) -> None:
    """Champion, challenger, the last gate verdict, recent runs and the promotion ledger."""
    settings = _project()
    if features:
        try:
            print_importance_history(settings, config)
        except LookupError as exc:
            _fail(str(exc))
        return
    print_status(settings, config, runs)


@app.command()
def doctor(
    config: ConfigOpt = DEFAULT_CONFIG,
    repair: Annotated[bool, typer.Option(help="apply the safe repairs (ledger reconcile, leftover files)")] = False,
) -> None:
    """Check that aliases, ledger, prediction partitions and the champion's artifacts agree; say how to repair."""
    settings = _project()
    from perennial.config import load_config
    from perennial.io import tracking
    from perennial.io.doctor import diagnose
    from perennial.io.prediction_store import ParquetPredictionStore, open_store

    loaded = load_config(settings.root / config)
    tracking.configure(settings)
    store = open_store(loaded, settings.root)  # a SQL store is transactional: no partitions to inspect
    store_path = store.path if isinstance(store, ParquetPredictionStore) else None
    report = diagnose(loaded.tracking.registered_model, settings.ledger_url, store_path, repair=repair)
    console.print(f"checked {', '.join(report.checks)} of model {report.model}")
    for finding in report.findings:
        mark = "[green]repaired[/]" if finding.repaired else "[bold red]problem[/]"
        how = "" if finding.repaired or not finding.repairable else " (perennial doctor --repair)"
        console.print(f"{mark} [{finding.check}] {finding.problem}\n    repair: {finding.repair}{how}")
    if not report.healthy:
        raise typer.Exit(1)
    console.print("[green]consistent[/]" if not report.findings else "[green]consistent after repair[/]")


@app.command()
def monitor(
    config: ConfigOpt = DEFAULT_CONFIG,
    start: Annotated[
        dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="window start (default: the last full window)")
    ] = None,
    end: Annotated[
        dt.datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="day after the window (default: its configured length)"),
    ] = None,
) -> None:
    """Monitor one window: data quality, drift, delayed-label performance, the retrain policy."""
    settings = _project()
    from perennial.cli_views import data_notes
    from perennial.config import load_config

    for note in data_notes(load_config(settings.root / config)):
        console.print(note, soft_wrap=True)
    from flows.monitoring import monitoring_flow

    result, error = _run_flow(
        monitoring_flow,
        config_path=config,
        window_start=start.date() if start else None,
        window_end=end.date() if end else None,
    )
    if error:
        _fail(error)
    perf = result["performance"]
    console.print(
        f"window {result['window']}: drift share {result['drift_share']:.2f}"
        + (
            f", {perf['metric']} {perf['value']:.4f} [{perf['low']:.4f}, {perf['high']:.4f}]"
            if perf
            else f", {result['label_note'] or 'performance not measured'}"
        )
        + f"\n{result['decision']['why']}"
        + (f" → event {result['event']}" if result["event"] else "")
    )


@app.command()
def simulate(
    config: ConfigOpt = DEFAULT_CONFIG,
    start: Annotated[
        dt.datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="first window's start (default: where the config's holdout ends)"),
    ] = None,
    windows: int = 6,
    inline: Annotated[
        bool, typer.Option(help="retrain in this process instead of through the server's trigger")
    ] = False,
) -> None:
    """Replay the data window by window: score, monitor, event, retrain, gate; prints the loop's table."""
    settings = _project()
    from perennial.settings import running_stack

    if not inline and running_stack(settings.state_dir) is None:
        _fail("no server to trigger retrains: run `perennial up` first, or pass --inline")
    from flows.simulate import simulate_flow

    rows, error = _run_flow(
        simulate_flow, config_path=config, start=start.date() if start else None, windows=windows, inline=inline
    )
    if error:
        _fail(error)
    table = Table(title="the closed loop, window by window")
    columns = (
        "window",
        "drift share",
        "performance",
        "event",
        "retrain",
        "gate",
        "champion",
        "episodes",
        "decision",
        "repeat",
    )
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(str(row.get(c, "-")) for c in columns))
    Console(width=max(console.width, 220)).print(table)  # a wide table: wrap it only on a wide terminal's terms


@app.command()
def up(
    config: ConfigOpt = DEFAULT_CONFIG,
    prefect_port: int = 4200,
    mlflow_port: int = 5000,
    compose_env: Annotated[
        bool, typer.Option(help="only write docker compose's secrets (.env, git-ignored) and exit")
    ] = False,
) -> None:
    """Start the Prefect server, the MLflow server and the deployments on localhost (stop: `perennial down`)."""
    settings = _project()
    from perennial.io.compose_env import ensure_compose_env
    from perennial.io.stack import StackError
    from perennial.io.stack import up as start_stack

    env_file, added = ensure_compose_env(settings.root)
    if added:  # the names only: a secret is never printed
        console.print(f"docker compose: generated {', '.join(added)} into {env_file.name} (git-ignored)")
    if compose_env:
        return

    console.print("starting the Prefect server, the MLflow server and the deployments ...")
    try:
        record, started = start_stack(settings, config, prefect_port=prefect_port, mlflow_port=mlflow_port)
    except StackError as exc:
        _fail(str(exc))
    console.print(
        ("[green]up[/]" if started else "[yellow]already up[/]")
        + f" (since {record['started']}, config {record['config']})"
    )
    console.print(f"  Prefect dashboard: {record['prefect_ui']}\n  MLflow:            {record['mlflow']}")
    for proc in record["processes"]:
        console.print(f"  {proc['name']:<15} pid {proc['pid']:<8} log {proc['log']}")
    console.print("Commands of this project now use these servers; `perennial down` stops them.")


@app.command()
def down() -> None:
    """Stop what `perennial up` started, by process id."""
    settings = _project()
    from perennial.io.stack import down as stop_stack

    stopped = stop_stack(settings)
    console.print(f"stopped {', '.join(stopped)}" if stopped else "nothing was up")


@app.command()
def ui(
    prefect_port: int = 4200,
    mlflow_port: int = 5000,
    host: Annotated[str, typer.Option(help="bind address; localhost unless you mean otherwise")] = "127.0.0.1",
) -> None:
    """Start the Prefect server and the MLflow UI on this machine's state; Ctrl-C stops both."""
    settings = _project()
    from perennial.io.stack import StackError, check_ports, server_commands
    from perennial.settings import running_stack

    stack = running_stack(settings.state_dir)
    if stack:  # `perennial up` already serves both on this state folder
        console.print(
            f"[yellow]already up[/] (`perennial up`): Prefect UI {stack['prefect_ui']}, MLflow UI {stack['mlflow']}"
        )
        return
    try:
        check_ports(host, prefect_port, mlflow_port)
    except StackError as exc:
        _fail(str(exc))
    processes = {
        name: subprocess.Popen(command, cwd=settings.root, env=env)
        for name, command, env in server_commands(settings, host, prefect_port, mlflow_port)
    }
    console.print(f"Prefect UI: http://{host}:{prefect_port}\nMLflow UI:  http://{host}:{mlflow_port}\nCtrl-C to stop.")
    try:
        while all(p.poll() is None for p in processes.values()):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            process.wait(timeout=20)


def main() -> None:  # pragma: no cover - console entry point
    run_app(app)


if __name__ == "__main__":  # pragma: no cover
    main()
