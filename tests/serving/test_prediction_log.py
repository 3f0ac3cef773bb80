"""The background prediction log: rows as batch scoring writes them, retries, bounded memory."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from perennial.io.prediction_store import ParquetPredictionStore
from perennial.serving.prediction_log import LogChunk, PredictionLog

FEATURES = ("temp", "carrier", "time_hour")


def chunk(ids: list[str], source: str = "service", hour: int | None = 9) -> LogChunk:
    times = [None if hour is None else dt.datetime(2013, 7, 1, hour, tzinfo=dt.UTC)] * len(ids)
    columns = {"temp": [1.5] * len(ids), "carrier": ["AA"] * len(ids), "time_hour": times}
    return LogChunk(source, "3", ids, np.full(len(ids), 0.7), columns, scored_at=dt.datetime(2013, 7, 2, tzinfo=dt.UTC))


class Flaky(ParquetPredictionStore):
    """A store that fails its first ``failures`` appends."""

    def __init__(self, path: Path, failures: int) -> None:
        super().__init__(path)
        self.failures = failures

    def append(self, source: str, frame: pd.DataFrame) -> int:
        if self.failures:
            self.failures -= 1
            raise OSError("disk unavailable")
        return super().append(source, frame)


def test_rows_carry_the_batch_columns_and_missing_event_times_fall_back_to_scoring_time(tmp_path: Path) -> None:
    log = PredictionLog(ParquetPredictionStore(tmp_path), "m", 0.5, "time_hour", FEATURES)
    frame = log.rows([chunk(["a", "b"]), chunk(["c"], hour=None)])
    assert list(frame.columns) == [
        "id",
        "event_time",
        "scored_at",
        "model_name",
        "model_version",
        "prediction",
        "predicted_label",
        "temp",
        "carrier",
    ]
    assert frame["event_time"].dt.hour.tolist() == [9, 9, 0] and frame["predicted_label"].tolist() == [1, 1, 1]


def test_a_failing_store_keeps_the_rows_for_the_next_flush(tmp_path: Path) -> None:
    # given a store whose first write fails
    store = Flaky(tmp_path, failures=1)
    log = PredictionLog(store, "m", 0.5, "time_hour", FEATURES)
    log.submit(chunk(["a", "b"]))
    # when flushed twice
    assert log.flush() == 0 and log.failures == 1
    assert log.flush() == 2
    # then the rows were written once, by the second flush
    assert sorted(store.read("service")["id"]) == ["a", "b"]


def test_memory_is_bounded_by_dropping_the_oldest_rows(tmp_path: Path) -> None:
    log = PredictionLog(ParquetPredictionStore(tmp_path), "m", 0.5, "time_hour", FEATURES, max_pending_rows=4)
    for i in range(5):
        log.submit(chunk([f"{i}a", f"{i}b"]))
    assert log.dropped == 6 and log.flush() == 4


def test_the_writer_thread_flushes_on_stop(tmp_path: Path) -> None:
    store = ParquetPredictionStore(tmp_path)
    log = PredictionLog(store, "m", 0.5, "time_hour", FEATURES, flush_seconds=60)
    log.start()
    log.submit(chunk(["a"], source="shadow"))
    log.stop()
    assert store.read("shadow")["id"].tolist() == ["a"] and log.written == 1
