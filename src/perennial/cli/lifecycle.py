"""Commands that run a lifecycle flow once, from this process: demo, validate, train, score, monitor,
simulate."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from perennial.cli.common import DEFAULT_CONFIG, ConfigOpt, checked, fail, project, run_flow
from perennial.cli.views import console, data_notes, print_status, print_where_to_look, window_line

if TYPE_CHECKING:
    from perennial.config import Config


def demo() -> None:
    """The whole training lifecycle on the bundled 2013 NYC flights data, twice.

    Run 1 trains on January–May and holds out June; run 2 trains on January–June, holds out
    July and must compete with the champion run 1 made, on the same holdout.
    """
    settings = project()
    from perennial.io.demo_data import ensure_demo_data

    started = time.perf_counter()
    path = ensure_demo_data(settings.data_dir / "flights.parquet")
    console.print(f"demo data: {path}")
    from flows.training import training_flow

    windows = [(dt.date(2013, 6, 1), dt.date(2013, 7, 1)), (dt.date(2013, 7, 1), dt.date(2013, 8, 1))]
    for number, (train_end, holdout_end) in enumerate(windows, 1):
        console.rule(f"run {number}: train until {train_end}, hold out until {holdout_end}")
        outcome, error = run_flow(
            training_flow, config_path=DEFAULT_CONFIG, train_end=train_end, holdout_end=holdout_end, reason="demo"
        )
        if error and "gate FAILED" not in error:
            fail(error)
        console.print(f"[bold]{'gate verdict: ' + error if error else outcome.summary}[/]")
    console.rule(f"done in {time.perf_counter() - started:.0f} s")
    print_status(settings, DEFAULT_CONFIG)
    print_where_to_look(settings)


def validate(
    config: ConfigOpt = DEFAULT_CONFIG,
    holdout_end: Annotated[dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="end of the window")] = None,
) -> None:
    """Validate the configured data window against the data contract (no training)."""
    checked(config)
    from flows.validation import validation_flow

    report, error = run_flow(
        validation_flow, config_path=config, holdout_end=holdout_end.date() if holdout_end else None
    )
    if error:
        fail(error)
    console.print(f"[green]{report.summary()}[/]")


def train(
    config: ConfigOpt = DEFAULT_CONFIG,
    train_end: Annotated[dt.datetime | None, typer.Option(formats=["%Y-%m-%d"])] = None,
    holdout_end: Annotated[dt.datetime | None, typer.Option(formats=["%Y-%m-%d"])] = None,
    reason: str = "manual",
    train_start: Annotated[
        dt.datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            help="learn from this day on, not from the first row (after a concept change: the day it began)",
        ),
    ] = None,
) -> None:
    """Run the training flow once: validate, train, evaluate, gate, register."""
    checked(config)
    from flows.training import training_flow

    outcome, error = run_flow(
        training_flow,
        config_path=config,
        train_end=train_end.date() if train_end else None,
        holdout_end=holdout_end.date() if holdout_end else None,
        reason=reason,
        train_start=train_start.date() if train_start else None,
    )
    if error:
        fail(error)
    console.print(outcome.headline, style="green" if outcome.champion_version else "yellow", soft_wrap=True)


def score(
    config: ConfigOpt = DEFAULT_CONFIG,
    start: Annotated[
        dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="first day (default: holdout start)")
    ] = None,
    end: Annotated[dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="day after the last")] = None,
    alias: str = "champion",
    data: Annotated[
        Path | None,
        typer.Option(help="a file of new rows to score instead of the config's source (labels optional): every row"),
    ] = None,
) -> None:
    """Batch-score a window with a model alias into the prediction store (no time column: every row)."""
    if data is None:
        checked(config)
    else:
        from perennial.config import load_config
        from perennial.io.preflight import check_new_rows

        settings = project()
        data = data.expanduser().resolve()
        check_new_rows(load_config(settings.root / config), data)
    _require_model(config, alias)
    from flows.batch_scoring import batch_scoring_flow

    rows, error = run_flow(
        batch_scoring_flow,
        config_path=config,
        start=start.date() if start else None,
        end=end.date() if end else None,
        alias=alias,
        data=str(data) if data is not None else None,
    )
    if error:
        fail(error)
    console.print(f"[green]scored {rows:,} rows[/]")


def _require_model(config: str, alias: str) -> None:
    """The alias names a model before Prefect starts: without one, the flow failed the same way, 20-37 s in."""
    from perennial.config import load_config
    from perennial.io.registry import Registry

    Registry(load_config(project().root / config).tracking.registered_model).require(alias)


def monitor(
    config: ConfigOpt = DEFAULT_CONFIG,
    start: Annotated[
        dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="window start (default: the last full window)")
    ] = None,
    end: Annotated[
        dt.datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="day after the window (default: its configured length)"),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            help="the file of new rows `score --data` scored (labels in it judge them): the days it spans, or the latest batch scored from it"
        ),
    ] = None,
) -> None:
    """Monitor one window: data quality, drift, delayed-label performance, the retrain policy."""
    settings = project()
    from perennial.config import load_config
    from perennial.core.windows import BATCH_HAS_NO_DATES

    loaded = load_config(settings.root / config)
    if loaded.monitoring.window == "batch" and (start or end):
        fail(BATCH_HAS_NO_DATES)
    if data is not None:
        from perennial.io.preflight import check_new_rows

        data = data.expanduser().resolve()
        loaded = check_new_rows(loaded, data)
    for note in data_notes(loaded):
        console.print(note, soft_wrap=True)
    window_start, window_end = (start.date() if start else None), (end.date() if end else None)
    if window_start is None and window_end is None and data is None:
        window_start, window_end = _default_window(loaded, settings.root)
    from flows.monitoring import monitoring_flow

    result, error = run_flow(
        monitoring_flow,
        config_path=config,
        window_start=window_start,
        window_end=window_end,
        data=str(data) if data is not None else None,
    )
    if error:
        fail(error)
    console.print(
        window_line(result, loaded.monitoring.min_drift_rows)
        + f"\n{result['decision']['why']}"
        + (
            f"\ndata warnings (recorded, not blocking): {'; '.join(result['data_warnings'])}"
            if result.get("data_warnings")
            else ""
        )
        + (f" → event {result['event']}" if result["event"] else "")
    )


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
    settings = project()
    from perennial.settings import running_stack

    if not inline and running_stack(settings.state_dir) is None:
        fail("no server to trigger retrains: run `perennial up` first, or pass --inline")
    from flows.simulate import simulate_flow

    rows, error = run_flow(
        simulate_flow, config_path=config, start=start.date() if start else None, windows=windows, inline=inline
    )
    if error:
        fail(error)
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


def _default_window(config: Config, root: Path) -> tuple[dt.date | None, dt.date | None]:
    """The flow's default (the last full window by the clock), or, on a table whose data ends before
    it, the data's own last full window, said on the console (a scheduled run keeps the clock's)."""
    time_column = config.data.time_column
    if time_column is None or config.data.engine.kind == "dask":  # batch windows; a table too big to peek at
        return None, None
    from perennial.config import FileSource
    from perennial.core.data import parse_times
    from perennial.core.windows import clock_or_data_window
    from perennial.io import sources

    source = config.data.source
    where = sources.describe_source(source, root)
    frame = (
        sources.read_columns(source, [time_column], root)
        if isinstance(source, FileSource)
        else sources.sql_columns(source, [time_column])
    )
    times = parse_times(frame, time_column, where).dropna()
    if times.empty:
        return None, None
    today = dt.datetime.now(dt.UTC).date()
    window, note = clock_or_data_window(config.monitoring.window, today, times.max().date())
    if not note:
        return None, None
    console.print(note, soft_wrap=True)
    return window.start, window.end
