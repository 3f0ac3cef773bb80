"""The prediction log in SQL through SQLAlchemy: one table; a replace deletes that source and day, then
inserts, in one transaction."""

from __future__ import annotations

import datetime as dt
import zlib
from typing import Any

import numpy as np
import pandas as pd
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

from perennial.core.names import ROW_COLUMNS
from perennial.io.prediction_rows import (
    check_source,
    day_indices,
    empty_rows,
    ordered_columns,
    prepare_rows,
    rows_of_day,
)


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
        rows = rows_of_day(frame, check_source(source), date)
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
        rows, source = prepare_rows(frame), check_source(source)
        table = self._ensure_table(rows)
        with self._engine.begin() as conn:
            self._insert(conn, table, rows, source)
        return len(rows)

    def read(self, source: str | None = None, start: dt.date | None = None, end: dt.date | None = None) -> pd.DataFrame:
        if not inspect(self._engine).has_table(self._name):
            return empty_rows()
        table = Table(self._name, MetaData(), autoload_with=self._engine)
        query = select(table)
        if source is not None:
            query = query.where(table.c.source == check_source(source))
        if start is not None:
            query = query.where(table.c.event_time >= dt.datetime.combine(start, dt.time()))
        if end is not None:
            query = query.where(table.c.event_time < dt.datetime.combine(end, dt.time()))
        with self._engine.connect() as conn:
            frame = pd.read_sql(query.order_by(table.c.event_time), conn)
        for column in ("event_time", "scored_at"):
            frame[column] = pd.to_datetime(frame[column]).dt.tz_localize("UTC")
        return ordered_columns(frame)

    def compact(self, source: str, date: dt.date, min_files: int = 32) -> int:
        return 0  # rows, not files: nothing to merge

    def close(self) -> None:
        self._engine.dispose()
