"""A monitoring window's inputs opened lazily, as Dask DataFrames: its prediction rows and the labels.

``open_predictions`` opens the Parquet prediction store's part files of a window
(``<path>/source=<s>/date=YYYY-MM-DD/part-*.parquet``) in the order ``ParquetPredictionStore.read``
concatenates them (source, day, file name), one Dask partition per file; nothing but the footers is read
until it is computed. Each row gets the ``source`` of its folder, as ``read`` adds it, and its
``POSITION`` in that order. A day re-scored while the window is read (its folder exchanged) makes the
read fail with a message saying so, never mix two scorings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from perennial.config import FileSource, Source
from perennial.core.monitoring_partitioned import with_positions
from perennial.errors import DataSourceError
from perennial.io import sources
from perennial.io.prediction_store import ROW_COLUMNS, ParquetPredictionStore

if TYPE_CHECKING:
    import dask.dataframe as dd


def window_files(
    store: ParquetPredictionStore, names: Sequence[str], start: dt.date, end: dt.date
) -> list[tuple[str, Path]]:
    """(source, part file) of every day in [start, end), in ``read``'s order."""
    found = []
    for name in names:
        folder = store.path / f"source={name}"
        for day in sorted(folder.glob("date=*")) if folder.is_dir() else []:
            if start <= dt.date.fromisoformat(day.name.removeprefix("date=")) < end:
                found += [(name, file) for file in sorted(day.glob("part-*.parquet"))]
    return found


def open_predictions(
    store: ParquetPredictionStore, names: Sequence[str], start: dt.date, end: dt.date
) -> dd.DataFrame | None:
    """The window's prediction rows of ``names`` (sources) as a lazy frame; None when no file holds any."""
    import dask
    import dask.dataframe as dd

    files = window_files(store, names, start, end)
    if not files:
        return None
    # the window's one schema: every file's columns, types promoted as read's concatenation promotes them
    schema = pa.unify_schemas([pq.read_schema(file) for _, file in files], promote_options="permissive")
    parts = [(number, name, file) for number, (name, file) in enumerate(files)]
    meta = _read_part((0, names[0], None), schema)
    # text stays object dtype, as read gives it (Dask would make it Arrow strings)
    with dask.config.set({"dataframe.convert-string": False}):
        lazy: dd.DataFrame = dd.from_map(_read_part, parts, schema=schema, meta=meta, enforce_metadata=False)  # type: ignore[no-untyped-call]
    return lazy


def _read_part(part: tuple[int, str, Path | None], schema: pa.Schema, columns: list[str] | None = None) -> pd.DataFrame:
    """One part file in the window's schema, only ``columns`` of it when Dask asks for fewer (it passes
    ``columns`` when a step selects some: Parquet then reads no others)."""
    number, name, file = part
    stored = schema.names if columns is None else [c for c in columns if c in schema.names]
    try:
        table = schema.empty_table() if file is None else _read_file(file, stored)
    except FileNotFoundError:
        raise DataSourceError(
            f"{file}: its day was re-scored while the window was read (the store replaced it): monitor the window again"
        ) from None
    # every file in the window's one schema, as read's permissive concatenation makes it
    empty = pa.schema([schema.field(c) for c in stored]).empty_table()
    frame = pa.concat_tables([empty, table], promote_options="permissive").to_pandas()
    frame = with_positions(frame.assign(source=name), number)
    if columns is not None:
        return frame.loc[:, columns]
    first = [c for c in ROW_COLUMNS if c in frame.columns]
    return frame.loc[:, first + [c for c in frame.columns if c not in first]]


def _read_file(file: Path, columns: list[str]) -> pa.Table:
    handle = pq.ParquetFile(file)
    return handle.read(columns=[c for c in columns if c in handle.schema_arrow.names])


def open_labels(source: Source, root: Path | None = None) -> dd.DataFrame:
    """The label source as a lazy frame: a Parquet or CSV source opened lazily, another one (SQL, JSON
    lines) read as the in-memory path reads it, then held as one partition."""
    import dask
    import dask.dataframe as dd

    if isinstance(source, FileSource) and source.kind != "jsonl":
        return sources.open_lazy(source, root)
    with dask.config.set({"dataframe.convert-string": False}):
        frame: dd.DataFrame = dd.from_pandas(sources.read_source(source, root), npartitions=1)  # type: ignore[no-untyped-call]
    return frame


def positions_of(frame: pd.DataFrame, column: str, partition_info: dict[str, Any] | None = None) -> pd.DataFrame:
    """``with_positions`` for ``map_partitions`` (Dask passes each partition's number in ``partition_info``)."""
    return with_positions(frame, partition_info["number"] if partition_info else 0, column)
