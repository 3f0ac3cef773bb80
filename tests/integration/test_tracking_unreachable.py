"""MLflow's tracking server does not answer: bounded retries, then FAILED naming the server; nothing registered."""

from __future__ import annotations

import time
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from flows.training import training_flow
from perennial.settings import MLFLOW_HTTP_DEFAULTS


def _attempts(flow_run_id: Any, task: str, wait: float = 15.0) -> int:
    deadline = time.monotonic() + wait
    while True:  # task runs reach the API as events, shortly after
        with get_client(sync_client=True) as client:
            runs = [
                r
                for r in client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
                if r.name.startswith(task)
            ]
        if (runs and all(r.state and r.state.is_final() for r in runs)) or time.monotonic() > deadline:
            return sum(r.run_count for r in runs)
        time.sleep(0.2)


def test_an_unreachable_tracking_server_fails_the_flow_after_bounded_retries(
    project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a tracking server address where nothing listens, and Perennial's MLflow client defaults
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    for key, value in MLFLOW_HTTP_DEFAULTS.items():
        monkeypatch.setenv(key, value)
    config = project.write_config()
    # when the training flow runs
    state = training_flow(config_path=config, return_state=True)
    # then it ends FAILED with a message naming the server
    assert state.is_failed()
    assert "127.0.0.1:9" in state.message
    # and the run was tried a bounded number of times (the first task: opening the MLflow run), nothing after it
    flow_run_id = state.state_details.flow_run_id
    assert _attempts(flow_run_id, "start-mlflow-run") == 3
    assert _attempts(flow_run_id, "load-data", wait=1.0) == 0
