"""data_scheduler outside a flow: Dask's progress on a terminal only, the dashboard named, the same results."""

from __future__ import annotations

from collections.abc import Iterator

import dask.dataframe as dd
import pandas as pd
import pytest

from perennial.config import DataEngine
from perennial.io.partitioned import dask_reduce
from tasks.runners import data_scheduler


@pytest.fixture
def frame() -> dd.DataFrame:
    return dd.from_pandas(pd.DataFrame({"x": range(1000)}), npartitions=4)


@pytest.fixture
def cluster() -> Iterator[str]:
    """A one-worker cluster in this process (the machine is shared); its scheduler's address."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    ) as local:
        yield local.scheduler_address


def _total(frame: dd.DataFrame, scheduler: object) -> int:
    total: int = dask_reduce(frame, scheduler)(lambda part: int(part["x"].sum()), lambda a, b: a + b)
    return total


@pytest.mark.parametrize("progress", [True, False])
def test_a_cluster_draws_progress_only_when_asked_and_names_its_dashboard(
    frame: dd.DataFrame, cluster: str, progress: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    # given the cluster a config names
    spec = DataEngine(kind="dask", address=cluster)
    # when partitions are reduced on it, with and without progress
    with data_scheduler(spec, progress=progress) as scheduler:
        total = _total(frame, scheduler)
    # then the result is the same, the dashboard is named, and the bar is drawn only when asked
    out = capsys.readouterr().out
    assert total == sum(range(1000))
    assert "Dask dashboard: http://127.0.0.1:" in out
    assert ("100% Completed" in out) is progress


def test_by_default_progress_follows_the_terminal(frame: dd.DataFrame, capsys: pytest.CaptureFixture[str]) -> None:
    # given the synchronous scheduler, and stdout that is not a terminal (pytest's capture, as in CI)
    spec = DataEngine(kind="dask", scheduler="synchronous")
    # when partitions are reduced, by default and with progress asked for
    with data_scheduler(spec) as scheduler:
        quiet = _total(frame, scheduler)
    assert capsys.readouterr().out == ""
    with data_scheduler(spec, progress=True) as scheduler:
        shown = _total(frame, scheduler)
    # then only the second draws Dask's bar, and both give the same result
    assert quiet == shown == sum(range(1000))
    assert "Completed" in capsys.readouterr().out
