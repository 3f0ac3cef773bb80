"""The prediction log in Parquet: ``<path>/source=<s>/date=YYYY-MM-DD/part-*.parquet``.

Readable as a plain hive dataset (``source`` lives in the path, not in the files). A replaced
partition is written in a hidden folder beside it and exchanged in one ``renameat2(RENAME_EXCHANGE)``
call, under a per-partition ``flock``: readers never see half a partition, writers never interleave.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from perennial.io.prediction_rows import (
    SOURCES,
    check_source,
    day_indices,
    empty_rows,
    ordered_columns,
    prepare_rows,
    rows_of_day,
)

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
        return self.path / f"source={check_source(source)}" / f"date={day.isoformat()}"

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
        rows = rows_of_day(frame, check_source(source), date)
        self._replace(source, date, pa.Table.from_pandas(rows, preserve_index=False) if len(rows) else None)

    def replace_days(self, source: str, frame: pd.DataFrame) -> list[dt.date]:
        check_source(source)
        rows = prepare_rows(frame)
        table = pa.Table.from_pandas(rows, preserve_index=False)  # converted once, sliced per day
        days = day_indices(rows)
        # each day its own partition, file and lock; Arrow writes without the GIL, so the days go
        # on the cores at once (a million rows over 183 days: 1.2 s of writing one at a time, 0.7 s so)
        with ThreadPoolExecutor(max_workers=min(len(days), os.cpu_count() or 1) or 1) as pool:
            list(pool.map(lambda day: self._replace(source, day, table.take(pa.array(days[day]))), days))
        return list(days)

    def stage(self, source: str) -> DayStaging:
        """A hidden folder to write a batch into a part at a time (``DayStaging.write``, e.g. from Dask
        workers sharing this file system), then ``install``: each of its days replaces the store's."""
        folder = self.path / f"source={check_source(source)}" / f".staging-{uuid.uuid4().hex[:12]}"
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
        sources = [check_source(source)] if source else list(SOURCES)
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
            return empty_rows()
        frame = pa.concat_tables(tables, promote_options="permissive").to_pandas()
        return ordered_columns(frame)
