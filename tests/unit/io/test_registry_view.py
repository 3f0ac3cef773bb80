"""The read-only view of MLflow's SQLite store answers as MLflow's client does, on a store MLflow wrote."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from perennial.core.names import Artifact, Tag
from perennial.io.registry import Registry
from perennial.io.registry_view import RegistryView, RunRow, open_view

MODEL = "fares"


@pytest.fixture
def store(state_folder: Path) -> str:
    """A registered model of three versions (the second deleted), aliases, a release tag, and runs:
    five training runs (one deleted), one monitoring run, one training run of another experiment."""
    client = MlflowClient()
    experiment = client.create_experiment("fares", artifact_location=(state_folder / "art").as_uri())
    other = client.create_experiment("other", artifact_location=(state_folder / "art-other").as_uri())
    runs = []
    for i, (kind, where) in enumerate(
        [("training", experiment)] * 5 + [("monitoring", experiment), ("training", other)]
    ):
        run = client.create_run(where, run_name=f"run-{i}", tags={Tag.KIND: kind, Tag.GATE: f"gate {i}"})
        runs.append(run.info.run_id)
        time.sleep(0.002)  # distinct start times
    client.log_text(runs[0], "{}", Artifact.SUITE)
    client.set_terminated(runs[1], "FAILED")
    client.delete_run(runs[4])
    client.create_registered_model(MODEL)
    for i in range(3):
        tags = {Tag.TRAINING_RUN: runs[i], Tag.DATA_FINGERPRINT: f"fp{i}"}
        client.create_model_version(MODEL, f"file:///models/{i}", run_id=runs[i], tags=tags)
    client.delete_model_version(MODEL, "2")
    client.set_registered_model_alias(MODEL, "champion", "1")
    client.set_registered_model_alias(MODEL, "challenger", "3")
    client.set_registered_model_tag(MODEL, Tag.RELEASE, "shadow")
    client.create_registered_model("another")  # its versions and aliases must never show
    client.create_model_version("another", "file:///models/x", run_id=runs[6])
    client.set_registered_model_alias("another", "champion", "1")
    return mlflow.get_tracking_uri()


@pytest.fixture
def view(store: str) -> RegistryView:
    opened = open_view(store, MODEL)
    assert opened is not None
    return opened


def test_the_registry_reads_as_mlflows_client_reads_it(view: RegistryView) -> None:
    registry = Registry(MODEL)
    for alias in ("champion", "challenger", "unset"):
        assert view.alias_version(alias) == registry.alias_version(alias)
    assert view.alias_version("champion") == "1" and view.alias_version("unset") is None
    assert view.info("1") == registry.info("1") and view.info("3") == registry.info("3")
    assert view.info("1") != view.info("3")  # the comparison can tell versions apart
    assert view.info("2") is None  # deleted: MLflow's client refuses it too
    assert [v.version for v in view.versions()] == ["1", "3"]
    assert view.versions() == registry.versions()
    assert view.serving_state() == registry.serving_state() == ({"champion": "1", "challenger": "3"}, "shadow")
    assert view.champion() == registry.champion()


def test_the_runs_status_lists_are_mlflows_search(view: RegistryView) -> None:
    client = MlflowClient()
    experiment = client.get_experiment_by_name("fares")
    assert experiment is not None
    for limit in (2, 10):
        found = client.search_runs(
            [experiment.experiment_id],
            filter_string=f"tags.`{Tag.KIND}` = 'training'",
            order_by=["attributes.start_time DESC"],
            max_results=limit,
        )
        expected = [
            RunRow(r.info.run_id, r.info.run_name, r.info.start_time, r.info.status, r.data.tags) for r in found
        ]
        assert view.runs("fares", "training", limit) == expected
    assert [r.name for r in view.runs("fares", "training", 10)] == ["run-3", "run-2", "run-1", "run-0"]
    assert view.runs("fares", "training", 10)[2].status == "FAILED"
    assert view.runs("nowhere", "training", 10) == []


def test_artifacts_are_found_on_disk_as_mlflow_lists_them(view: RegistryView) -> None:
    runs = {r.name: r.run_id for r in view.runs("fares", "training", 10)}
    wanted = (Artifact.SUITE, Artifact.REFERENCE_STATS)
    listed = {a.path for a in MlflowClient().list_artifacts(runs["run-0"], "validation")}
    assert view.artifact_paths(runs["run-0"], wanted) == {Artifact.SUITE} == listed & set(wanted)
    assert view.artifact_paths(runs["run-1"], wanted) == set()


def test_another_schema_a_server_or_no_store_is_left_to_mlflows_client(store: str, tmp_path: Path) -> None:
    assert open_view("http://127.0.0.1:5000", MODEL) is None
    assert open_view(f"sqlite:///{tmp_path / 'none.db'}", MODEL) is None
    path = store.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE alembic_version SET version_num = 'a-later-mlflow'")
    assert open_view(store, MODEL) is None
