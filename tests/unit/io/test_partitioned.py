"""Lazy sources through Dask: partitions read where they are summarised, reports equal to the pandas path."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from perennial.config import FileSource, Volume, parse_config
from perennial.core.drift import build_reference, detect_drift
from perennial.core.drift.partitioned import detect_drift_partitioned
from perennial.core.validation import derive_suite, validate_frame
from perennial.core.validation_partitioned import validate_partitioned
from perennial.errors import DataSourceError
from perennial.io.partitioned import dask_reduce, gather_frame
from perennial.io.sources import open_lazy, read_source
from tests.conftest import config_dict, make_flights

AS_OF = dt.datetime(2013, 4, 2, tzinfo=dt.UTC)


def write_days(frame: pd.DataFrame, folder: Path) -> None:
    """One Parquet file a day and one CSV a day, as a daily export writes them."""
    folder.mkdir()
    for i, (_, day) in enumerate(frame.groupby(frame["time_hour"].dt.floor("D"), sort=True)):
        day.to_parquet(folder / f"day-{i:03}.parquet", index=False)
        day.to_csv(folder / f"day-{i:03}.csv", index=False)


@pytest.fixture(scope="module")
def window(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    folder = tmp_path_factory.mktemp("window") / "days"
    frame = make_flights(3000, seed=2, start="2013-03-01", days=30)
    frame.loc[frame.index[100:400], "temp"] += 40  # a hot spell: drift in temp
    frame.loc[frame.index[2000:2003], "temp"] = 500.0  # a broken sensor: outside the declared range
    frame.loc[frame.index[2500], "flight_id"] = frame.loc[frame.index[10], "flight_id"]  # a duplicate weeks apart
    write_days(frame, folder)
    return folder, frame


def test_a_parquet_glob_opens_lazily_in_partitions(window: tuple[Path, pd.DataFrame]) -> None:
    # given thirty daily Parquet files
    folder, frame = window
    # when opened lazily
    lazy = open_lazy(FileSource(kind="parquet", path=str(folder / "*.parquet")))
    # then it is one partition a file, and computing it gives the rows back in order
    assert lazy.npartitions == 30
    assert lazy.compute().reset_index(drop=True).equals(frame.reset_index(drop=True))
    assert not lazy.head(1).equals(frame.tail(1).reset_index(drop=True))


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_drift_and_validation_through_dask_equal_the_pandas_path(kind: str, window: tuple[Path, pd.DataFrame]) -> None:
    # given a reference, its contract, and the window as one source read whole and as a lazy glob
    folder, _ = window
    config = parse_config(config_dict(), "tiny.yaml")
    reference_frame = make_flights(3000, seed=1)
    reference = build_reference(reference_frame, ["distance", "temp"], ["carrier", "origin"])
    suite = derive_suite(config, reference_frame)
    whole = pd.concat([read_source(FileSource(kind=kind, path=str(p))) for p in sorted(folder.glob(f"*.{kind}"))])
    lazy = open_lazy(FileSource(kind=kind, path=str(folder / f"*.{kind}")))
    checks = {"source": "w", "as_of": AS_OF, "freshness_hours": 72.0, "volume": Volume(min_ratio=0.5, max_ratio=2.0)}
    # when
    in_memory = (detect_drift(reference, whole), validate_frame(whole, suite, engine="vectorised", **checks))
    reduce = dask_reduce(lazy)
    partitioned = (detect_drift_partitioned(reference, reduce), validate_partitioned(reduce, suite, **checks))
    # then
    assert [(c.column, c.drifted) for c in partitioned[0].columns] == [
        (c.column, c.drifted) for c in in_memory[0].columns
    ]
    assert partitioned[0].drifted_columns == ("temp",)
    assert partitioned[1].to_dict() == in_memory[1].to_dict()
    assert {r.rule for r in partitioned[1].failures} >= {"unique", "values in range [-40, 130]"}


def test_a_local_dask_cluster_gives_the_same_report(window: tuple[Path, pd.DataFrame]) -> None:
    # given a one-worker local cluster (the machine is shared)
    from distributed import Client, LocalCluster

    folder, frame = window
    reference = build_reference(make_flights(3000, seed=1), ["distance", "temp"], ["carrier", "origin"])
    lazy = open_lazy(FileSource(kind="parquet", path=str(folder)))
    # when
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            report = detect_drift_partitioned(reference, dask_reduce(lazy, scheduler=client))
    # then
    assert report.to_dict()["drifted_columns"] == detect_drift(reference, frame).to_dict()["drifted_columns"]
    assert report.rows_current == len(frame) != 0


def test_gather_frame_concatenates_in_this_process_not_on_a_worker() -> None:
    # given a frame whose filter leaves some partitions empty, on an in-process local cluster
    import dask.dataframe as dd
    from distributed import Client, LocalCluster, get_task_stream

    rows = pd.DataFrame({"n": range(100), "id": [f"r{i}" for i in range(100)]})
    lazy = dd.from_pandas(rows, npartitions=5)
    lazy = lazy[(lazy["n"] < 10) | (lazy["n"] >= 80)]

    def concatenated_on_the_cluster(stream: list[dict[str, Any]]) -> bool:
        return any("repartition" in str(task["key"]) for task in stream)

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            # when it is computed by Dask's own compute, and gathered
            with get_task_stream(client) as dask_compute:
                whole = lazy.compute(scheduler=client)
            with get_task_stream(client) as gathered_stream:
                gathered = gather_frame(lazy, client)
    # then the rows, their order, index and dtypes are the same, yet no task on the cluster held them all
    pd.testing.assert_frame_equal(gathered, whole)
    assert gathered["n"].tolist() == [*range(10), *range(80, 100)]
    assert concatenated_on_the_cluster(dask_compute.data)  # Dask's compute does: the check can fail
    assert not concatenated_on_the_cluster(gathered_stream.data)


def _slow(part: pd.DataFrame, run: str) -> pd.DataFrame:
    time.sleep(0.3)  # each partition takes long enough for the client to fetch the one before
    return part


def test_gather_frame_fetches_each_partition_as_it_is_done_so_the_cluster_never_holds_them_all() -> None:
    # given eight slow partitions on a one-thread cluster whose scheduler counts the partitions held at once
    import dask.dataframe as dd
    from distributed import Client, LocalCluster
    from distributed.diagnostics.plugin import SchedulerPlugin

    class Held(SchedulerPlugin):
        def __init__(self) -> None:
            self.now: set[str] = set()
            self.most = 0

        def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
            if "_slow" not in str(key):
                return
            if finish == "memory":
                self.now.add(str(key))
            elif start == "memory":
                self.now.discard(str(key))
            self.most = max(self.most, len(self.now))

    rows = pd.DataFrame({"n": range(80)})
    # (a computation each: the first's results, once released, must not be found by the second)
    waiting, streaming = (dd.from_pandas(rows, npartitions=8).map_partitions(_slow, r, meta=rows) for r in "ab")
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            waited, streamed = Held(), Held()
            cluster.scheduler.add_plugin(waited, name="waited")
            # when Dask computes every partition before handing any over
            whole = pd.concat(client.gather(client.compute(list(waiting.to_delayed()))))
            cluster.scheduler.remove_plugin(name="waited")
            cluster.scheduler.add_plugin(streamed, name="streamed")
            # and when gather_frame brings them
            gathered = gather_frame(streaming, client)
    # then the same rows, yet the cluster held at most a few partitions, where waiting held all eight
    pd.testing.assert_frame_equal(gathered, whole)
    assert waited.most == 8
    assert 1 <= streamed.most <= 4, streamed.most  # a loaded machine may fetch one or two late


def test_a_missing_path_or_a_json_lines_source_is_a_clear_error(tmp_path: Path) -> None:
    # given nothing at the path, and a JSON lines file
    (tmp_path / "rows.jsonl").write_text('{"a": 1}\n')
    # when / then
    with pytest.raises(DataSourceError, match="does not exist"):
        open_lazy(FileSource(kind="parquet", path=str(tmp_path / "nothing")))
    with pytest.raises(DataSourceError, match="in memory only"):
        open_lazy(FileSource(kind="jsonl", path=str(tmp_path / "rows.jsonl")))


def test_hive_partition_columns_come_back_plain(tmp_path: Path) -> None:
    # given a directory partitioned by origin
    frame = make_flights(200, seed=4)
    frame.to_parquet(tmp_path / "parts", partition_cols=["origin"], index=False)
    # when
    lazy = open_lazy(FileSource(kind="parquet", path=str(tmp_path / "parts")))
    # then origin is text, as read_source gives it, not a categorical
    computed = lazy.compute()
    eager = read_source(FileSource(kind="parquet", path=str(tmp_path / "parts")))
    assert computed["origin"].dtype == eager["origin"].dtype != "category"
    assert sorted(np.unique(computed["origin"])) == ["EWR", "JFK", "LGA"]


def _predictions(rows: int, version: str) -> pd.DataFrame:
    """Prediction rows over three days, hour by hour, as score_frame writes them."""
    times = pd.Timestamp("2013-03-01", tz="UTC") + pd.to_timedelta(np.arange(rows) * 3, unit="h")
    return pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(rows)],
            "event_time": times,
            "scored_at": pd.Timestamp("2013-03-05", tz="UTC"),
            "model_name": "m",
            "model_version": version,
            "prediction": np.linspace(0, 1, rows),
            "predicted_label": (np.linspace(0, 1, rows) >= 0.5).astype("int64"),
        }
    )


def test_rows_written_a_partition_at_a_time_replace_the_days_as_replace_days_does(tmp_path: Path) -> None:
    import dask
    import dask.dataframe as dd

    from perennial.io import partitioned
    from perennial.io.prediction_store import ParquetPredictionStore

    # given a store with a first run's three days, and a re-run's rows in 4 partitions (days span two)
    rows = _predictions(24, "2")
    lazy, memory = ParquetPredictionStore(tmp_path / "lazy"), ParquetPredictionStore(tmp_path / "memory")
    for store in (lazy, memory):
        store.replace_days("batch", _predictions(24, "1"))
    # when the re-run is written over partitions into one store and in memory into the other
    with dask.config.set({"dataframe.convert-string": False}):  # text as object, as open_lazy reads it
        parts = dd.from_pandas(rows, npartitions=4)
    kept, days = partitioned.write_days(parts, lazy, "batch", ["prediction", "nope"])
    # then both stores hold the same rows (only the re-run's), the kept column comes back in row order
    assert days == memory.replace_days("batch", rows) == [dt.date(2013, 3, d) for d in (1, 2, 3)]
    pd.testing.assert_frame_equal(
        lazy.read("batch").sort_values("id", ignore_index=True),
        memory.read("batch").sort_values("id", ignore_index=True),
    )
    assert set(lazy.read("batch")["model_version"]) == {"2"}
    pd.testing.assert_frame_equal(kept, rows[["prediction"]])

    # when a third run fails in its last partition (a row with no event time)
    broken = _predictions(24, "3")
    broken.loc[23, "event_time"] = pd.NaT
    with pytest.raises(ValueError, match="need an event_time"):
        partitioned.write_days(dd.from_pandas(broken, npartitions=4), lazy, "batch", ["prediction"])
    # then the store still holds the second run's rows, and no staging folder is left behind
    assert set(lazy.read("batch")["model_version"]) == {"2"} and len(lazy.read("batch")) == 24
    assert not list((lazy.path / "source=batch").glob(".staging-*"))
