"""The service's prediction log: every served (and shadow) score, appended off the request path.

The predict worker hands over column lists it already has (no frame is built on the request
path); a background thread turns them into store rows and appends them every
``flush_seconds`` (sooner past ``flush_rows``), then merges a partition's small files once it
has many (the store's ``compact``). The rows are those batch scoring writes (id, event time, model, score,
label, raw features), under source ``service`` or ``shadow``, so monitoring and delayed
labels join them on id. If the store fails the rows wait for the next flush; past
``max_pending_rows`` the oldest are dropped and counted, never blocking a request.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from perennial.core.predict import aligned_probabilities, class_union, predicted_labels, scalar_prediction
from perennial.core.scoring import class_columns, label_column
from perennial.core.task import Task
from perennial.io.prediction_store import PredictionStore

log = logging.getLogger("perennial.serving")


@dataclass(frozen=True, slots=True)
class LogChunk:
    source: str  # service | shadow
    model_version: str
    ids: list[str]
    scores: np.ndarray
    columns: dict[str, list[Any]]  # the request's columns for these rows
    classes: tuple[str, ...] = ()  # multiclass: ``scores`` holds one probability column per class
    scored_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    threshold: float | None = None  # binary: the version's decision threshold (default: the log's)


def _release_arrow_memory() -> None:
    # Arrow's allocator keeps freed pages for reuse; between flushes seconds apart that is only RSS
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except Exception:  # pragma: no cover - an allocator without it
        pass


class PredictionLog:
    def __init__(
        self,
        store: PredictionStore,
        model_name: str,
        threshold: float,
        time_column: str | None,
        feature_columns: Sequence[str],
        flush_seconds: float = 2.0,
        flush_rows: int = 50_000,
        max_pending_rows: int = 500_000,
        task: Task = "binary",
    ) -> None:
        self.store, self.model_name, self.threshold, self.task = store, model_name, threshold, task
        self.time_column = time_column
        self.feature_columns = [c for c in feature_columns if c != time_column]
        self.flush_seconds, self.flush_rows, self.max_pending_rows = flush_seconds, flush_rows, max_pending_rows
        self._pending: deque[LogChunk] = deque()
        self._pending_rows = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.written = self.dropped = self.failures = 0

    def submit(self, chunk: LogChunk) -> None:
        with self._lock:
            self._pending.append(chunk)
            self._pending_rows += len(chunk.ids)
            while self._pending_rows > self.max_pending_rows and len(self._pending) > 1:
                old = self._pending.popleft()
                self._pending_rows -= len(old.ids)
                self.dropped += len(old.ids)
            full = self._pending_rows >= self.flush_rows
        if full:
            self._wake.set()

    def _requeue(self, chunks: list[LogChunk]) -> None:
        # back in front, without waking the writer: a failing store is retried at the next flush
        with self._lock:
            self._pending.extendleft(reversed(chunks))
            self._pending_rows += sum(len(c.ids) for c in chunks)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="perennial-prediction-log", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Flush what is pending, then stop."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            self.flush()
        self.flush()

    def flush(self) -> int:
        with self._lock:
            chunks, self._pending, self._pending_rows = list(self._pending), deque(), 0
        if not chunks:
            return 0
        written = 0
        for source in sorted({c.source for c in chunks}):
            mine = [c for c in chunks if c.source == source]
            try:
                rows = self.rows(mine)
                written += self.store.append(source, rows)
            except Exception:
                self.failures += 1
                log.exception("writing %d %s predictions failed; they wait for the next flush", len(mine), source)
                self._requeue(mine)
                continue
            try:
                for day in sorted(set(rows["event_time"].dt.date)):
                    self.store.compact(source, day)
            except Exception:  # the rows are written; merging their files can wait
                log.exception("compacting %s predictions failed", source)
        self.written += written
        _release_arrow_memory()
        return written

    def rows(self, chunks: Sequence[LogChunk]) -> pd.DataFrame:
        """Store rows for chunks of one source (lists are joined first: one frame, not one per chunk)."""
        ids: list[str] = []
        times: list[Any] = []
        scored: list[dt.datetime] = []
        versions: list[str] = []
        features: dict[str, list[Any]] = {c: [] for c in self.feature_columns}
        for c in chunks:
            n = len(c.ids)
            ids += c.ids
            sent = c.columns.get(self.time_column) if self.time_column is not None else None
            times += sent or [None] * n
            scored += [c.scored_at] * n
            versions += [c.model_version] * n
            for column, values in features.items():
                values += c.columns.get(column) or [None] * n
        # multiclass rows by class name: a canary's challenger may have learnt a class the champion never did
        classes = class_union(*(c.classes for c in chunks))
        scores = np.concatenate(
            [aligned_probabilities(np.asarray(c.scores, dtype="float64"), c.classes, classes) for c in chunks]
        )
        # each version decides at its own threshold (a challenger's cost may choose another)
        decide_at = np.concatenate(
            [np.full(len(c.ids), self.threshold if c.threshold is None else c.threshold) for c in chunks]
        )
        task = "multiclass" if scores.ndim == 2 else self.task
        scored_at = pd.Series(pd.to_datetime(scored, utc=True))
        event_time = pd.Series(pd.to_datetime(times, utc=True))
        frame = pd.DataFrame(
            {
                "id": ids,
                "event_time": event_time.fillna(scored_at),  # no event time sent: when it was scored
                "scored_at": scored_at,
                "model_name": self.model_name,
                "model_version": versions,
                "prediction": scalar_prediction(scores, task),
                "predicted_label": label_column(predicted_labels(scores, task, classes, decide_at), task, classes),
            }
        )
        frame = pd.concat([frame, class_columns(scores, task, classes, len(frame))], axis=1)
        for column, values in features.items():
            frame[column] = values
        return frame
