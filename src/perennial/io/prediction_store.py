"""The prediction log: every score, batch or served, in one store that monitoring joins on id.

Rows are partitioned by *source* (``batch``, ``service``, ``shadow``) and by the UTC date of
their event time, so a batch re-run replaces only its own partitions and never the service's
logs. Two back ends share one interface:

* Parquet: ``<path>/source=<s>/date=YYYY-MM-DD/part-*.parquet`` (readable as a plain hive
  dataset; ``source`` lives in the path, not in the files). A replaced partition is written in
  a hidden folder beside it and exchanged in one ``renameat2(RENAME_EXCHANGE)`` call, under a
  per-partition ``flock``: readers never see half a partition, writers never interleave.
* SQL through SQLAlchemy: one table; a replace deletes that source and day, then inserts, in
  one transaction.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import fcntl
import os
import re
import shutil
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pandas.api.extensions import ExtensionDtype
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    create_engine,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection

from perennial.config import Config, ParquetStore, expand_env

ROW_COLUMNS = (
    "id",
    "event_time",
    "scored_at",
    "model_name",
    "model_version",
    "prediction",
    "predicted_label",
    "source",
)
SOURCES = ("batch", "service", "shadow")
_EPOCH = dt.date(1970, 1, 1)


class PredictionStore(Protocol):
    def write_partition(self, source: str, date: dt.date, frame: pd.DataFrame) -> None:
        """Replace the rows of ``source`` on ``date`` with ``frame`` (all its events on that day)."""

    def replace_days(self, source: str, frame: pd.DataFrame) -> list[dt.date]:
        """Replace the partition of every event date in ``frame`` with its rows; the dates, in order."""

    def append(self, source: str, frame: pd.DataFrame) -> int:
        """Add rows (never replacing any); returns how many were written."""

    def read(self, source: str | None = None, start: dt.date | None = None, end: dt.date | None = None) -> pd.DataFrame:
        """Rows with start <= event date < end (both optional), of one source or all."""

    def compact(self, source: str, date: dt.date, min_files: int = 32) -> int:
        """Merge many small appends of one partition; returns how many were merged (0: nothing to do)."""


DEFAULT_STORE_FOLDER = "${PERENNIAL_STATE_DIR:-.perennial}/predictions"


def open_store(config: Config, root: Path) -> PredictionStore:
    """The configured store, by default one of this model's own; a relative path is from the project root.

    A day is replaced whole when it is re-scored, so each registered model has its own folder (or
    table) unless the config names one.
    """
    spec, model = config.predictions, config.tracking.registered_model
    if isinstance(spec, ParquetStore):
        # the default is not from YAML, so ${PERENNIAL_STATE_DIR:-...} is still to expand
        path = Path(expand_env(spec.path or f"{DEFAULT_STORE_FOLDER}/{model}", "predictions.path"))
        return ParquetPredictionStore(path if path.is_absolute() else root / path)
    return SqlPredictionStore(spec.url, spec.table or "predictions_" + re.sub(r"[^A-Za-z0-9_]", "_", model))


# --- shared row handling ---------------------------------------------------------------------


def _check_source(source: str) -> str:
    if source not in SOURCES:
        raise ValueError(f"prediction source must be one of {SOURCES}, got '{source}'")
    return source


def prepare_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in the store's types: id as text, times in UTC; a missing column is an error."""
    missing = [c for c in ROW_COLUMNS if c != "source" and c not in frame.columns]
    if missing:
        raise ValueError(f"prediction rows lack the columns {missing}")
    out = frame.drop(columns=["source"], errors="ignore").reset_index(drop=True)
    out["id"] = out["id"].astype(str)
    out["model_version"] = out["model_version"].astype(str)
    for column in ("event_time", "scored_at"):
        out[column] = pd.to_datetime(out[column], utc=True)
    if out["event_time"].isna().any():
        raise ValueError("prediction rows need an event_time (it decides their partition)")
    return out


def day_indices(rows: pd.DataFrame) -> dict[dt.date, np.ndarray]:
    """Row positions of each UTC event date, dates in order (``rows`` as ``prepare_rows`` makes them).

    Grouped on whole days since the epoch: ``.dt.date`` would build a date object per row.
    """
    days = rows["event_time"].dt.tz_convert(None).to_numpy().astype("datetime64[D]").astype("int64")
    # pandas-stubs types the keys as Hashable and the values loosely: here int64 days to position arrays
    groups = cast("dict[np.int64, np.ndarray]", pd.Series(days).groupby(days).indices)
    return {_EPOCH + dt.timedelta(days=int(d)): groups[d] for d in sorted(groups)}


def _rows_of_day(frame: pd.DataFrame, source: str, day: dt.date) -> pd.DataFrame:
    rows = prepare_rows(frame)
    strays = [d.isoformat() for d in day_indices(rows) if d != day]
    if strays:
        raise ValueError(f"rows for partition {source}/{day} have events on other days: {strays[:3]}")
    return rows


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    first = [c for c in ROW_COLUMNS if c in frame.columns]
    return frame.loc[:, first + [c for c in frame.columns if c not in first]]


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in ROW_COLUMNS})


# --- Parquet ----------------------------------------------------------------------------------

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories in one atomic step (Linux renameat2); False where unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    result: int = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return result == 0


@dataclass(frozen=True, slots=True)
class DayStaging:
    """Part files of a batch by day, in a hidden folder of the store until installed (picklable: Dask
    workers write into it)."""

    folder: Path

    def write(self, frame: pd.DataFrame) -> int:
        """Add ``frame``'s rows as a part file in the folder of each of its event days; how many rows."""
        rows = prepare_rows(frame)
        if not len(rows):
            return 0
        table = pa.Table.from_pandas(rows, preserve_index=False)  # converted once, sliced per day
        for day, index in day_indices(rows).items():
            folder = self.folder / f"date={day.isoformat()}"
            folder.mkdir(exist_ok=True)
            ParquetPredictionStore._write_file(table.take(pa.array(index)), folder)
        return len(rows)

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def days(self) -> list[dt.date]:
        return sorted(dt.date.fromisoformat(p.name.removeprefix("date=")) for p in self.folder.glob("date=*"))


class ParquetPredictionStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _partition(self, source: str, day: dt.date) -> Path:
        return self.path / f"source={_check_source(source)}" / f"date={day.isoformat()}"

    @contextlib.contextmanager
    def _locked(self, source: str, day: dt.date, exclusive: bool = True) -> Iterator[Path]:
        """Hold the partition's lock file (hidden: dataset readers skip dot-files)."""
        partition = self._partition(source, day)
        partition.parent.mkdir(parents=True, exist_ok=True)
        with open(partition.parent / f".{partition.name}.lock", "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield partition
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    @staticmethod
    def _write_file(table: pa.Table, folder: Path) -> Path:
        # a hidden name until complete, then one rename: no reader sees a half-written file
        name = f"part-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:12]}.parquet"
        tmp = folder / f".{name}.tmp"
        pq.write_table(table, tmp)
        os.replace(tmp, folder / name)
        return folder / name

    def write_partition(self, source: str, date: dt.date, frame: pd.DataFrame) -> None:
        rows = _rows_of_day(frame, _check_source(source), date)
        self._replace(source, date, pa.Table.from_pandas(rows, preserve_index=False) if len(rows) else None)

    def replace_days(self, source: str, frame: pd.DataFrame) -> list[dt.date]:
        _check_source(source)
        rows = prepare_rows(frame)
        table = pa.Table.from_pandas(rows, preserve_index=False)  # converted once, sliced per day
        days = day_indices(rows)
        for day, index in days.items():
            self._replace(source, day, table.take(pa.array(index)))
        return list(days)

    def stage(self, source: str) -> DayStaging:
        """A hidden folder to write a batch into a part at a time (``DayStaging.write``, e.g. from Dask
        workers sharing this file system), then ``install``: each of its days replaces the store's."""
        folder = self.path / f"source={_check_source(source)}" / f".staging-{uuid.uuid4().hex[:12]}"
        folder.mkdir(parents=True)
        return DayStaging(folder)

    def install(self, source: str, staging: DayStaging) -> list[dt.date]:
        """Replace the partition of every day staged with the staged files (each day atomically); the
        days, in order. The staging folder is gone afterwards, installed or not."""
        try:
            days = staging.days()
            for day in days:
                self._install(source, day, staging.folder / f"date={day.isoformat()}")
        finally:
            staging.discard()
        return days

    def _replace(self, source: str, date: dt.date, table: pa.Table | None) -> None:
        final = self._partition(source, date)
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = final.parent / f".{final.name}.tmp-{uuid.uuid4().hex[:12]}"
        staging.mkdir()
        if table is not None:
            try:
                self._write_file(table, staging)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
        self._install(source, date, staging)

    def _install(self, source: str, date: dt.date, staging: Path) -> None:
        """Make the folder ``staging`` the partition of ``source`` on ``date`` (the old one is removed)."""
        final = self._partition(source, date)
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._locked(source, date):
                if not final.exists():
                    os.rename(staging, final)
                elif not _exchange(staging, final):
                    # no atomic exchange here: move aside then in (the partition is briefly absent)
                    aside = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:12]}"
                    os.rename(final, aside)
                    os.rename(staging, final)
                    staging = aside
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def append(self, source: str, frame: pd.DataFrame) -> int:
        rows = prepare_rows(frame)
        table = pa.Table.from_pandas(rows, preserve_index=False)  # converted once, sliced per day
        for day, index in day_indices(rows).items():
            with self._locked(source, day) as partition:
                partition.mkdir(exist_ok=True)
                self._write_file(table.take(pa.array(index)), partition)
        return len(rows)

    def compact(self, source: str, date: dt.date, min_files: int = 32, small_bytes: int = 8 << 20) -> int:
        """Merge a partition's small files into one once there are ``min_files`` of them.

        Appends make a file per flush; this keeps reads of a day cheap. The lock is held
        throughout, so readers see either the small files or the merged one, never both.
        """
        partition = self._partition(source, date)
        if len(list(partition.glob("part-*.parquet"))) < min_files:
            return 0
        with self._locked(source, date):
            small = sorted(f for f in partition.glob("part-*.parquet") if f.stat().st_size < small_bytes)
            if len(small) < min_files:
                return 0
            merged = pa.concat_tables([pq.read_table(f) for f in small], promote_options="permissive")
            self._write_file(merged, partition)
            for file in small:
                file.unlink()
        return len(small)

    def _partitions(self, source: str | None, start: dt.date | None, end: dt.date | None) -> list[tuple[str, dt.date]]:
        sources = [_check_source(source)] if source else list(SOURCES)
        found = []
        for name in sources:
            folder = self.path / f"source={name}"
            if not folder.is_dir():
                continue
            for entry in sorted(folder.glob("date=*")):
                day = dt.date.fromisoformat(entry.name.removeprefix("date="))
                if (start is None or day >= start) and (end is None or day < end):
                    found.append((name, day))
        return found

    def read(self, source: str | None = None, start: dt.date | None = None, end: dt.date | None = None) -> pd.DataFrame:
        tables = []
        for name, day in self._partitions(source, start, end):
            with self._locked(name, day, exclusive=False) as partition:
                for file in sorted(partition.glob("part-*.parquet")):
                    table = pq.read_table(file)
                    tables.append(table.append_column("source", pa.array([name] * table.num_rows, pa.string())))
        if not tables:
            return _empty()
        frame = pa.concat_tables(tables, promote_options="permissive").to_pandas()
        return _ordered(frame)


# --- SQL --------------------------------------------------------------------------------------


def _sql_type(dtype: np.dtype[Any] | ExtensionDtype) -> BigInteger | Boolean | DateTime | Float[float] | Text:
    if pd.api.types.is_bool_dtype(dtype):
        return Boolean()
    if pd.api.types.is_integer_dtype(dtype):
        return BigInteger()
    if pd.api.types.is_float_dtype(dtype):
        return Float()
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return DateTime()
    return Text()


def _naive_utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True).dt.tz_localize(None)


class SqlPredictionStore:
    """One table; times are stored as naive UTC (portable across SQLite and Postgres)."""

    def __init__(self, url: str, table: str = "predictions") -> None:
        self._engine = create_engine(url)
        self._name = table

    def _ensure_table(self, frame: pd.DataFrame) -> Table:
        """The table, created on first write with the frame's feature columns; new features are added."""
        inspector = inspect(self._engine)
        if not inspector.has_table(self._name):
            fixed: list[Column[Any]] = [
                Column("id", String(200), nullable=False),
                Column("event_time", DateTime(), nullable=False),
                Column("scored_at", DateTime(), nullable=False),
                Column("model_name", String(200)),
                Column("model_version", String(40)),
                Column("prediction", Float()),
                Column("predicted_label", Integer()),
                Column("source", String(20), nullable=False),
            ]
            extra = [Column(c, _sql_type(frame[c].dtype)) for c in frame.columns if c not in ROW_COLUMNS]
            table = Table(self._name, MetaData(), *fixed, *extra)
            Index(f"ix_{self._name}_source_time", table.c.source, table.c.event_time)
            table.create(self._engine, checkfirst=True)
        else:
            known = {c["name"] for c in inspector.get_columns(self._name)}
            # names from config and from the data go through the dialect's quoting, never into SQL as they are
            quote = self._engine.dialect.identifier_preparer.quote
            with self._engine.begin() as conn:
                for c in frame.columns:
                    if c not in known and c not in ROW_COLUMNS:  # a new feature: add it, nullable
                        type_ = _sql_type(frame[c].dtype).compile(dialect=self._engine.dialect)
                        conn.execute(text(f"ALTER TABLE {quote(self._name)} ADD COLUMN {quote(str(c))} {type_}"))
        return Table(self._name, MetaData(), autoload_with=self._engine)

    def _records(self, rows: pd.DataFrame, source: str) -> list[dict[str, Any]]:
        out = rows.copy()
        out["event_time"], out["scored_at"] = _naive_utc(out["event_time"]), _naive_utc(out["scored_at"])
        out["source"] = source
        # pandas-stubs' `other` admits no None, which pandas documents (missing values become None)
        out = out.astype(object).where(out.notna(), None)  # type: ignore[call-overload]
        records: list[dict[str, Any]] = out.to_dict("records")
        return records

    def _insert(self, conn: Connection, table: Table, rows: pd.DataFrame, source: str) -> None:
        if not rows.empty:
            conn.execute(table.insert(), self._records(rows, source))

    def write_partition(self, source: str, date: dt.date, frame: pd.DataFrame) -> None:
        rows = _rows_of_day(frame, _check_source(source), date)
        table = self._ensure_table(rows)
        day = dt.datetime.combine(date, dt.time())
        with self._engine.begin() as conn:
            if conn.dialect.name == "postgresql":  # serialise writers of one partition
                key = zlib.crc32(f"{self._name}/{source}/{date}".encode())
                conn.execute(select(func.pg_advisory_xact_lock(key)))
            conn.execute(
                table.delete().where(
                    and_(
                        table.c.source == source,
                        table.c.event_time >= day,
                        table.c.event_time < day + dt.timedelta(days=1),
                    )
                )
            )
            self._insert(conn, table, rows, source)

    def replace_days(self, source: str, frame: pd.DataFrame) -> list[dt.date]:
        rows = prepare_rows(frame)
        days = day_indices(rows)
        for day, index in days.items():
            self.write_partition(source, day, rows.take(index))
        return list(days)

    def append(self, source: str, frame: pd.DataFrame) -> int:
        rows, source = prepare_rows(frame), _check_source(source)
        table = self._ensure_table(rows)
        with self._engine.begin() as conn:
            self._insert(conn, table, rows, source)
        return len(rows)

    def read(self, source: str | None = None, start: dt.date | None = None, end: dt.date | None = None) -> pd.DataFrame:
        if not inspect(self._engine).has_table(self._name):
            return _empty()
        table = Table(self._name, MetaData(), autoload_with=self._engine)
        query = select(table)
        if source is not None:
            query = query.where(table.c.source == _check_source(source))
        if start is not None:
            query = query.where(table.c.event_time >= dt.datetime.combine(start, dt.time()))
        if end is not None:
            query = query.where(table.c.event_time < dt.datetime.combine(end, dt.time()))
        with self._engine.connect() as conn:
            frame = pd.read_sql(query.order_by(table.c.event_time), conn)
        for column in ("event_time", "scored_at"):
            frame[column] = pd.to_datetime(frame[column]).dt.tz_localize("UTC")
        return _ordered(frame)

    def compact(self, source: str, date: dt.date, min_files: int = 32) -> int:
        return 0  # rows, not files: nothing to merge

    def close(self) -> None:
        self._engine.dispose()
