"""The MLflow tracking server stops in the middle of a training run: bounded retries, FAILED, nothing promoted.

A real `mlflow server` on 127.0.0.1 (SQLite store); the training flow runs in a child process against
it; once the run's MLflow run exists (the flow is past its first task), the server is killed. The flow
must end FAILED within a bounded time with a message naming the server, and when the server is back,
the registry holds no champion and the ledger no move.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from mlflow.tracking import MlflowClient

from perennial.io.ledger import Ledger
from perennial.settings import MLFLOW_HTTP_DEFAULTS
from tests.slow.test_postgres_stack import BIN, ROOT, _free_port, http_ok, started, wait_until, write_project

pytestmark = pytest.mark.slow


def _mlflow(port: int, store: Path, artifacts: Path) -> list[str]:
    return [
        str(BIN / "mlflow"),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        f"sqlite:///{store}",
        "--default-artifact-root",
        artifacts.as_uri(),
    ]


def _training_run_started(tracking: str) -> bool:
    response = httpx.post(
        f"{tracking}/api/2.0/mlflow/runs/search", json={"experiment_ids": ["1"], "max_results": 5}, timeout=2
    )
    return response.status_code == 200 and bool(response.json().get("runs"))


def test_a_tracking_server_that_stops_mid_run_fails_the_flow_and_promotes_nothing(tmp_path: Path) -> None:
    config = write_project(tmp_path)  # tiny data; candidates on a Dask LocalCluster take a few seconds
    port = _free_port()
    tracking = f"http://127.0.0.1:{port}"
    logs, state = tmp_path / "logs", tmp_path / "state"
    logs.mkdir()
    state.mkdir()
    store, artifacts = state / "mlflow.db", state / "mlartifacts"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_", "PERENNIAL_"))}
    env = (
        base
        | MLFLOW_HTTP_DEFAULTS
        | {"MLFLOW_TRACKING_URI": tracking, "PERENNIAL_STATE_DIR": str(state), "TQDM_DISABLE": "1"}
    )
    with ExitStack() as stack:
        server = stack.enter_context(started("mlflow-1", _mlflow(port, store, artifacts), logs, env=base))
        wait_until(lambda: http_ok(f"{tracking}/health"), server, timeout=120)
        # given a training run in flight against the tracking server
        flow = subprocess.Popen(
            [sys.executable, "-m", "flows.training", "--config", str(config)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        wait_until(lambda: _training_run_started(tracking), server, timeout=120)
        # when the server goes away mid-run
        os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait(30)
        began = time.monotonic()
        output, _ = flow.communicate(timeout=600)
        took = time.monotonic() - began
    # then the flow fails, saying which server it could not reach, after bounded retries
    assert flow.returncode != 0, output[-3000:]
    assert "Finished in state Failed" in output and f"127.0.0.1:{port}" in output, output[-3000:]
    # bounded retries, not a hang: a task's own (Prefect's "Retry 1/2") or, where the server went away
    # during a task that only records, the MLflow client's HTTP retries running out
    assert "Retry 1/2" in output or "Retrying (Retry(total=0" in output, output[-3000:]
    assert took < 300, f"the flow took {took:.0f} s to fail after the server stopped"
    print(f"failed {took:.0f} s after the server stopped")
    # and when the server is back, no model is champion and the ledger recorded no move
    with ExitStack() as stack:
        again = stack.enter_context(started("mlflow-2", _mlflow(port, store, artifacts), logs, env=base))
        wait_until(lambda: http_ok(f"{tracking}/health"), again, timeout=120)
        client = MlflowClient(tracking)
        models = client.search_registered_models()
        assert all(not m.aliases for m in models), [(m.name, m.aliases) for m in models]
    ledger = Ledger(f"sqlite:///{state / 'ledger.db'}")
    try:
        assert ledger.history("tiny-delay", limit=10) == []
    finally:
        ledger.close()
