"""Candidate training on a Dask cluster, chosen by config alone (prefect-dask)."""

from __future__ import annotations

import pytest
from distributed import Client, LocalCluster, get_task_stream
from mlflow.tracking import MlflowClient
from prefect import flow, task

from flows.training import training_flow
from perennial.config import CandidateRunner
from perennial.io.registry import Registry
from tasks.runners import ADDRESS_VARIABLE, candidate_runner, train_candidates


def test_candidates_train_on_the_dask_cluster_named_in_the_config(project) -> None:
    # given a running Dask cluster and a config that names its scheduler
    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, protocol="tcp", host="127.0.0.1", dashboard_address=":0"
    ) as cluster:
        config = project.write_config(
            **{"training.task_runner": {"kind": "dask", "address": cluster.scheduler_address}}
        )
        with Client(cluster, set_as_default=False) as client, get_task_stream(client=client) as stream:
            # when the training flow runs
            outcome = training_flow(config_path=config)
    # then both candidates ran as tasks on that cluster
    ran = [str(task["key"]) for task in stream.data]
    assert sum(key.startswith("train_candidate_task-") for key in ran) == 2, ran
    # and the lifecycle is the same: nested candidate runs, a gated champion
    assert outcome.promoted and Registry("tiny-delay").alias_version("champion") == outcome.version
    children = MlflowClient().search_runs(
        [MlflowClient().get_run(outcome.run_id).info.experiment_id],
        f"tags.mlflow.parentRunId = '{outcome.run_id}'",
    )
    assert sorted(r.data.tags["perennial.candidate"] for r in children) == ["hgb", "logreg"]
    assert all(r.info.status == "FINISHED" for r in children)


@task
def _square(candidate: int, offset: int) -> int:
    return candidate * candidate + offset


@flow
def _train_on(spec: CandidateRunner) -> list[int]:
    with candidate_runner(spec) as runner:
        return train_candidates(runner, _square, [1, 2, 3], {"offset": 10})


def test_a_config_naming_no_cluster_joins_the_one_at_perennial_dask_address(monkeypatch: pytest.MonkeyPatch) -> None:
    # given a running cluster named only by PERENNIAL_DASK_ADDRESS, as the data path reads it
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, protocol="tcp", host="127.0.0.1", dashboard_address=":0"
    ) as cluster:
        monkeypatch.setenv(ADDRESS_VARIABLE, cluster.scheduler_address)
        # when candidates are submitted under `task_runner: {kind: dask}` with no address
        results = _train_on(CandidateRunner(kind="dask"))
        ran = set(cluster.scheduler.task_prefixes)
    # then they ran as tasks on that cluster (not on a LocalCluster of their own), each with its result
    assert results == [11, 14, 19]
    assert "square" in ran, ran
