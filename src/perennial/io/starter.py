"""`perennial init`: profile a table and write a commented starter config that trains as it is.

The file says what was inferred and why (column types, the left-out columns, the id and time
columns or why there are none, the split, candidates sized to the rows); every choice is a
plain key the user can edit. Delimiter and encoding are sniffed and written down, so the
runtime reads the file exactly as it was profiled.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from perennial.config import Config, FileSource, HashSplit, Target, parse_config
from perennial.core.column_types import ColumnTypes, infer_types, repeated_ids, suggest_id, suggest_time
from perennial.core.contract import utc_times
from perennial.core.data import epoch_unit, labelled, numbers_not_times, split_frame
from perennial.core.target import Labels, check_class_rows, infer_task, resolve_labels
from perennial.core.task import Task
from perennial.errors import ConfigError, DataSourceError
from perennial.io import csv_checks, sniffing, sources
from perennial.io.starter_sections import (
    SMALL_TABLE,
    evaluation_lines,
    evidence_lines,
    gate_margin_lines,
    holdout_share,
    monitoring_lines,
    positive_rate,
    quoted,
    target_lines,
    training_lines,
)

JSON_LINES = (".jsonl", ".ndjson")
FALLBACK_ENCODINGS = ("utf-8", "cp1252", "latin-1")  # latin-1 decodes any bytes: the last resort


SPREADSHEETS = (".xlsx", ".xlsm", ".xls", ".ods")
SQL_ADVICE = (
    "init profiles a file (CSV, Parquet, JSON lines); for a database table or query, write the config's "
    "data.source by hand: {kind: sql, url: <SQLAlchemy URL>, query: SELECT ...} (README, Your own data), "
    "or export a sample to a file and run init on it"
)
PARTITION_KEY = "the directory's partition key: new-rows files and served records will not carry it"


def source_for(path: Path, shown_path: str) -> FileSource:
    """The source a file's name and first bytes imply: kind, delimiter and encoding."""
    name = path.name.lower()
    base = re.sub(r"\.(gz|bz2|xz|zip|zst)$", "", name)
    if base.endswith(SPREADSHEETS):  # zip or OLE bytes would be read as a one-column CSV of noise
        raise ConfigError(
            f"{path}: a spreadsheet is not read; save the sheet as CSV (or Parquet) and point init at that"
        )
    if base.endswith(".json") and _json_array(path):
        raise ConfigError(
            f"{path}: one JSON array; Perennial reads JSON lines (one object per line, .jsonl): "
            f"e.g. `jq -c '.[]' {path.name} > {path.stem}.jsonl`"
        )
    if base.endswith(".json"):  # objects one per line, named .json
        return FileSource(kind="jsonl", path=shown_path, encoding=sniff_encoding(path))
    if path.is_dir() or base.endswith((".parquet", ".pq")):
        return FileSource(kind="parquet", path=shown_path)
    if base == name and (kind := sniffing.binary_kind(path)):  # compressed files are binary by design
        url = f" (url: sqlite:///{path})" if kind == "a SQLite database" else ""
        raise ConfigError(f"{path}: {kind}, not a table in text{url}; {SQL_ADVICE}")
    encoding = sniff_encoding(path)
    if base.endswith(JSON_LINES):
        return FileSource(kind="jsonl", path=shown_path, encoding=encoding)
    first = (csv_checks.text_sample(path, encoding, size=64) or "").lstrip("\ufeff").split("\n", 1)[0].strip()
    if re.fullmatch(r'"?sep=.?"?', first, flags=re.IGNORECASE):  # Excel's hint, read as a one-column header
        raise ConfigError(
            f"{path}: its first line `{first}` is Excel's note of the delimiter, not the header: "
            "delete that line (the header is the line below it) and point at the file again"
        )
    delimiter = csv_checks.sniff_delimiter(path, encoding) or ","
    source = FileSource(kind="csv", path=shown_path, delimiter=delimiter, encoding=encoding)
    if delimiter == ",":  # a comma cannot be both: numbers with a decimal comma come quoted, and rarely
        return source
    head = sources.read_sample(source.model_copy(update={"path": str(path)}), None, rows=200)
    return source.model_copy(update={"decimal": sniffing.sniff_decimal(head)})


def _leading_zeros(frame: pd.DataFrame, source: FileSource, data: Path) -> tuple[str, ...]:
    """The columns read as numbers whose text writes codes with leading zeros (zip '02139', class '001').

    Only columns of whole numbers are read again as text (a code is one): on a 1M-row table of measured
    floats the second read of every numeric column took 26 s of init's 42, to find none."""
    numbers = [str(c) for c in frame.columns if whole_numbers(frame[c])]
    if not numbers:
        return ()
    as_written = source.model_copy(update={"path": str(data), "text_columns": tuple(numbers)})
    return sniffing.sniff_leading_zeros(sources.read_columns(as_written, numbers))


def whole_numbers(values: pd.Series) -> bool:
    """A numeric column (not booleans) whose every value is a whole number (gaps aside)."""
    if not pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        return False
    present = values.dropna().to_numpy()
    return bool(np.array_equal(present, np.floor(present))) if present.dtype.kind == "f" else True


def _json_array(path: Path) -> bool:
    sample = csv_checks.text_sample(path, "utf-8", size=4096) or ""
    return sample.lstrip().startswith("[")


def headerless(frame: pd.DataFrame) -> str | None:
    """Why the first line looks like a row of data, not names, or None: every name a number, or half
    of them decimals such as 5.1 (years name columns; measurements do not), or half of them values
    their own column holds (UCI's adult.data: 'State-gov' names a column of 'Private', 'State-gov'...).
    pandas numbers a repeated name ('0.2.1', 'p.1'), so that reads as a decimal or as its value too."""
    names = [str(c) for c in frame.columns]
    numbers = sum(bool(re.fullmatch(r"[-+]?\d+(\.\d+){0,2}", n)) for n in names)
    decimals = sum(bool(re.fullmatch(r"[-+]?\d*\.\d+(\.\d+)?", n)) for n in names)
    own = sum(_names_a_value(frame[c], str(c)) for c in frame.columns)
    if len(names) < 2 or (numbers < len(names) and decimals < max(2, len(names) / 2) and own < max(2, len(names) / 2)):
        return None
    return (
        f"its first line ({', '.join(names[:6])}{', ...' if len(names) > 6 else ''}) reads as a row of data, not column "
        "names: the file seems to have no header line; add one naming the columns"
    )


def _names_a_value(values: pd.Series, name: str) -> bool:
    """The column's name is one of its own text values (a first row of data read as names)."""
    if values.dtype != object:
        return False
    text = values.dropna().astype(str).str.strip()
    bare = re.sub(r"\.\d+$", "", name.strip())  # pandas' suffix for a repeated name
    return bool(text.isin([name.strip(), bare]).any())


def sniff_encoding(path: Path) -> str:
    sample = csv_checks.text_sample(path, "latin-1", size=1 << 20)
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
    task: Task | None = None,
) -> str:
    """The YAML text of a config for ``data``; errors name the flag and the closest column."""
    source = source_for(data, shown_path or str(data))
    frame = sources.read_source(source.model_copy(update={"path": str(data)}))
    sniffed: dict[str, Any] = {}
    if source.kind == "csv" and sniffing.sniff_initial_space(frame):  # ', ' between fields: read before the rest
        source = source.model_copy(update={"skip_initial_space": True})
        frame = sources.read_source(source.model_copy(update={"path": str(data)}))
    if source.kind == "csv" and (marks := sniffing.sniff_missing_marks(frame, keep=target)):  # '?' for a gap
        sniffed["missing_marks"] = marks
    if source.kind == "csv" and (dayfirst := sniffing.sniff_dayfirst(frame)):  # 31/12/2021: read as dates
        sniffed["dayfirst_columns"] = dayfirst
    if source.kind == "csv" and (thousands := sniffing.sniff_thousands(frame, source.decimal)):  # 1,001.5
        sniffed["thousands"] = thousands
    if source.kind == "csv" and (coded := _leading_zeros(frame, source, data)):  # '02139', class '001'
        sniffed["text_columns"] = coded
    if sniffed:
        source = source.model_copy(update=sniffed)
        frame = sources.read_source(source.model_copy(update={"path": str(data)}))
    if source.kind == "csv" and (why := headerless(frame)):
        raise ConfigError(f"{data}: {why}")
    for flag, column in (("--target", target), ("--time", time), ("--id", id_column)):
        _column(frame, column, flag)
    if id_column is not None and (repeated := repeated_ids(frame[id_column])):
        raise ConfigError(f"--id {id_column}: {repeated}")
    if time is not None and pd.api.types.is_numeric_dtype(frame[time].dtype) and epoch_unit(frame[time]) is None:
        raise ConfigError(
            f"--time {time}: column '{time}' {numbers_not_times(frame[time])}: write the times as dates or "
            f"timestamps (e.g. 2015-01-01) or Unix seconds, or leave out --time ('{time}' is then a feature)"
        )
    inferred, why = infer_task(frame[target], str(data))
    chosen: Task = task or inferred
    why = f"inferred: {why}" if chosen == inferred else f"given with --task (the values suggest {inferred}: {why})"
    if chosen == "multiclass" and inferred != "multiclass":  # numbers given as classes: as rare as text's?
        check_class_rows(frame[target], str(data))
    labels = _labels(frame[target], chosen, positive_label, str(data))
    if chosen == "regression" and not pd.api.types.is_numeric_dtype(frame[target].dropna()):
        raise ConfigError(f"{data}: --task regression needs a numeric target; '{target}' holds text")
    roles = tuple(c for c in (target, time, id_column) if c)
    keys = tuple(k for k in sniffing.partition_keys(data) if k in frame.columns and k not in roles)
    types = infer_types(frame, exclude=roles + keys, target=frame[target])
    types = replace(types, dropped={**dict.fromkeys(keys, PARTITION_KEY), **types.dropped})
    if not types.features:
        raise ConfigError(f"{data}: no usable feature columns besides {list(roles)}: {types.dropped}")
    parts = (_name(data), source, frame, target, (chosen, why), labels, types, time, id_column)
    text = render(*parts)
    held = _held_out(frame, parse_config(_yaml(text), "<starter config>"))  # what init writes always loads
    if held is None:
        return text
    text = render(*parts, held=held)  # the evidence asked for is what this table's own split gives
    parse_config(_yaml(text), "<starter config>")
    return text


def _held_out(frame: pd.DataFrame, config: Config) -> pd.Series | None:
    """The targets the config's hash split holds out of this table, as training splits it (None for a
    time split, or a split too small to hold two rows, which training refuses in its own words)."""
    if not isinstance(config.split, HashSplit):
        return None
    try:
        return split_frame(labelled(frame, config)[0], config)[1][config.data.target.column]
    except DataSourceError:
        return None


def _labels(values: pd.Series, task: Task, positive_label: Any, where: str) -> Labels | None:
    """A binary target's two labels; the other tasks take no positive label."""
    if task != "binary":
        if positive_label is not None:
            raise ConfigError(f"--positive-label applies to a binary target; '{values.name}' is {task}")
        return None
    try:
        return resolve_labels(values, Target(column=str(values.name), positive_label=positive_label), where)
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("set data.target.positive_label to", "pass --positive-label with")) from None


def _yaml(text: str) -> Any:
    import yaml

    return yaml.safe_load(text)


def _name(data: Path) -> str:
    stem = re.sub(r"(\.(csv|tsv|txt|parquet|pq|jsonl|ndjson))?(\.(gz|bz2|xz|zip|zst))?$", "", data.name.lower())
    slug = re.sub(r"[^a-z0-9]+", "-", stem).strip("-")
    return slug if slug[:1].isalpha() else f"data-{slug or 'table'}"


def _list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(quoted(v) for v in values) + "]"


def render(
    name: str,
    source: FileSource,
    frame: pd.DataFrame,
    target: str,
    task: tuple[Task, str],
    labels: Labels | None,
    types: ColumnTypes,
    time: str | None,
    id_column: str | None,
    held: pd.Series | None = None,
) -> str:
    """The config's text; ``held``: the targets its hash split holds out, which bound the evidence asked for."""
    rows, values = len(frame), frame[target]
    kind, why = task
    roles = tuple(c for c in (target, time, id_column) if c)
    id_hint, id_why = (id_column, "given with --id") if id_column else suggest_id(frame, roles)
    time_hint, time_why = (time, "given with --time") if time else suggest_time(frame, roles)
    out = [
        f"# Starter config written by `perennial init` from {source.path} ({rows:,} rows, {len(frame.columns)} columns).",
        "# Every key is documented in docs/config-reference.md. Train with: perennial train -c <this file>",
        f"name: {name}",
        f"task: {kind}   # {why}",
        "",
        "data:",
        "  source:",
        f"    kind: {source.kind}",
        f"    path: {quoted(source.path)}",
    ]
    if source.kind == "csv":
        out.append(f"    delimiter: {quoted(source.delimiter)}   # sniffed")
    if source.kind != "parquet":
        out.append(f"    encoding: {source.encoding}   # sniffed")
    if source.kind == "csv" and source.skip_initial_space:
        out.append("    skip_initial_space: true   # sniffed: fields are written after ', '")
    if source.kind == "csv" and source.decimal != ".":
        out.append(f"    decimal: {quoted(source.decimal)}   # sniffed: numbers are written 3{source.decimal}14")
    if source.kind == "csv" and source.thousands is not None:
        example = f"1{source.thousands}001{source.decimal}5"
        out.append(f"    thousands: {quoted(source.thousands)}   # sniffed: numbers are written {example}")
    if source.kind == "csv" and source.dayfirst_columns:
        out.append(
            f"    dayfirst_columns: {quoted(list(source.dayfirst_columns))}   # sniffed: dates written 31/12/2021"
        )
    if source.kind == "csv" and source.missing_marks:
        out.append(
            f"    missing_marks: {quoted(list(source.missing_marks))}   # sniffed: numeric columns write a gap so"
        )
    if source.kind == "csv" and source.text_columns:
        out.append(
            f"    text_columns: {quoted(list(source.text_columns))}   # sniffed: codes written with leading zeros"
        )
    out += [
        *target_lines(kind, why, values, labels),
        f"  # id column: {id_why}",
        f"  id_column: {quoted(id_column)}"
        if id_column
        else (f"  # id_column: {quoted(id_hint)}" if id_hint else "  id_column: null"),
        f"  # time column: {time_why}",
        f"  time_column: {quoted(time)}"
        if time
        else (
            f"  # time_column: {quoted(time_hint)}   # then use a time split (split.train_end, split.holdout_end)"
            if time_hint
            else "  time_column: null"
        ),
        "  features:   # inferred from the values; move a column between lists to change its type",
        f"    numeric: {_list(types.numeric)}",
        f"    categorical: {_list(types.categorical)}",
    ]
    out += (
        ["    datetime:"]
        + [
            f"      - {{column: {quoted(c)}, parts: [{'month' if c in types.periods else 'dayofweek, month'}]}}"
            for c in types.datetime
        ]
        if types.datetime
        else ["    datetime: []"]
    )
    out += [f"  # left out: {c}: {reason}" for c, reason in types.dropped.items()]
    # text, timestamps or Unix seconds, as training reads them: parsed once for the split and the window
    times = utc_times(frame[time]).dropna() if time is not None else None
    out += ["", *_split(frame, times)]
    per_day = None
    if times is not None and len(times):
        per_day = len(times) / max(1, (times.max() - times.min()).days + 1)
    monitoring = monitoring_lines(kind, values, holdout_share(rows), batches=time is None, rows_per_day=per_day)
    out += [
        "",
        "validation:",
        "  null_margin: 0.05",
        "  max_unseen_category_share: 0.01   # above it a warning; a column mostly of unseen values blocks",
        "  ranges: {}   # physical bounds per numeric column, e.g. {age: [0, 120]}: declared, never guessed",
        "",
        *training_lines(kind, values, rows),
        "",
        *evaluation_lines(kind, positive_rate(values, labels) if labels else None),
        "",
        "gate:",
        "  mode: enforced",
        *evidence_lines(kind, values, holdout_share(rows), held),
        *gate_margin_lines(kind, values),
        "",
        *monitoring,
        *([""] if monitoring else []),
        "tracking:",
        f"  experiment: {name}",
        f"  registered_model: {name}",
        "",
    ]
    return "\n".join(out)


def _split(frame: pd.DataFrame, times: pd.Series | None) -> list[str]:
    if times is None:
        return [
            "# No time column: a seeded random split by row key; a row keeps its side across retrains.",
            "split:",
            "  kind: hash",
            f"  holdout_share: {holdout_share(len(frame))}"
            + ("   # a small table: a larger holdout, for evidence" if len(frame) < SMALL_TABLE else ""),
            "  seed: 0",
        ]
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
