"""`perennial up`, a drift event, the retrain it triggers on the real server, then `perennial down`.

Everything on 127.0.0.1, free ports, a temporary state folder: the Prefect server, the MLflow server
and the served deployments are real processes started by `perennial up`; the event is a typed
Perennial event emitted by a separate process; the training run is created by the server's
automation and executed by the served deployment. `perennial down` must leave nothing behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import config_dict, make_flights
from tests.slow.test_postgres_stack import ROOT, TERMINAL, _free_port, prefect_api

pytestmark = pytest.mark.slow

EMIT = """
from perennial.settings import apply_defaults
apply_defaults()
from perennial.core.events import DriftDetected
from tasks.events import emit
for window, start, end in [("2013-04", "2013-04-01", "2013-04-15")] * 3 + [("2013-05", "2013-04-15", "2013-05-01")]:
    emit(DriftDetected(dataset="tiny", window=window, drift_share=0.6, drifted_columns=("temp",),
                       prediction_drift=True, train_end=start, holdout_end=end))
from prefect.events.worker import EventsWorker
EventsWorker.drain_all()
"""


def _perennial(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "perennial"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _training_runs(api: str, triggered: bool = True) -> list[dict[str, Any]]:
    """The training deployment's runs: those an event triggered (they carry a window), or the scheduled ones."""
    body = {"flows": {"name": {"any_": ["training"]}}, "deployments": {"name": {"any_": ["training"]}}}
    runs = prefect_api("POST", f"{api}/flow_runs/filter", json=body).raise_for_status().json()
    return [r for r in runs if ("holdout_end" in r["parameters"]) == triggered]


def _verdict(run: dict[str, Any]) -> str:
    """COMPLETED, "gate FAILED" when the run failed at the promotion gate, else its state and message."""
    message = (run.get("state") or {}).get("message") or ""
    if run["state_type"] == "FAILED" and "gate FAILED for candidate" in message:
        return "gate FAILED"
    return run["state_type"] if run["state_type"] == "COMPLETED" else f"{run['state_type']}: {message[:300]}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _tiny_project(tmp_path: Path, rows: int, days: int) -> tuple[Path, Path, dict[str, str]]:
    """A flights config and state folder under ``tmp_path``, and an environment that points the CLI at
    them alone (none of this shell's PREFECT_, MLFLOW_ or PERENNIAL_ settings)."""
    data, config = tmp_path / "flights.parquet", tmp_path / "tiny.yaml"
    make_flights(rows=rows, days=days).to_parquet(data, index=False)
    config.write_text(yaml.safe_dump(config_dict(str(data))))
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_", "PERENNIAL_"))}
    env |= {"PERENNIAL_STATE_DIR": str(state), "TQDM_DISABLE": "1"}
    return config, state, env


def test_up_then_a_drift_event_retrains_once_through_the_server_then_down(tmp_path: Path) -> None:
    config, state, env = _tiny_project(tmp_path, rows=4000, days=120)
    ports = [_free_port(), _free_port()]
    api = f"http://127.0.0.1:{ports[0]}/api"
    # given `perennial up` on free ports
    started = _perennial(
        env, "up", "--config", str(config), "--prefect-port", str(ports[0]), "--mlflow-port", str(ports[1])
    )
    assert started.returncode == 0, started.stdout + started.stderr
    record = json.loads((state / "stack.json").read_text())
    try:
        assert f"http://127.0.0.1:{ports[0]}" in started.stdout and f"http://127.0.0.1:{ports[1]}" in started.stdout
        assert httpx.get(f"{record['mlflow']}/health", timeout=5).status_code == 200
        for name in ("training/training", "batch-scoring/batch-scoring", "monitoring/monitoring"):
            assert prefect_api("GET", f"{api}/deployments/name/{name}").status_code == 200, name
        # and a second `up` finds it running instead of starting another
        again = _perennial(
            env, "up", "--config", str(config), "--prefect-port", str(ports[0]), "--mlflow-port", str(ports[1])
        )
        assert again.returncode == 0 and "already up" in again.stdout
        # and a champion trained through the servers (the CLI finds them by the stack record)
        trained = _perennial(env, "train", "--config", str(config))
        assert trained.returncode == 0, trained.stdout + trained.stderr
        assert len(_training_runs(api)) == 0  # a CLI run is not a deployment run
        scheduled = _training_runs(api, triggered=False)  # the monthly cron, planned ahead by the scheduler
        assert scheduled and {r["state_type"] for r in scheduled} == {"SCHEDULED"}
        # when three monitors report drift for one window and one reports the next
        emitted = subprocess.run(
            [sys.executable, "-c", EMIT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert emitted.returncode == 0, emitted.stderr
        # then the server's trigger creates one training run per window, and the served deployment runs them
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            runs = _training_runs(api)
            if len(runs) >= 2 and all(r["state_type"] in TERMINAL for r in runs):
                break
            time.sleep(2)
        log = Path(record["processes"][2]["log"]).read_text()[-3000:]
        windows = sorted((r["parameters"]["train_end"], r["parameters"]["holdout_end"], _verdict(r)) for r in runs)
        # each ran to the gate's verdict: on this synthetic table nothing really changed, so a retrain asked
        # for by drift alone may be promoted or refused as no better; a crash before the gate is neither
        assert [w[:2] for w in windows] == [("2013-04-01", "2013-04-15"), ("2013-04-15", "2013-05-01")], log
        assert {w[2] for w in windows} <= {"COMPLETED", "gate FAILED"}, (windows, log)
    finally:
        # when it is brought down
        stopped = _perennial(env, "down")
    # then every process it started is gone, the record is removed, the ports are free, the automation deleted
    assert stopped.returncode == 0 and "prefect-server" in stopped.stdout
    assert not (state / "stack.json").exists()
    assert [p["name"] for p in record["processes"] if _alive(p["pid"])] == []
    for port in ports:
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
    assert "removed 1 automation(s) of tiny" in Path(record["processes"][2]["log"]).read_text()
