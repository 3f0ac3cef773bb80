"""The Postgres paths of Perennial's locks, on a real throwaway PostgreSQL.

A retrain claimed by two monitors at once (dedupe and cooldown in one transaction, under an
advisory lock) and a prediction partition replaced by two writers at once (advisory lock per
partition). SQLite's paths run in the default suite; these need Debian's PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from perennial.io.monitor_store import MonitorStore
from perennial.io.prediction_store import SqlPredictionStore
from tests.slow.test_postgres_stack import postgres

pytestmark = pytest.mark.slow

AT = dt.datetime(2013, 8, 1, tzinfo=dt.UTC)
DAY = dt.date(2013, 7, 1)


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="perennial-pg-") as tmp:
        base = Path(tmp)
        logs = base / "logs"
        logs.mkdir()
        with postgres(base, logs) as url:
            yield url.format(driver="psycopg", db="perennial")


def _at_once(count: int, work) -> list:  # type: ignore[no-untyped-def]
    start = threading.Barrier(count)

    def run(i: int):  # type: ignore[no-untyped-def]
        start.wait()
        return work(i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_two_monitors_racing_on_postgres_claim_one_retrain(database: str) -> None:
    stores = [MonitorStore(database) for _ in range(2)]
    # when two monitors claim retrains of two windows at once, inside one cooldown
    won = _at_once(
        2, lambda i: stores[i].claim_retrain(f"pg:drift:w{i}", "pg", "drift", "why", AT, dt.timedelta(days=14))
    )
    # then one retrain is claimed
    assert sorted(won) == [False, True] and len(stores[0].seen_keys("pg")) == 1
    # and the same episode claimed twice at once is claimed once
    again = _at_once(2, lambda i: stores[i].claim_retrain("pg2:drift:w1", "pg2", "drift", "why", AT))
    assert sorted(again) == [False, True]
    for store in stores:
        store.close()


def _rows(version: str, n: int = 200) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(n)],
            "event_time": pd.Timestamp(DAY, tz="UTC") + pd.Timedelta(hours=9),
            "scored_at": pd.Timestamp("2013-07-02", tz="UTC"),
            "model_name": "m",
            "model_version": version,
            "prediction": 0.5,
            "predicted_label": 1,
            "temp": 1.0,
        }
    )


def test_writers_of_one_partition_on_postgres_leave_one_writers_rows(database: str) -> None:
    stores = [SqlPredictionStore(database, "pg_predictions") for _ in range(4)]
    stores[0].append("batch", _rows("0", 1))  # the table exists, as after the first scoring run
    # when four writers replace the same day's partition at once, each with its own version
    _at_once(4, lambda i: stores[i].write_partition("batch", DAY, _rows(str(i + 1))))
    # then the partition holds exactly one writer's rows: no duplicates, no mix
    final = stores[0].read("batch")
    assert len(final) == 200 and final["id"].is_unique and final["model_version"].nunique() == 1
    for store in stores:
        store.close()
