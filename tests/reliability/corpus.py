"""The bad-input corpus: one builder per case, each writing a bad source (or config) into a folder.

A case knows what it breaks and how the error must read: the file (or config, or database),
the column or key, and the rule. ``tests/reliability/test_bad_input.py`` checks every case on
the core path (read, parse times, validate); ``test_bad_input_flow.py`` runs a handful through
the training flow against a trained champion.

Every builder starts from the same good frame (``good_frame``) and the same config
(``tests.conftest.config_dict``), so a case differs from a good run by exactly one fault.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from tests.conftest import config_dict, make_flights

# The window of config_dict: train Jan-Feb 2013, hold out March. Data runs a little beyond it.
ROWS, DAYS = 4000, 100


def good_frame() -> pd.DataFrame:
    return make_flights(rows=ROWS, days=DAYS)


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[Path, pd.DataFrame], Path]  # writes the case into a folder; returns the config path
    needles: tuple[str, ...]  # what the error message must name (besides the file)
    error: str  # ConfigError | DataSourceError | DataValidationFailed
    flow: bool = False  # also run through the training flow
    # where the message names the input ({folder}: the case folder; None: the source file)
    names: str | None = None
    tags: tuple[str, ...] = field(default=())

    @property
    def validation_applies(self) -> bool:
        return self.error == "DataValidationFailed"


def write_config(folder: Path, source: dict[str, Any], **overrides: Any) -> Path:
    raw = config_dict()
    raw["data"]["source"] = source
    for dotted, value in overrides.items():
        target = raw
        *parents, leaf = dotted.split(".")
        for key in parents:
            target = target[key]
        target[leaf] = value
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _frame_case(
    change: Callable[[pd.DataFrame], pd.DataFrame], kind: str = "parquet"
) -> Callable[[Path, pd.DataFrame], Path]:
    """A case that is a changed copy of the good frame, as Parquet (keeps dtypes) or CSV."""

    def build(folder: Path, good: pd.DataFrame) -> Path:
        frame = change(good.copy())
        path = folder / f"data.{kind}"
        if kind == "parquet":
            frame.to_parquet(path, index=False)
        else:
            frame.to_csv(path, index=False)
        return write_config(folder, {"kind": kind, "path": str(path)})

    return build


def _bytes_case(make: Callable[[pd.DataFrame], bytes], kind: str = "csv") -> Callable[[Path, pd.DataFrame], Path]:
    def build(folder: Path, good: pd.DataFrame) -> Path:
        path = folder / f"data.{kind}"
        path.write_bytes(make(good))
        return write_config(folder, {"kind": kind, "path": str(path)})

    return build


def _csv(frame: pd.DataFrame, **options: Any) -> bytes:
    return frame.to_csv(index=False, **options).encode()


def _every(n: int, frame: pd.DataFrame) -> np.ndarray:
    return (np.arange(len(frame)) % n) == 0


def _truncated(good: pd.DataFrame) -> bytes:
    data = _csv(good)
    return data[: len(data) - 30]  # cut inside the last row, as an interrupted copy leaves it


def _corrupt_parquet(good: pd.DataFrame) -> bytes:
    import io

    buffer = io.BytesIO()
    good.to_parquet(buffer, index=False)
    data = buffer.getvalue()
    return data[: len(data) // 2]  # the footer (schema, row groups) is gone


def _non_utf8(good: pd.DataFrame) -> bytes:
    frame = good.copy()
    frame.loc[10, "carrier"] = "Aérolíneas"
    return frame.to_csv(index=False).encode("latin-1")


def _config_case(change: Callable[[dict[str, Any], Path], None]) -> Callable[[Path, pd.DataFrame], Path]:
    def build(folder: Path, good: pd.DataFrame) -> Path:
        data = folder / "data.parquet"
        good.to_parquet(data, index=False)
        raw = config_dict(str(data))
        change(raw, folder)
        path = folder / "config.yaml"
        path.write_text(yaml.safe_dump(raw))
        return path

    return build


def _set(dotted: str, value: Any) -> Callable[[dict[str, Any], Path], None]:
    def change(raw: dict[str, Any], folder: Path) -> None:
        target = raw
        *parents, leaf = dotted.split(".")
        for key in parents:
            target = target[key]
        target[leaf] = value

    return change


def _unreachable_sql(folder: Path, good: pd.DataFrame) -> Path:
    # a closed port on localhost: the driver's connection is refused at once
    url = "postgresql+psycopg://perennial:hunter2-secret@127.0.0.1:9/flights"
    return write_config(folder, {"kind": "sql", "url": url, "query": "select * from flights"})


def _missing_config(folder: Path, good: pd.DataFrame) -> Path:
    return folder / "no-such-config.yaml"


CASES: tuple[Case, ...] = (
    Case(
        "missing-column", _frame_case(lambda f: f.drop(columns=["temp"])), ("'temp'", "missing"), "DataValidationFailed"
    ),
    Case(
        "renamed-column",
        _frame_case(lambda f: f.rename(columns={"carrier": "airline"})),
        ("'carrier'", "missing", "'airline'"),
        "DataValidationFailed",
    ),
    Case(
        "type-flip",
        _frame_case(lambda f: f.assign(distance=f["distance"].map(lambda v: f"{v:.0f} mi")), "csv"),
        ("'distance'", "type numeric", "mi'"),
        "DataValidationFailed",
    ),
    Case(
        "all-null-column",
        _frame_case(lambda f: f.assign(temp=np.nan)),
        ("'temp'", "null share", "100.0% null"),
        "DataValidationFailed",
    ),
    Case(
        "out-of-range",
        _frame_case(lambda f: f.assign(temp=np.where(_every(20, f), 451.0, f["temp"]))),
        ("'temp'", "values in range [-40, 130]", "451.0"),
        "DataValidationFailed",
    ),
    Case(
        # a new carrier on a tenth of the rows only warns (the data as it now is); a feed that
        # renames every code is a fault
        "unseen-category",
        _frame_case(lambda f: f.assign(carrier=f["carrier"].str.lower())),
        ("'carrier'", "mostly known categories", "not among the categories the model knows"),
        "DataValidationFailed",
        flow=True,
    ),
    Case(
        "duplicate-ids",
        _frame_case(lambda f: f.assign(flight_id=np.where(_every(25, f), "f-dup", f["flight_id"]))),
        ("'flight_id'", "unique", "'f-dup'"),
        "DataValidationFailed",
        flow=True,
    ),
    Case(
        "missing-labels",
        _frame_case(lambda f: f.assign(delayed=f["delayed"].astype("Int64").mask(_every(9, f)))),
        ("'delayed'", "not null"),
        "DataValidationFailed",
        flow=True,
    ),
    Case(
        "future-timestamps",
        _frame_case(
            lambda f: f.assign(time_hour=f["time_hour"].mask(_every(400, f), pd.Timestamp("2099-06-01", tz="UTC")))
        ),
        ("'time_hour'", "in the future", "2099-06-01", "no events after now"),
        "DataSourceError",
        flow=True,
    ),
    Case(
        "unparseable-timestamps",
        _frame_case(
            lambda f: f.assign(time_hour=f["time_hour"].astype(str).mask(_every(50, f), "31/02/2013 25h")), "csv"
        ),
        ("'time_hour'", "not timestamps", "31/02/2013 25h"),
        "DataSourceError",
    ),
    Case("empty-file", _bytes_case(lambda g: b""), ("file is empty",), "DataSourceError"),
    Case("header-only", _bytes_case(lambda g: _csv(g.head(0))), ("no rows",), "DataSourceError"),
    Case(
        "truncated-csv", _bytes_case(_truncated), ("truncated", "ends mid-row", "fields"), "DataSourceError", flow=True
    ),
    Case(
        "corrupt-parquet",
        _bytes_case(_corrupt_parquet, "parquet"),
        ("cannot be read as parquet", "magic bytes"),
        "DataSourceError",
        flow=True,
    ),
    Case(
        "wrong-delimiter",
        _bytes_case(lambda g: _csv(g, sep=";")),
        ("delimited by ';'", "comma-separated"),
        "DataSourceError",
    ),
    Case("non-utf8-bytes", _bytes_case(_non_utf8), ("not UTF-8", "line 12", "b'\\xe9'"), "DataSourceError"),
    Case(
        "config-unknown-key",
        _config_case(_set("training.seeds", 3)),
        ("unknown key `training.seeds`", "did you mean `seed`?"),
        "ConfigError",
        flow=True,
        names="config.yaml",
    ),
    Case(
        "config-wrong-type",
        _config_case(_set("evaluation.bootstrap.resamples", "many")),
        ("evaluation.bootstrap.resamples", "valid integer"),
        "ConfigError",
        names="config.yaml",
    ),
    Case(
        "config-data-path-missing",
        _config_case(_set("data.source.path", "/nonexistent/flights.parquet")),
        ("/nonexistent/flights.parquet", "does not exist"),
        "DataSourceError",
        names="/nonexistent/flights.parquet",
    ),
    Case(
        "config-file-missing",
        _missing_config,
        ("config file does not exist",),
        "ConfigError",
        names="no-such-config.yaml",
    ),
    Case(
        "sql-cannot-connect",
        _unreachable_sql,
        ("cannot connect", "127.0.0.1:9/flights", "***"),
        "DataSourceError",
        flow=True,
        names="postgresql+psycopg://perennial:***@127.0.0.1:9/flights",
    ),
)

# Accepted on purpose: sources grow columns; the contract notes them and the model never reads them
EXTRA_COLUMN = _frame_case(lambda f: f.assign(gate_number=np.arange(len(f)) % 40))
