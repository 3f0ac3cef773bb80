"""Check a config against its data before anything heavy starts (no Prefect, no MLflow).

The columns a config names must be in the data's header (a file's first rows, a SQL query's
result columns), and the target must hold two values
one of which is (or can be inferred to be) positive. A mistake is a ConfigError naming the config
file, the key path and the closest column, in about the time it takes to read one column.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pandas as pd

from perennial.config import Config, FileSource, load_config
from perennial.core.column_types import repeated_ids
from perennial.core.target import (
    Labels,
    check_class_rows,
    check_label_columns,
    check_spellings,
    label_key,
    resolve_labels,
    respelt,
)
from perennial.errors import ConfigError, DataSourceError
from perennial.io import sniffing, sources


def check_config(path: Path, root: Path | None = None) -> tuple[Config, Labels | None]:
    """The parsed config and (binary) its labels; a SQL source is asked for its header and target only."""
    config = load_config(path)
    source = config.data.source
    name = sources.describe_source(source, root)
    sample = (
        sources.read_sample(source, root, rows=50) if isinstance(source, FileSource) else sources.sql_columns(source)
    )
    header = [str(c) for c in sample.columns]
    problems = [
        f"{key}: {_not_there(column, header, name)}" for key, column in named_columns(config) if column not in header
    ]
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))
    _check_ids(path, config, root)
    target = config.data.target
    if config.task == "regression":
        return config, None  # the target's values are checked by the task's own validation
    values = (
        sources.read_columns(source, [target.column], root)
        if isinstance(source, FileSource)
        else sources.sql_columns(source, [target.column])
    )[target.column]
    try:
        if config.task == "multiclass":
            check_spellings(values, name)
            check_class_rows(values, name)
            return config, None
        labels = resolve_labels(values, target, name)
    except ConfigError as exc:
        raise ConfigError(f"{path}: data.target: {exc}") from None
    _check_label_feed(path, config, labels, root)
    return config, labels


def _check_ids(path: Path, config: Config, root: Path | None) -> None:
    """The id column names each row once: training's contract refuses it otherwise, after the read."""
    column, source = config.data.id_column, config.data.source
    if column is None:
        return
    values = (
        sources.read_columns(source, [column], root)
        if isinstance(source, FileSource)
        else sources.sql_columns(source, [column])
    )[column]
    if repeated := repeated_ids(values):
        raise ConfigError(f"{path}: data.id_column: {repeated}")


def _check_label_feed(path: Path, config: Config, labels: Labels, root: Path | None) -> None:
    """A delayed-label file already there (``monitoring.labels``) holds the columns monitoring joins on
    and only the two labels: a new spelling (adult.test's ' >50K.') was found 30 s into `monitor`.
    A file not written yet is fine: labels arrive later."""
    feed = config.monitoring.labels
    if not isinstance(feed, FileSource) or not sources.resolve_path(feed, root).exists():
        return
    name = sources.describe_source(feed, root)
    try:
        header = [str(c) for c in sources.read_sample(feed, root, rows=50).columns]
        check_label_columns(header, config, name)
        values = sources.read_columns(feed, [config.data.target.column], root)[config.data.target.column]
        labels.encode(values, name)
    except (DataSourceError, ConfigError) as exc:
        raise ConfigError(f"{path}: monitoring.labels: {exc}") from None


def with_new_rows(config: Config, path: Path) -> Config:
    """``config`` reading ``path`` (new rows to score, labelled or not) instead of its source: the
    file's kind, delimiter, decimal mark and encoding sniffed as init does; missing marks, initial
    spaces and text columns kept from the config's own file source. The thousands mark and the
    day-first columns are the new file's own where its first rows show them: another export of the
    same table may write 39915.77 where training's wrote 39.915,77, and 2021-03-04 for 04/03/2021."""
    from perennial.io.starter import source_for

    if not path.exists():
        raise DataSourceError(f"{path}: file does not exist")
    source = source_for(path, str(path))
    old = config.data.source
    if isinstance(old, FileSource) and source.kind == "csv":
        kept = ("missing_marks", "skip_initial_space", "text_columns")
        source = source.model_copy(update={key: getattr(old, key) for key in kept})
        head = sources.read_sample(source.model_copy(update={"path": str(path)}), None, rows=2000)
        # a mark the new file shows wins; else the config's, unless this file writes decimals with it
        thousands = sniffing.sniff_thousands(head, source.decimal) or old.thousands
        dayfirst = tuple(c for c in old.dayfirst_columns if c in head and sniffing.still_day_first(head[c]))
        source = source.model_copy(
            update={"thousands": None if thousands == source.decimal else thousands, "dayfirst_columns": dayfirst}
        )
    return config.model_copy(update={"data": config.data.model_copy(update={"source": source})})


def check_new_rows(config: Config, path: Path) -> Config:
    """``with_new_rows``, its header checked for every column scoring reads (the target is optional:
    new rows have no labels yet)."""
    scoring = with_new_rows(config, path)
    source = scoring.data.source
    assert isinstance(source, FileSource)  # with_new_rows made it
    header = [str(c) for c in sources.read_sample(source, None, rows=50).columns]
    problems = [
        f"{key}: {_not_there(column, header, str(path))}"
        for key, column in named_columns(config)
        if column not in header and key != "data.target.column" and not key.startswith("evaluation.")
    ]
    if problems:
        raise ConfigError(f"--data {path}: " + "; ".join(problems))
    if config.task == "binary" and config.data.target.column in header:
        _check_new_labels(config, source, path)
    return scoring


def _check_new_labels(config: Config, source: FileSource, path: Path) -> None:
    """A binary file of new rows holds at most the two labels, the positive one as the config writes it:
    found once Prefect and MLflow had started, such a file was refused 40 s in."""
    target = config.data.target
    seen = list(pd.unique(sources.read_columns(source, [target.column])[target.column].dropna()))
    where = f"--data {path}: target '{target.column}'"
    if len(seen) > 2:
        shown = ", ".join(repr(v) for v in seen[:5])
        raise ConfigError(f"{where} holds {len(seen)} values ({shown}): a binary target has two")
    positive = target.positive_label
    if positive is None or label_key(positive) in {label_key(v) for v in seen}:
        return
    if found := respelt(seen, [positive]):
        raise ConfigError(
            f"{where} writes the positive label {positive!r} as {found[0]!r} (case or spaces): write it as the "
            "champion learnt it"
        )


def named_columns(config: Config) -> list[tuple[str, str]]:
    """(key path, column) for every column the config names."""
    data, features = config.data, config.data.features
    named = [("data.target.column", data.target.column)]
    named += [(f"data.{key}", getattr(data, key)) for key in ("id_column", "time_column") if getattr(data, key)]
    named += [(f"data.features.numeric[{i}]", c) for i, c in enumerate(features.numeric)]
    named += [(f"data.features.categorical[{i}]", c) for i, c in enumerate(features.categorical)]
    named += [(f"data.features.datetime[{i}].column", d.column) for i, d in enumerate(features.datetime)]
    named += [(f"evaluation.slices[{i}]", c) for i, c in enumerate(config.evaluation.slices)]
    return named


def _not_there(column: str, header: list[str], source: str) -> str:
    close = difflib.get_close_matches(column, header, n=1, cutoff=0.6)
    hint = (
        f", did you mean `{close[0]}`?"
        if close
        else f" (it has {', '.join(header[:12])}{', ...' if len(header) > 12 else ''})"
    )
    return f"column `{column}` is not in {source}{hint}"
