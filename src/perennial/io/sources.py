"""Reading the configured data source: CSV (plain or compressed), Parquet (file or partitioned
directory), JSON lines, or a SQL query through SQLAlchemy; Parquet and CSV globs also lazily,
as a Dask DataFrame (``open_lazy``).

Every failure becomes a DataSourceError that names the file (or the database, password
hidden) and what went wrong, never a bare library traceback.
"""

from __future__ import annotations

import glob
import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from perennial.config import FileSource, Source, SqlSource
from perennial.errors import DataSourceError
from perennial.io.csv_checks import (
    check_delimiter,
    check_no_footer,
    check_not_truncated,
    check_unique_header,
    compressed,
    delimiter_hint,
    encoding_name,
    first_bad_byte,
    text_sample,
)

if TYPE_CHECKING:  # dask is imported on first lazy read: the pandas path never pays for it
    import dask.dataframe as dd

# A number written with 16 or 17 significant digits (Python's repr, a database export) is read as the
# float it names: pandas' default parser was one unit off on 13% of them, so a row read from a CSV hashed
# apart from the same row served as JSON (no id column: its key is its content) and never met its label.
# The exact parser is 4-5x slower, so only files whose first 64 KB hold such a number take it.
EXACT_DIGITS = 16


def float_precision(path: Path, source: FileSource) -> Literal["round_trip"] | None:
    """read_csv's ``float_precision`` for this CSV (or the first file of a glob): exact when numbers of
    ``EXACT_DIGITS`` or more digits are written in it, pandas' faster default otherwise."""
    first = path if path.exists() else next(iter(sorted(glob.glob(str(path)))), None)
    sample = text_sample(Path(first), source.encoding) if first is not None else None
    numbers = re.findall(rf"\d+(?:{re.escape(source.decimal)}\d+)?", sample or "")
    return "round_trip" if any(sum(c.isdigit() for c in n) >= EXACT_DIGITS for n in numbers) else None


def describe_source(source: Source, root: Path | None = None) -> str:
    """A name for messages and lineage; database passwords are never shown."""
    if isinstance(source, SqlSource):
        from sqlalchemy.engine import make_url

        try:
            return make_url(source.url).render_as_string(hide_password=True)
        except Exception:  # an unparseable URL still gets a (redacted) name
            return "sql:<unparseable url>"
    return str(resolve_path(source, root))


def resolve_path(source: FileSource, root: Path | None = None) -> Path:
    path = Path(source.path).expanduser()
    return path if path.is_absolute() or root is None else root / path


def _parse(source: FileSource, path: Path, columns: list[str] | None = None, rows: int | None = None) -> pd.DataFrame:
    """The file as a frame (only ``columns``/``rows`` when given); library errors pass through."""
    if source.kind == "parquet":
        if rows is not None:
            return _plain_types(_parquet_head(path, columns, rows))
        if columns is None:
            return _plain_types(pd.read_parquet(path))
        # A few columns (the preflight's target) without Arrow's thread pools: with them, a short command
        # that exits right after (`perennial check`) was sometimes aborted at exit by Arrow ("terminate
        # called without an active exception"), on a loaded machine; not once without them
        frame = pd.read_parquet(path, columns=columns, use_threads=False, pre_buffer=False)
        return _plain_types(frame)
    if source.kind == "jsonl":
        # precise_float: the default parser read 1.7 as 1.7000000000000002, and the row's key changed with it
        frame = pd.read_json(path, lines=True, encoding=source.encoding, nrows=rows, dtype=False, precise_float=True)
        return frame.loc[:, columns] if columns is not None else frame
    table: pd.DataFrame = pd.read_csv(
        path,
        sep=source.delimiter,
        encoding=source.encoding,
        decimal=source.decimal,
        thousands=source.thousands,
        na_values=list(source.missing_marks) or None,
        skipinitialspace=source.skip_initial_space,
        on_bad_lines="error",
        float_precision=float_precision(path, source),
        low_memory=False,
        usecols=columns,
        nrows=rows,
        **_dayfirst(source, columns),
        **_as_text(source, columns),
    )
    return table


def _dayfirst(source: FileSource, columns: list[str] | None) -> dict[str, Any]:
    """read_csv's arguments that read the day-first date columns (those among ``columns``) as dates."""
    dated = [c for c in source.dayfirst_columns if columns is None or c in columns]
    return {"parse_dates": dated, "dayfirst": True} if dated else {}


def _as_text(source: FileSource, columns: list[str] | None) -> dict[str, Any]:
    """read_csv's argument that reads the text columns (those among ``columns``) as written."""
    text = {c: str for c in source.text_columns if columns is None or c in columns}
    return {"dtype": text} if text else {}


def _parquet_head(path: Path, columns: list[str] | None, rows: int) -> pd.DataFrame:
    """The first ``rows`` rows, read as ``pd.read_parquet`` reads the whole (a file alone, a directory with
    Hive partitions as dictionaries), without decoding the rest: a 300,000-row file's sample in 0.1 s, not 0.5 s."""
    import pyarrow.dataset as ds

    partitioning = ds.HivePartitioning.discover(infer_dictionary=True) if path.is_dir() else None
    table = ds.dataset(path, format="parquet", partitioning=partitioning).head(rows, columns=columns)
    frame: pd.DataFrame = table.to_pandas()
    return frame


def _plain_types(frame: pd.DataFrame) -> pd.DataFrame:
    """Parquet's pandas types as plain numpy ones, decided by the type alone (a Dask partition and its
    empty meta agree): categoricals (Hive partitions too) as their categories' type; nullable numbers
    (Int64, Float64) as float64 with NaN; nullable booleans and strings as objects with NaN. scikit-learn
    refuses pandas.NA, and a served record arrives as plain types: the model sees the same either way.

    Decimals (Parquet's decimal128, a database's NUMERIC) arrive as an object column of ``Decimal``: the
    one case told by the values. As text they would be profiled as an id and MLflow cannot type them."""
    for name in frame.columns:
        dtype = frame[name].dtype
        if pd.api.types.is_object_dtype(dtype) and pd.api.types.infer_dtype(frame[name], skipna=True) == "decimal":
            frame[name] = frame[name].astype("float64")
        elif isinstance(dtype, pd.CategoricalDtype):
            frame[name] = frame[name].astype(dtype.categories.dtype)
        elif isinstance(dtype, pd.BooleanDtype | pd.StringDtype):
            frame[name] = frame[name].astype(object).where(frame[name].notna(), np.nan)
        elif isinstance(dtype, pd.api.extensions.ExtensionDtype) and pd.api.types.is_numeric_dtype(dtype):
            frame[name] = frame[name].astype("float64")
    return frame


def _read_file(
    source: FileSource, path: Path, columns: list[str] | None = None, rows: int | None = None
) -> pd.DataFrame:
    if not path.exists():
        raise DataSourceError(f"{path}: file does not exist")
    if path.is_dir() and source.kind != "parquet":
        raise DataSourceError(f"{path}: is a directory; only a partitioned Parquet source (kind: parquet) may be one")
    if path.is_file() and path.stat().st_size == 0:
        raise DataSourceError(f"{path}: file is empty")
    try:
        frame = _parse(source, path, columns, rows)
    except UnicodeDecodeError:
        raise DataSourceError(
            f"{path}: not {encoding_name(source.encoding)} text ({first_bad_byte(path, source.encoding)})"
        ) from None
    except pd.errors.EmptyDataError:
        raise DataSourceError(f"{path}: file holds no data") from None
    except pd.errors.ParserError as exc:
        raise DataSourceError(f"{path}: malformed {source.kind.upper()}: {exc}{delimiter_hint(path, source)}") from None
    except (EOFError, zipfile.BadZipFile) as exc:
        raise DataSourceError(
            f"{path}: truncated: the compressed stream ends early ({exc}); the file looks partially written"
        ) from None
    except (OSError, ValueError) as exc:  # pyarrow's errors derive from these
        raise DataSourceError(f"{path}: cannot be read as {source.kind}: {exc}") from None
    if source.kind == "csv":
        check_delimiter(frame, path, source.delimiter)
        if columns is None:
            check_unique_header(frame, path, source)
        if rows is None and columns is None and path.is_file() and not compressed(path):
            check_not_truncated(frame, path, source)
        if rows is None and columns is None:
            check_no_footer(frame, path)
    return frame


def sql_columns(source: SqlSource, columns: list[str] | None = None) -> pd.DataFrame:
    """The query's header (no rows), or only ``columns`` of every row: quick checks before a flow starts.

    The configured query runs as a subquery, so the database does the cutting; column names go
    through the dialect's quoting.
    """
    inner = source.query.strip().rstrip(";")
    if columns is None:
        return _read_sql(source, f"SELECT * FROM ({inner}) AS perennial_probe LIMIT 0")
    return _read_sql(source, inner, wanted=columns)


def _read_sql(source: SqlSource, query: str | None = None, wanted: list[str] | None = None) -> pd.DataFrame:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError, SQLAlchemyError

    name = describe_source(source)
    try:
        engine = create_engine(source.url)
    except Exception as exc:
        raise DataSourceError(f"{name}: not a usable database URL: {type(exc).__name__}") from None
    try:
        if wanted is not None:
            quote = engine.dialect.identifier_preparer.quote
            query = f"SELECT {', '.join(quote(c) for c in wanted)} FROM ({query}) AS perennial_probe"
        with engine.connect() as connection:
            return pd.read_sql(text(query or source.query), connection)
    except OperationalError as exc:
        # str(exc) can echo the URL; report only the driver's first line
        reason = str(getattr(exc, "orig", exc)).splitlines()[0]
        raise DataSourceError(f"{name}: cannot connect or query: {reason}", transient=True) from None
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).splitlines()[0]
        raise DataSourceError(f"{name}: query failed: {reason}") from None
    finally:
        engine.dispose()


def read_source(source: Source, root: Path | None = None) -> pd.DataFrame:
    """The whole source as a frame; an empty result is an error, not an empty model."""
    if isinstance(source, SqlSource):
        frame = _plain_types(_read_sql(source))  # a NUMERIC column comes as Decimal objects
    else:
        frame = _read_file(source, resolve_path(source, root))
    if frame.empty:
        raise DataSourceError(f"{describe_source(source, root)}: no rows (header only or empty result)")
    return frame


def read_sample(source: FileSource, root: Path | None = None, rows: int = 1000) -> pd.DataFrame:
    """The first ``rows`` rows (the header and a taste of the values) for checks that must be quick."""
    return _read_file(source, resolve_path(source, root), rows=rows)


def read_columns(source: FileSource, columns: list[str], root: Path | None = None) -> pd.DataFrame:
    """Only ``columns`` of every row (the target's values, before anything heavy starts)."""
    return _read_file(source, resolve_path(source, root), columns=columns)


# --- lazy (out-of-core) reading -----------------------------------------------------------------


def open_lazy(
    source: FileSource, root: Path | None = None, columns: list[str] | None = None, blocksize: str = "64MiB"
) -> dd.DataFrame:
    """A Parquet file, directory or glob, or a CSV file or glob, as a Dask DataFrame: nothing is read but
    the schema (Parquet footers, a CSV's first block); partitions are read when computed.

    The pandas path (``read_source``) stays the default; this one is for windows larger than memory.
    Hive partition columns get their plain type, as ``read_source`` gives them.
    """
    import dask

    path = resolve_path(source, root)
    if not any(ch in str(path) for ch in "*?[") and not path.exists():
        raise DataSourceError(f"{path}: file does not exist")
    if source.kind == "jsonl":
        raise DataSourceError(f"{path}: a JSON lines source is read in memory only (kind: parquet or csv to go lazy)")
    # text stays object dtype, as the pandas path reads it, so the same contract reports the same types
    # (Dask would otherwise convert it to Arrow strings: less memory, a different dtype in the report)
    with dask.config.set({"dataframe.convert-string": False}):
        return _open_lazy(source, path, columns, blocksize)


def _open_lazy(source: FileSource, path: Path, columns: list[str] | None, blocksize: str) -> dd.DataFrame:
    import dask.dataframe as dd

    pattern = str(path)
    try:
        if source.kind == "parquet":
            frame = dd.read_parquet(pattern, columns=columns)
            lazy: dd.DataFrame = frame.map_partitions(_plain_types, meta=_plain_types(frame._meta.copy()))
            return lazy
        lazy = dd.read_csv(
            pattern,
            sep=source.delimiter,
            encoding=source.encoding,
            decimal=source.decimal,
            thousands=source.thousands,
            na_values=list(source.missing_marks) or None,
            skipinitialspace=source.skip_initial_space,
            usecols=columns,
            **_dayfirst(source, columns),
            **_as_text(source, columns),
            blocksize=None if compressed(path) else blocksize,  # a compressed file cannot be split
            on_bad_lines="error",
            float_precision=float_precision(path, source),
        )
        return lazy
    except (OSError, ValueError, pd.errors.ParserError) as exc:  # pyarrow's errors derive from these
        raise DataSourceError(f"{path}: cannot be opened as {source.kind}: {str(exc).splitlines()[0]}") from None
