"""Concurrency on the real stores, from real processes started together behind a barrier.

* Two batch-scoring writers replacing the same window at once: the partition always holds
  one writer's whole output, never a mix, never duplicates; a reader never sees half of one.
* Ten monitors claiming the retrain of one episode at once: exactly one claim wins.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from perennial.io.monitor_store import MonitorStore
from perennial.io.prediction_store import ParquetPredictionStore, SqlPredictionStore

DAYS = [dt.date(2013, 3, 1), dt.date(2013, 3, 2)]
ROWS_PER_DAY = 500
ROUNDS = 8
CTX = mp.get_context(
    "spawn"
)  # fresh processes: nothing shared but the files and the database (a fork would inherit the Prefect harness threads)


def _window(writer: str, day: dt.date) -> pd.DataFrame:
    times = pd.Timestamp(day, tz="UTC") + pd.to_timedelta(range(ROWS_PER_DAY), unit="min")
    return pd.DataFrame(
        {
            "id": [f"{day}-{i}" for i in range(ROWS_PER_DAY)],
            "event_time": times,
            "scored_at": pd.Timestamp.now(tz="UTC"),
            "model_name": "tiny-delay",
            "model_version": writer,
            "prediction": 0.5,
            "predicted_label": 0,
            "run_id": writer,
        }
    )


def _open(kind: str, where: str) -> Any:
    return ParquetPredictionStore(Path(where)) if kind == "parquet" else SqlPredictionStore(where)


def _score_window(kind: str, where: str, writer: str, barrier: Any) -> None:
    """One batch-scoring run's write step, repeated: replace each day of the window."""
    store = _open(kind, where)
    barrier.wait()
    for _ in range(ROUNDS):
        for day in DAYS:
            store.write_partition("batch", day, _window(writer, day))


def _read_while_writing(kind: str, where: str, barrier: Any, seen: Any) -> None:
    store = _open(kind, where)
    barrier.wait()
    for _ in range(ROUNDS * 3):
        frame = store.read("batch", DAYS[0], DAYS[0] + dt.timedelta(days=1))
        seen.put((len(frame), sorted(set(frame["model_version"])), int(frame["id"].duplicated().sum())))


@pytest.mark.parametrize("kind", ["parquet", "sql"])
def test_two_batch_runs_of_one_window_at_once_leave_one_whole_partition(kind: str, tmp_path: Path) -> None:
    # given an empty store and two scoring runs (different model versions) of the same window, plus a reader
    where = str(tmp_path / "predictions") if kind == "parquet" else f"sqlite:///{tmp_path / 'predictions.db'}"
    # the day was scored once before (a re-run replaces it): readers always have a whole day to see
    _open(kind, where).write_partition("batch", DAYS[0], _window("seed", DAYS[0]))
    barrier, seen = CTX.Barrier(3), CTX.Queue()
    processes = [CTX.Process(target=_score_window, args=(kind, where, w, barrier)) for w in ("A", "B")]
    processes.append(CTX.Process(target=_read_while_writing, args=(kind, where, barrier, seen)))
    # when they run at the same time
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    # then every process finished cleanly
    assert [p.exitcode for p in processes] == [0, 0, 0]
    # and every read saw one writer's whole day: all its rows, one version, no duplicates
    reads = [seen.get(timeout=5) for _ in range(ROUNDS * 3)]
    assert all(rows == ROWS_PER_DAY and len(versions) == 1 and dups == 0 for rows, versions, dups in reads), reads
    # and each day ends as exactly one writer's output
    final = _open(kind, where).read("batch")
    for day in DAYS:
        rows = final[final["event_time"].dt.date == day]
        assert len(rows) == ROWS_PER_DAY and rows["id"].is_unique and rows["model_version"].nunique() == 1
    # and no staging folder or temporary file is left behind
    if kind == "parquet":
        assert [p.name for p in Path(where).rglob("*") if ".tmp" in p.name] == []


def _claim(url: str, barrier: Any, results: Any, number: int) -> None:
    store = MonitorStore(url)
    barrier.wait()
    won = store.claim_retrain("flights/2013-07", "flights", "drift", f"monitor {number}", dt.datetime.now(dt.UTC))
    results.put(won)
    store.close()


def test_ten_retrain_claims_for_one_episode_at_once_yield_exactly_one(tmp_path: Path) -> None:
    # given one monitor database, and ten monitors that saw the same drift episode
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    MonitorStore(url).close()  # tables exist, as after the first monitoring run
    barrier, results = CTX.Barrier(10), CTX.Queue()
    processes = [CTX.Process(target=_claim, args=(url, barrier, results, n)) for n in range(10)]
    # when they all claim the retrain at once
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    # then each got an answer (no "database is locked" crash) and exactly one won
    assert [p.exitcode for p in processes] == [0] * 10
    wins = [results.get(timeout=5) for _ in range(10)]
    assert sorted(wins) == [False] * 9 + [True]
    assert MonitorStore(url).seen_keys("flights") == {"flights/2013-07"}
