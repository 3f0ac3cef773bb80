"""Commands on a config before anything runs: a starter config from the data (init), a config checked
against its data (check)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from perennial.cli.common import DEFAULT_CONFIG, ConfigOpt, fail, project
from perennial.cli.views import console


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
    settings = project()
    from perennial.core.task import TASKS
    from perennial.errors import DataSourceError
    from perennial.io.starter import SQL_ADVICE, _name, starter_config

    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:", str(data)) and not data.exists():  # postgresql://..., sqlite:///...
        raise typer.BadParameter(SQL_ADVICE, param_hint="DATA")
    data = data.expanduser().resolve()
    if not data.exists():
        raise DataSourceError(f"{data}: file does not exist")  # exit 4, as every missing source
    shown = str(data.relative_to(settings.root)) if data.is_relative_to(settings.root) else str(data)
    if task is not None and task not in TASKS:
        raise typer.BadParameter(f"{task!r} is not a task; use one of {', '.join(TASKS)}", param_hint="--task")
    text = starter_config(data, target, positive_label, time, id, shown_path=shown, task=task)
    path = (output or settings.root / "configs" / f"{_name(data)}.yaml").resolve()
    if path.exists() and not force:
        fail(f"{path} exists: pass --force to overwrite it, or -o another file")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    shown_config = path.relative_to(settings.root) if path.is_relative_to(settings.root) else path
    console.print(f"[green]wrote {shown_config}[/]: read it, then `perennial train -c {shown_config}`", soft_wrap=True)


def check(config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Check a config and its data's header and target, in seconds (nothing starts)."""
    from perennial.io.preflight import check_config

    settings = project()
    loaded, labels = check_config(settings.root / config, settings.root)
    found = f"; target '{labels.column}': positive {labels.positive!r}, negative {labels.negative!r}" if labels else ""
    console.print(f"[green]{config} is valid[/] ({len(loaded.data.features.columns)} features{found})", soft_wrap=True)
