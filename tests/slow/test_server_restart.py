"""The Prefect server restarts while a deployment's training run is in flight: recovered or crashed, never half-done.

A real Prefect server (SQLite) on 127.0.0.1, the training flow served by `flow.serve` in its own process,
one run created through the REST API; once it runs, the server is stopped (SIGTERM to its process group)
and started again on the same port and database. The run must end in a final state the server knows,
and the registry, the promotion ledger and `perennial doctor` must agree with it: a completed run left
a champion recorded in the ledger; anything else left no alias moved.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import mlflow
import pytest

from perennial.io.doctor import diagnose
from perennial.io.ledger import Ledger
from perennial.io.registry import CHAMPION, Registry
from tests.slow.test_postgres_stack import (
    BIN,
    ROOT,
    TERMINAL,
    _free_port,
    http_ok,
    prefect_api,
    started,
    wait_until,
    write_project,
)

pytestmark = pytest.mark.slow

SERVE = "from flows.training import training_flow; import sys; training_flow.serve(name='restart', parameters={'config_path': sys.argv[1]})"


def _run_state(api: str, run_id: str) -> str | None:
    try:
        return prefect_api("GET", f"{api}/flow_runs/{run_id}").raise_for_status().json()["state_type"]
    except httpx.HTTPError:
        return None


def test_a_server_restart_mid_run_leaves_a_final_state_and_a_consistent_registry(tmp_path: Path) -> None:
    config = write_project(tmp_path)
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    logs, state = tmp_path / "logs", tmp_path / "state"
    logs.mkdir()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_", "PERENNIAL_"))}
    base |= {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "TQDM_DISABLE": "1"}
    server_env = base | {"PREFECT_HOME": str(tmp_path / "server"), "PREFECT_UI_ENABLED": "false"}
    tracking, ledger_url = f"sqlite:///{state / 'mlflow.db'}", f"sqlite:///{state / 'ledger.db'}"
    client_env = base | {
        "PREFECT_API_URL": api,
        "PREFECT_HOME": str(tmp_path / "client"),
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
        "PERENNIAL_STATE_DIR": str(state),
        "MLFLOW_TRACKING_URI": tracking,
        "PERENNIAL_LEDGER_URL": ledger_url,
    }
    server_cmd = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with ExitStack() as stack:
        first = stack.enter_context(started("prefect-server-1", server_cmd, logs, env=server_env))
        wait_until(lambda: http_ok(f"{api}/health"), first, timeout=180)
        runner = stack.enter_context(
            started("serve", [sys.executable, "-c", SERVE, str(config)], logs, env=client_env, cwd=ROOT)
        )
        deployment = f"{api}/deployments/name/training/restart"
        wait_until(lambda: prefect_api("GET", deployment).status_code == 200, runner)
        # given a training run started by the served deployment
        dep = prefect_api("GET", deployment).json()
        created = prefect_api("POST", f"{api}/deployments/{dep['id']}/create_flow_run", json={})
        assert created.status_code == 201, f"{created.status_code}: {created.text[:2000]}"  # once seen without an id
        run_id = created.json()["id"]
        wait_until(lambda: _run_state(api, run_id) == "RUNNING", runner, timeout=120)
        time.sleep(2)  # inside the flow: validating or training
        # when the Prefect server goes away mid-run and comes back on the same database
        stack_first = first.proc.pid
        os.killpg(stack_first, 15)
        first.proc.wait(60)
        time.sleep(5)
        second = stack.enter_context(started("prefect-server-2", server_cmd, logs, env=server_env))
        wait_until(lambda: http_ok(f"{api}/health"), second, timeout=180)
        # then the run reaches a final state the server records
        deadline = time.monotonic() + 300
        while (final := _run_state(api, run_id)) not in TERMINAL and time.monotonic() < deadline:
            time.sleep(1)
        assert final in TERMINAL, f"run still {final}; runner:\n{runner.tail()}"
    # and the registry, the ledger and doctor agree with that state: never half-done
    mlflow.set_tracking_uri(tracking)
    registry, ledger = Registry("tiny-delay"), Ledger(ledger_url)
    try:
        moves = ledger.history("tiny-delay", limit=100)
    finally:
        ledger.close()
    if final == "COMPLETED":
        assert registry.alias_version(CHAMPION) == "1" and any(m.alias == CHAMPION and m.version == "1" for m in moves)
    else:
        assert registry.alias_version(CHAMPION) is None and moves == []
    report = diagnose("tiny-delay", ledger_url, None, repair=True)
    assert report.healthy, report.findings
    print(f"flow run after the restart: {final}")  # the figure the close note reports
