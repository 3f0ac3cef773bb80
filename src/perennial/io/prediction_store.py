"""The prediction log: every score, batch or served, in one store that monitoring joins on id.

Rows are partitioned by *source* (``batch``, ``service``, ``shadow``) and by the UTC date of
their event time, so a batch re-run replaces only its own partitions and never the service's
logs. Two back ends share one interface: Parquet files (``prediction_store_parquet``) and a SQL
table (``prediction_store_sql``), both keeping the rows of ``prediction_rows``. Callers import the
store's public names from here.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Protocol

import pandas as pd

from perennial.config import Config, ParquetStore, expand_env
from perennial.core.names import ROW_COLUMNS
from perennial.io.prediction_store_parquet import ParquetPredictionStore
from perennial.io.prediction_store_sql import SqlPredictionStore

__all__ = ["ROW_COLUMNS", "ParquetPredictionStore", "PredictionStore", "SqlPredictionStore", "open_store"]


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
