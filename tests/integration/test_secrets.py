"""A database password given through the environment never reaches logs, MLflow params, tags or artifacts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import mlflow
import pytest
import yaml
from mlflow.tracking import MlflowClient
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

from flows.training import training_flow
from tests.conftest import config_dict

SECRET = "hunter2-Zq9-secret"


def _artifact_texts(run_id: str) -> dict[str, str]:
    folder = Path(mlflow.artifacts.download_artifacts(run_id=run_id))
    return {str(p.relative_to(folder)): p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file()}


def _logs(flow_run_id: Any, wait: float = 5.0) -> list[str]:
    deadline = time.monotonic() + wait
    while True:  # logs reach the API in batches, shortly after the run ends
        with get_client(sync_client=True) as client:
            logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
        if any("Finished in state" in log.message for log in logs) or time.monotonic() > deadline:
            return [log.message for log in logs]
        time.sleep(0.25)


def test_a_database_password_from_the_environment_is_never_recorded(
    project: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a SQL source whose password comes from the environment, and a database that does not answer
    monkeypatch.setenv("FLIGHTS_DB_PASSWORD", SECRET)
    raw = config_dict()
    raw["data"]["source"] = {
        "kind": "sql",
        "url": "postgresql+psycopg://perennial:${FLIGHTS_DB_PASSWORD}@127.0.0.1:9/flights",
        "query": "select * from flights",
    }
    config = tmp_path / "sql.yaml"
    config.write_text(yaml.safe_dump(raw))
    # when the training flow runs (and fails to connect, after its retries)
    state = training_flow(config_path=str(config), return_state=True)
    # then it fails naming the database, with the password masked
    assert state.is_failed() and "postgresql+psycopg://perennial:***@127.0.0.1:9/flights" in state.message
    assert SECRET not in state.message
    # and no MLflow param, tag, metric name or artifact holds the password
    experiment = MlflowClient().get_experiment_by_name("tiny")
    (run,) = MlflowClient().search_runs([experiment.experiment_id])
    recorded = [*run.data.params.items(), *run.data.tags.items()]
    assert recorded and not [kv for kv in recorded if SECRET in str(kv)]
    texts = _artifact_texts(run.info.run_id)
    assert "config/config.json" in texts and "127.0.0.1:9/flights" in texts["config/config.json"]
    assert [name for name, text in texts.items() if SECRET in text] == []
    # and no line of the flow run's logs does
    logs = _logs(state.state_details.flow_run_id)
    assert logs and [line for line in logs if SECRET in line] == []
