"""Reading the configured data source: CSV, Parquet, or a SQL query through SQLAlchemy.

Every failure becomes a DataSourceError that names the file (or the database, password
hidden) and what went wrong, never a bare library traceback.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from perennial.config import FileSource, Source, SqlSource
from perennial.errors import DataSourceError


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


def _read_file(source: FileSource, path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataSourceError(f"{path}: file does not exist")
    if path.stat().st_size == 0:
        raise DataSourceError(f"{path}: file is empty")
    try:
        if source.kind == "parquet":
            return pd.read_parquet(path)
        frame = pd.read_csv(path, encoding="utf-8", on_bad_lines="error", low_memory=False)
    except UnicodeDecodeError:
        raise DataSourceError(f"{path}: not UTF-8 text ({_first_bad_byte(path)})") from None
    except pd.errors.EmptyDataError:
        raise DataSourceError(f"{path}: file holds no data") from None
    except pd.errors.ParserError as exc:
        raise DataSourceError(f"{path}: malformed CSV: {exc}") from None
    except (OSError, ValueError) as exc:  # pyarrow's errors derive from these
        raise DataSourceError(f"{path}: cannot be read as {source.kind}: {exc}") from None
    _check_delimiter(frame, path)
    _check_not_truncated(frame, path)
    return frame


_OTHER_DELIMITERS = {";": "';'", "\t": "tabs", "|": "'|'"}


def _check_delimiter(frame: pd.DataFrame, path: Path) -> None:
    """One column whose name holds another delimiter: the file is not comma-separated."""
    if len(frame.columns) != 1:
        return
    header = str(frame.columns[0])
    for delimiter, name in _OTHER_DELIMITERS.items():
        if header.count(delimiter) >= 1:
            raise DataSourceError(
                f"{path}: read as one column '{header[:60]}': the file looks delimited by {name}, "
                "but CSV sources must be comma-separated"
            )


def _check_not_truncated(frame: pd.DataFrame, path: Path) -> None:
    """A last line cut short (no final newline, fewer fields than the header): a partial copy.

    pandas fills the missing fields of a short row with nulls, which would pass as a few
    missing values; a file that ends mid-row was never completely written.
    """
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - 65536))
        tail = handle.read()
    if tail.endswith((b"\n", b"\r")):
        return  # ends on a row boundary: nothing to tell from the bytes
    last = tail.rsplit(b"\n", 1)[-1].decode("utf-8", errors="replace")
    fields = next(csv.reader([last]), [])
    if len(fields) < len(frame.columns):
        lines = len(frame) + 1
        raise DataSourceError(
            f"{path}: truncated: the last line ({lines:,}) ends mid-row with {len(fields)} of "
            f"{len(frame.columns)} fields and no final newline; the file looks partially written"
        )


def _first_bad_byte(path: Path) -> str:
    """Where the first non-UTF-8 byte is (pandas reports offsets within its read chunk)."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return f"byte {exc.start:,} on line {line:,} is {data[exc.start:exc.start + 1]!r}: {exc.reason}; save it as UTF-8"
    return "undecodable bytes"


def _read_sql(source: SqlSource) -> pd.DataFrame:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError, SQLAlchemyError

    name = describe_source(source)
    try:
        engine = create_engine(source.url)
    except Exception as exc:
        raise DataSourceError(f"{name}: not a usable database URL: {type(exc).__name__}") from None
    try:
        with engine.connect() as connection:
            return pd.read_sql(text(source.query), connection)
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
        frame = _read_sql(source)
    else:
        frame = _read_file(source, resolve_path(source, root))
    if frame.empty:
        raise DataSourceError(f"{describe_source(source, root)}: no rows (header only or empty result)")
    return frame
