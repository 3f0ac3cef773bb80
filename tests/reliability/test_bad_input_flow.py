"""A handful of corpus cases through the real training flow, against a champion trained first.

One state folder for the module: the champion is trained once, then every bad case runs
against it, so "nothing changed" is checked after each case on the very same registry,
ledger and prediction store.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter, FlowRunFilterId

from flows.training import training_flow
from perennial.io.ledger import Ledger
from perennial.io.prediction_store import ParquetPredictionStore
from perennial.io.registry import Registry
from tests.reliability.corpus import CASES, Case, good_frame, write_config

FLOW_CASES = [c for c in CASES if c.flow]


class World:
    """The module's state folder, its champion, and a prediction store with one partition."""

    def __init__(self, root: Path) -> None:
        self.root, self.state = root, root / "state"
        self.store = ParquetPredictionStore(self.state / "predictions" / "tiny-delay")  # the model's own store

    def snapshot(self) -> dict[str, Any]:
        registry = Registry("tiny-delay")
        ledger = Ledger(f"sqlite:///{self.state / 'ledger.db'}")
        try:
            moves = [(m.id, m.alias, m.version) for m in ledger.history("tiny-delay", limit=1000)]
        finally:
            ledger.close()
        files = {
            str(p.relative_to(self.store.path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(self.store.path.rglob("*"))
            if p.is_file()
        }
        return {
            "versions": [v.version for v in registry.versions()],
            "aliases": {a: registry.alias_version(a) for a in ("champion", "challenger")},
            "ledger": moves,
            "store": files,
        }


@pytest.fixture(scope="module")
def world(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("reliability-flow")
    world = World(root)
    world.state.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PERENNIAL_STATE_DIR", str(world.state))
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{world.state / 'mlflow.db'}")
        patch.setenv("PERENNIAL_ARTIFACT_ROOT", (world.state / "mlartifacts").as_uri())
        patch.setenv("PERENNIAL_LEDGER_URL", f"sqlite:///{world.state / 'ledger.db'}")
        mlflow.set_tracking_uri(f"sqlite:///{world.state / 'mlflow.db'}")
        # a champion trained on good data, and predictions already in the store
        good = root / "good"
        good.mkdir()
        good_frame().to_parquet(good / "data.parquet", index=False)
        outcome = training_flow(
            config_path=str(write_config(good, {"kind": "parquet", "path": str(good / "data.parquet")}))
        )
        assert outcome.promoted and outcome.version == "1"
        world.store.write_partition("batch", dt.date(2013, 3, 2), _predictions(dt.date(2013, 3, 2)))
        yield world


def _predictions(day: dt.date) -> pd.DataFrame:
    times = pd.date_range(pd.Timestamp(day, tz="UTC"), periods=24, freq="h")
    return pd.DataFrame(
        {
            "id": [f"p{i}" for i in range(24)],
            "event_time": times,
            "scored_at": times,
            "model_name": "tiny-delay",
            "model_version": "1",
            "prediction": 0.3,
            "predicted_label": 0,
        }
    )


def _flow_artifact_keys(flow_run_id: Any) -> set[str]:
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return {a.key for a in found if a.key}


def _task_attempts(flow_run_id: Any, name: str, wait: float = 15.0) -> int:
    """Attempts of the named task once its final state has reached the API.

    Prefect 3 records task runs from client events, asynchronously: right after the flow
    returns, the server may not have them yet (or only an earlier state), so wait for it.
    """
    deadline = time.monotonic() + wait
    while True:
        with get_client(sync_client=True) as client:
            runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        mine = [r for r in runs if r.task_key.startswith(name.replace("-", "_")) or r.name.startswith(name)]
        settled = all(r.state is not None and r.state.is_final() for r in mine)
        if (mine and settled) or time.monotonic() > deadline:
            return sum(r.run_count for r in mine)
        time.sleep(0.2)


def _runs_for(flow_run_id: Any) -> list[Any]:
    experiment = MlflowClient().get_experiment_by_name("tiny")
    return list(MlflowClient().search_runs([experiment.experiment_id], f"tags.`prefect.flow_run_id` = '{flow_run_id}'"))


def test_a_bad_input_ends_the_training_flow_failed_and_changes_nothing(
    world: World, subtests: pytest.Subtests, tmp_path: Path
) -> None:
    # one test of subtests, not a parametrized test: xdist would spread the cases over its
    # workers and each would train the module's champion again
    for case in FLOW_CASES:
        with subtests.test(case.id):
            folder = tmp_path / case.id
            folder.mkdir()
            _bad_input_fails_and_changes_nothing(world, case, folder)


def _bad_input_fails_and_changes_nothing(world: World, case: Case, tmp_path: Path) -> None:
    # given the trained champion, predictions in the store, and one fault in the next run's input
    before = world.snapshot()
    config_path = case.build(tmp_path, good_frame())
    written = sorted(p.name for p in tmp_path.rglob("*"))
    # when the training flow runs on it
    state = training_flow(config_path=str(config_path), return_state=True)
    # then it ends FAILED with a message naming the input, the column or key, and the rule
    assert state.is_failed(), state
    message = state.message or ""
    assert (case.names or str(tmp_path / "data.")) in message, message
    for needle in case.needles:
        assert needle in message, f"{needle!r} not in: {message}"
    # and the champion, the registry, the ledger and the prediction store are exactly as before
    assert world.snapshot() == before
    # and no partial file is left beside the input or in the state folder
    assert sorted(p.name for p in tmp_path.rglob("*")) == written
    assert [p for p in world.state.rglob("*") if ".tmp" in p.name] == []
    # and a validation failure is recorded: MLflow report + tag, and the Prefect markdown artifact
    flow_run_id = state.state_details.flow_run_id
    runs = _runs_for(flow_run_id)
    if case.error != "ConfigError":  # a config that does not load opens no MLflow run at all
        assert [r.info.status for r in runs] == ["FAILED"]
    else:
        assert runs == []
    if case.validation_applies:
        assert runs[0].data.tags["perennial.validation"] == "failed"
        report = mlflow.artifacts.load_dict(f"runs:/{runs[0].info.run_id}/validation/report.json")
        assert not report["passed"] and case.needles[0].strip("'") in {
            r["column"] for r in report["results"] if not r["passed"]
        }
        assert "tiny-validation" in _flow_artifact_keys(flow_run_id)
    # and only a transient fault (the database) is retried, a bounded number of times
    expected_attempts = 3 if case.id == "sql-cannot-connect" else (0 if case.error == "ConfigError" else 1)
    # (a config that fails to load runs no task: a short wait shows that none arrives)
    assert _task_attempts(flow_run_id, "load-data", wait=15.0 if expected_attempts else 2.0) == expected_attempts
