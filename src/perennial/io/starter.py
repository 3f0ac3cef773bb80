"""`perennial init`: profile a table and write a commented starter config that trains as it is.

The file says what was inferred and why (column types, the left-out columns, the id and time
columns or why there are none, the split, candidates sized to the rows); every choice is a
plain key the user can edit. Delimiter and encoding are sniffed and written down, so the
runtime reads the file exactly as it was profiled.
"""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from perennial.config import FileSource, Target, parse_config
from perennial.core.column_types import ColumnTypes, infer_types, suggest_id, suggest_time
from perennial.core.target import Labels, resolve_labels
from perennial.errors import ConfigError
from perennial.io import sources

JSON_LINES = (".jsonl", ".ndjson")
FALLBACK_ENCODINGS = ("utf-8", "cp1252", "latin-1")  # latin-1 decodes any bytes: the last resort


def source_for(path: Path, shown_path: str) -> FileSource:
    """The source a file's name and first bytes imply: kind, delimiter and encoding."""
    name = path.name.lower()
    base = re.sub(r"\.(gz|bz2|xz|zip|zst)$", "", name)
    if path.is_dir() or base.endswith((".parquet", ".pq")):
        return FileSource(kind="parquet", path=shown_path)
    encoding = sniff_encoding(path)
    if base.endswith(JSON_LINES):
        return FileSource(kind="jsonl", path=shown_path, encoding=encoding)
    delimiter = sources.sniff_delimiter(path, encoding) or ","
    return FileSource(kind="csv", path=shown_path, delimiter=delimiter, encoding=encoding)


def sniff_encoding(path: Path) -> str:
    sample = sources.text_sample(path, "latin-1", size=1 << 20)
    raw = sample.encode("latin-1") if sample is not None else b""
    for encoding in FALLBACK_ENCODINGS:
        try:
            raw.decode(encoding)
            return encoding
        except UnicodeDecodeError:
            continue
    return "latin-1"


def _column(frame: pd.DataFrame, column: str | None, flag: str) -> str | None:
    if column is None or column in frame.columns:
        return column
    close = difflib.get_close_matches(column, [str(c) for c in frame.columns], n=1, cutoff=0.6)
    hint = f", did you mean `{close[0]}`?" if close else f" (it has {', '.join(map(str, frame.columns[:12]))})"
    raise ConfigError(f"{flag} {column}: no such column{hint}")


def starter_config(
    data: Path,
    target: str,
    positive_label: Any = None,
    time: str | None = None,
    id_column: str | None = None,
    shown_path: str | None = None,
) -> str:
    """The YAML text of a config for ``data``; errors name the flag and the closest column."""
    source = source_for(data, shown_path or str(data))
    frame = sources.read_source(source.model_copy(update={"path": str(data)}))
    for flag, column in (("--target", target), ("--time", time), ("--id", id_column)):
        _column(frame, column, flag)
    try:
        labels = resolve_labels(frame[target], Target(column=target, positive_label=positive_label), str(data))
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("set data.target.positive_label to", "pass --positive-label with")) from None
    roles = tuple(c for c in (target, time, id_column) if c)
    types = infer_types(frame, exclude=roles)
    if not types.features:
        raise ConfigError(f"{data}: no usable feature columns besides {list(roles)}: {types.dropped}")
    text = render(_name(data), source, frame, labels, types, time, id_column)
    parse_config(_yaml(text), "<starter config>")  # what init writes always loads
    return text


def _yaml(text: str) -> Any:
    import yaml

    return yaml.safe_load(text)


def _name(data: Path) -> str:
    stem = re.sub(r"(\.(csv|tsv|txt|parquet|pq|jsonl|ndjson))?(\.(gz|bz2|xz|zip|zst))?$", "", data.name.lower())
    slug = re.sub(r"[^a-z0-9]+", "-", stem).strip("-")
    return slug if slug[:1].isalpha() else f"data-{slug or 'table'}"


def _list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def _candidates(rows: int) -> list[str]:
    """Small enough to train in seconds at this size; a linear model beside the trees below 200k rows."""
    iters = 100 if rows < 100_000 else 200
    lines = [
        "    - name: hgb",
        "      family: hist_gradient_boosting",
        f"      params: {{max_iter: {iters}, learning_rate: 0.1, early_stopping: false}}",
    ]
    if rows < 200_000:
        lines += ["    - name: logreg", "      family: logistic_regression", "      params: {C: 1.0, max_iter: 500}"]
    return lines


def render(
    name: str,
    source: FileSource,
    frame: pd.DataFrame,
    labels: Labels,
    types: ColumnTypes,
    time: str | None,
    id_column: str | None,
) -> str:
    rows = len(frame)
    roles = tuple(c for c in (labels.column, time, id_column) if c)
    id_hint, id_why = (id_column, "given with --id") if id_column else suggest_id(frame, roles)
    time_hint, time_why = (time, "given with --time") if time else suggest_time(frame, roles)
    positive = json.dumps(labels.to_dict()["positive"])
    rate = float((labels.encode(frame[labels.column]) == 1).mean())
    out = [
        f"# Starter config written by `perennial init` from {source.path} ({rows:,} rows, {len(frame.columns)} columns).",
        "# Every key is documented in docs/config-reference.md. Train with: perennial train -c <this file>",
        f"name: {name}",
        "",
        "data:",
        "  source:",
        f"    kind: {source.kind}",
        f"    path: {json.dumps(source.path)}",
    ]
    if source.kind == "csv":
        out.append(f"    delimiter: {json.dumps(source.delimiter)}   # sniffed")
    if source.kind != "parquet":
        out.append(f"    encoding: {source.encoding}   # sniffed")
    out += [
        "  target:",
        f"    column: {json.dumps(labels.column)}",
        f"    positive_label: {positive}   # the other value, {json.dumps(labels.to_dict()['negative'])}, is negative;"
        f" positive rate {rate:.1%}",
        f"  # id column: {id_why}",
        f"  id_column: {json.dumps(id_column)}"
        if id_column
        else (f"  # id_column: {json.dumps(id_hint)}" if id_hint else "  id_column: null"),
        f"  # time column: {time_why}",
        f"  time_column: {json.dumps(time)}"
        if time
        else (
            f"  # time_column: {json.dumps(time_hint)}   # then use a time split (split.train_end, split.holdout_end)"
            if time_hint
            else "  time_column: null"
        ),
        "  features:   # inferred from the values; move a column between lists to change its type",
        f"    numeric: {_list(types.numeric)}",
        f"    categorical: {_list(types.categorical)}",
    ]
    out += (
        ["    datetime:"] + [f"      - {{column: {json.dumps(c)}, parts: [dayofweek, month]}}" for c in types.datetime]
        if types.datetime
        else ["    datetime: []"]
    )
    out += [f"  # left out: {c}: {why}" for c, why in types.dropped.items()]
    out += ["", *_split(frame, time)]
    out += [
        "",
        "validation:",
        "  null_margin: 0.05",
        "  max_unseen_category_share: 0.01",
        "  ranges: {}   # physical bounds per numeric column, e.g. {age: [0, 120]}: declared, never guessed",
        "",
        "training:",
        "  seed: 42",
        "  baseline: prior",
        *(["  max_train_rows: 200000"] if rows > 200_000 else []),
        "  candidates:",
        *_candidates(rows),
        "",
        "evaluation:",
        "  primary_metric: roc_auc",
        "  bootstrap: {resamples: 200, confidence: 0.95, seed: 7}",
        "  # What a decision is worth: fill in and uncomment to choose the threshold by expected cost",
        '  # cost: {false_positive: 1.0, false_negative: 1.0, unit: "cost units"}',
        "",
        "gate:",
        "  mode: enforced",
        *_evidence(rows, time),
        "  min_lift_over_baseline: 0.05     # the candidate must beat a model that ignores the features",
        "  max_regression_vs_champion: 0.01 # and may trail the champion by at most this (paired bootstrap)",
        "",
        "tracking:",
        f"  experiment: {name}",
        f"  registered_model: {name}",
        "",
    ]
    return "\n".join(out)


def _evidence(rows: int, time: str | None) -> list[str]:
    """A small table cannot hold the default 500 holdout rows: ask for what its holdout can give."""
    held_out = int(rows * 0.2)
    if held_out >= 500:
        return []
    needed = max(30, int(held_out * 0.9))
    return [
        f"  min_evidence:   # this table holds about {held_out:,} holdout rows; a verdict on fewer is inconclusive",
        f"    holdout_rows: {needed}",
    ]


def _split(frame: pd.DataFrame, time: str | None) -> list[str]:
    if time is None:
        return [
            "# No time column: a seeded random split by row key; a row keeps its side across retrains.",
            "split:",
            "  kind: hash",
            "  holdout_share: 0.2",
            "  seed: 0",
        ]
    times = pd.to_datetime(frame[time], utc=True, errors="coerce", format="mixed").dropna()
    days = times.dt.normalize()
    quantile_end = days.quantile(0.8)
    end = days.max() + pd.Timedelta(days=1)
    train_end = min(max(quantile_end, days.min() + pd.Timedelta(days=1)), end - pd.Timedelta(days=1))
    return [
        "# Train on the earlier 80% of the time range, hold out the rest: never at random.",
        "split:",
        "  kind: time",
        f"  train_end: {train_end:%Y-%m-%d}",
        f"  holdout_end: {end:%Y-%m-%d}",
    ]
