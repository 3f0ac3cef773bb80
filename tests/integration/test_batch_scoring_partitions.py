"""Batch scoring over Dask partitions (data.engine.kind: dask) writes what the in-memory path writes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pandas as pd
import pytest

from flows.batch_scoring import batch_scoring_flow
from flows.training import training_flow
from perennial.config import load_config
from perennial.core.partitions import split_frame
from perennial.io.prediction_store import open_store
from tasks.runners import DASHBOARD_ARTIFACT

WINDOW = {"start": dt.date(2013, 3, 1), "end": dt.date(2013, 3, 15)}
SYNCHRONOUS = {"kind": "dask", "scheduler": "synchronous"}
# what differs between two runs by design: which run wrote a row, and when
RUN_COLUMNS = ["run_id", "scored_at"]


@pytest.fixture
def parts(project: Any, tmp_path: Path) -> Path:
    """The tiny flights as a partitioned Parquet directory of 7 files (a day's rows span two of them)."""
    folder = tmp_path / "flights-parts"
    folder.mkdir()
    for i, part in enumerate(split_frame(pd.read_parquet(project.data), 7)):
        part.to_parquet(folder / f"part-{i:02}.parquet", index=False)
    return folder


@pytest.fixture
def configs(project: Any, parts: Path) -> dict[str, str]:
    """v1 trained and promoted on the flights; a scoring config of each engine reading the directory."""
    assert training_flow(config_path=project.write_config()).version == "1"
    return {
        "pandas": project.write_config("pandas.yaml", **{"data.source.path": str(parts)}),
        "dask": project.write_config("dask.yaml", **{"data.source.path": str(parts), "data.engine": SYNCHRONOUS}),
    }


def dashboard_links(state: Any) -> list[str]:
    """The Dask dashboard links a flow run published in its artifacts."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    wanted = ArtifactFilter(
        key=ArtifactFilterKey(any_=[DASHBOARD_ARTIFACT]),
        flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]),
    )
    with get_client(sync_client=True) as client:
        return [str(a.data) for a in client.read_artifacts(artifact_filter=wanted)]


def _stored(config: str, project: Any) -> pd.DataFrame:
    rows = open_store(load_config(config), project.settings.root).read("batch")
    return rows.drop(columns=RUN_COLUMNS).sort_values("id").reset_index(drop=True)


def test_scoring_over_partitions_stores_the_in_memory_rows_and_a_rerun_replaces_them(
    project: Any, configs: dict[str, str], parts: Path
) -> None:
    # given the window scored in memory
    assert batch_scoring_flow(config_path=configs["pandas"], **WINDOW, return_state=True).is_completed()
    in_memory = _stored(configs["pandas"], project)
    store = open_store(load_config(configs["dask"]), project.settings.root)
    days = sorted(p.name for p in (store.path / "source=batch").glob("date=*"))
    # when the same window is scored over partitions (into the same store: its days are replaced)
    state = batch_scoring_flow(config_path=configs["dask"], **WINDOW, return_state=True)
    # then the store holds the same rows, value for value, once each, all from the second run
    assert state.is_completed(), state.message
    assert state.result() == len(in_memory) > 0
    pd.testing.assert_frame_equal(_stored(configs["dask"], project), in_memory, check_exact=True)
    assert store.read("batch")["run_id"].nunique() == 1
    assert sorted(p.name for p in (store.path / "source=batch").glob("date=*")) == days
    assert not list((store.path / "source=batch").glob(".*staging*"))

    # when one row of the directory changes and the window is scored over partitions again
    first = pd.read_parquet(parts / "part-03.parquet")
    changed = first.loc[first["time_hour"] >= pd.Timestamp(WINDOW["start"], tz="UTC"), "flight_id"].iloc[0]
    first.loc[first["flight_id"] == changed, "temp"] += 60  # a hot day: the model's score moves
    first.to_parquet(parts / "part-03.parquet", index=False)
    assert batch_scoring_flow(config_path=configs["dask"], **WINDOW, return_state=True).is_completed()
    # then that row, and only it, differs from the in-memory run's
    after = _stored(configs["dask"], project)
    differs = after.ne(in_memory).any(axis=1)
    assert after.loc[differs, "id"].tolist() == [changed]
    assert after.loc[differs, "temp"].iloc[0] == in_memory.loc[differs, "temp"].iloc[0] + 60


def test_a_contract_failure_over_partitions_fails_as_in_memory_and_leaves_the_store(
    project: Any, configs: dict[str, str], parts: Path
) -> None:
    # given a window already scored, then one file of the directory with negative distances
    assert batch_scoring_flow(config_path=configs["pandas"], **WINDOW, return_state=True).is_completed()
    before = _stored(configs["pandas"], project)
    bad = pd.read_parquet(parts / "part-03.parquet")
    bad.assign(distance=bad["distance"].where(bad.index % 2 == 0, -5.0)).to_parquet(parts / "part-03.parquet")
    # when each engine scores the window
    failed = {e: batch_scoring_flow(config_path=c, **WINDOW, return_state=True) for e, c in configs.items()}
    # then both runs fail with the same message, naming the column and the rule, and the store is unchanged
    assert failed["dask"].is_failed() and failed["pandas"].is_failed()
    assert "distance" in failed["dask"].message and "values in range" in failed["dask"].message.lower()
    assert failed["dask"].message == failed["pandas"].message
    pd.testing.assert_frame_equal(_stored(configs["dask"], project), before)


def test_scoring_on_the_cluster_at_perennial_dask_address_stores_the_in_memory_rows(
    project: Any, configs: dict[str, str], parts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from distributed import LocalCluster

    # given the window scored in memory, and a running scheduler named by PERENNIAL_DASK_ADDRESS
    assert batch_scoring_flow(config_path=configs["pandas"], **WINDOW, return_state=True).is_completed()
    in_memory = _stored(configs["pandas"], project)
    on_cluster = project.write_config(
        "cluster.yaml", **{"data.source.path": str(parts), "data.engine": {"kind": "dask"}}
    )
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address="127.0.0.1:0") as cluster:
        monkeypatch.setenv("PERENNIAL_DASK_ADDRESS", cluster.scheduler_address)
        # when the config names no cluster and the window is scored over partitions
        state = batch_scoring_flow(config_path=on_cluster, **WINDOW, return_state=True)
        # every key the scheduler moved: a fused task's key names each step fused into it
        ran, dashboard = {str(t[0]) for t in cluster.scheduler.transition_log}, cluster.dashboard_link
        # the dashboard binds 127.0.0.1 while its link reads localhost (a browser tries both, httpx not)
        page = httpx.get(f"http://127.0.0.1:{urlsplit(dashboard).port}/status", timeout=30, follow_redirects=True)
    # then the cluster's worker wrote the partitions, and the store holds the in-memory run's rows, value for value
    assert state.is_completed(), state.message
    assert any("_write_part" in name for name in ran), ran
    pd.testing.assert_frame_equal(_stored(on_cluster, project), in_memory, check_exact=True)
    # and the run links the cluster's dashboard in its artifacts (an in-process scheduler's host reads localhost)
    assert dashboard_links(state) == [f"[Dask dashboard](http://localhost:{urlsplit(dashboard).port}/status)"]
    # and the link opens the dashboard itself (without bokeh the page only says to install it)
    assert page.status_code == 200 and "<title>Dask Diagnostic UI</title>" in page.text, page.text[:300]
