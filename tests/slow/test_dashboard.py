"""What a Prefect UI user sees, in a real browser: headless Chromium (Debian's package) on a real server.

A real Prefect server on 127.0.0.1 runs the training, scoring and monitoring flows on a drifted window;
Chromium then renders the monitoring flow-run page, the gate report and the drift table artifacts, and
the test reads the rendered DOM. Screenshots are kept in ``test-artifacts/`` at the project root.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.slow.test_postgres_stack import ROOT, _free_port, http_ok, prefect_api, started, wait_until

pytestmark = pytest.mark.slow

SHOTS = ROOT / "test-artifacts"

# Runs in a child process against the server: train v1, score and monitor a drifted April
LOOP = """
import datetime as dt, json, sys
import pandas as pd, yaml
from tests.conftest import config_dict, make_flights
from flows.training import training_flow
from flows.batch_scoring import batch_scoring_flow
from flows.monitoring import monitoring_flow

folder = sys.argv[1]
frame = make_flights(rows=4000, days=120)
hot = frame["time_hour"] >= pd.Timestamp("2013-04-01", tz="UTC")
raw = config_dict(f"{folder}/flights.parquet")
raw["monitoring"] = {"window": "week", "retraining": {"k": 1, "n": 1}}
with open(f"{folder}/tiny.yaml", "w") as fh:
    yaml.safe_dump(raw, fh)
frame.to_parquet(f"{folder}/flights.parquet", index=False)
training_flow(f"{folder}/tiny.yaml")
frame.loc[hot, "temp"] += 25.0
# shifted, not scaled: a column whose every quartile moves by one factor is refused as a unit change
frame.loc[hot, "distance"] += 400.0
frame.to_parquet(f"{folder}/flights.parquet", index=False)
window = dict(start=dt.date(2013, 4, 1), end=dt.date(2013, 4, 8))
batch_scoring_flow(f"{folder}/tiny.yaml", **window)
result = monitoring_flow(f"{folder}/tiny.yaml", window["start"], window["end"])
print("RESULT " + json.dumps({"drifted": result["drifted_columns"], "event": result["event"]}))
"""


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("headless Chromium is missing: install Debian's package (apt-get install -y chromium)")
    return found


def _browse(url: str, screenshot: Path | None = None) -> str:
    """The page's DOM after its scripts ran (the UI is a single-page app), and optionally a screenshot."""
    base = [
        _chromium(),
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--virtual-time-budget=20000",
        "--window-size=1400,1000",
    ]
    if screenshot is not None:
        subprocess.run([*base, f"--screenshot={screenshot}", url], capture_output=True, timeout=120, check=True)
    done = subprocess.run([*base, "--dump-dom", url], capture_output=True, timeout=120, check=True, text=True)
    return done.stdout


def _api(api: str, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = prefect_api("POST", f"{api}{path}", json=body)
    response.raise_for_status()
    return response.json()


def test_the_dashboard_renders_the_monitoring_run_the_gate_report_and_the_drift_table(tmp_path: Path) -> None:
    SHOTS.mkdir(exist_ok=True)
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    logs = tmp_path / "logs"
    logs.mkdir()
    server_env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_API_URL": api,
    }  # the browser asks the API where the UI was told it is
    flow_env = {
        **os.environ,
        "PREFECT_API_URL": api,
        "PERENNIAL_STATE_DIR": str(tmp_path / "state"),
        "PREFECT_HOME": str(tmp_path / "client"),
        "TQDM_DISABLE": "1",
    }
    for key in ("MLFLOW_TRACKING_URI", "PERENNIAL_ARTIFACT_ROOT", "PERENNIAL_LEDGER_URL"):
        flow_env.pop(key, None)  # everything under this test's state folder
    with ExitStack() as stack:
        server = stack.enter_context(
            started(
                "prefect-server",
                [
                    str(Path(sys.executable).parent / "prefect"),
                    "server",
                    "start",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                logs,
                env=server_env,
            )
        )
        wait_until(lambda: http_ok(f"{api}/health"), server, timeout=180)
        # given the loop's flows ran on the server: a champion, a scored window, a drifted window monitored
        done = subprocess.run(
            [sys.executable, "-c", LOOP, str(tmp_path)],
            cwd=ROOT,
            env=flow_env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        result = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))[7:])
        assert "temp" in result["drifted"] and result["event"] == "perennial.drift.detected"
        (monitor,) = _api(api, "/flow_runs/filter", {"flow_runs": {"name": {"any_": ["monitor-tiny-2013-04-01"]}}})
        artifacts = {a["key"]: a for a in _api(api, "/artifacts/filter", {}) if a["key"]}
        # when a user opens the monitoring flow run in the UI
        page = _browse(f"http://127.0.0.1:{port}/runs/flow-run/{monitor['id']}", SHOTS / "dashboard-flow-run.png")
        # then the run is there by its readable name, completed
        assert "monitor-tiny-2013-04-01" in page and "Completed" in page
        # when they open the gate report of the training run
        gate = _browse(
            f"http://127.0.0.1:{port}/artifacts/artifact/{artifacts['tiny-gate-report']['id']}",
            SHOTS / "dashboard-gate-report.png",
        )
        # then the verdict and its checks are rendered
        assert "Gate PASSED" in gate and "primary floor" in gate
        # when they open the window's drift table
        drift = _browse(
            f"http://127.0.0.1:{port}/artifacts/artifact/{artifacts['tiny-drift-2013-04-01']['id']}",
            SHOTS / "dashboard-drift-table.png",
        )
        # then each column's test and verdict is a table row
        assert "wasserstein" in drift and ">temp<" in drift and ">distance<" in drift
        # and the monitoring verdict links the MLflow run and names the event sent
        verdict = _browse(f"http://127.0.0.1:{port}/artifacts/artifact/{artifacts['tiny-monitoring-2013-04-01']['id']}")
        assert "perennial.drift.detected" in verdict and "MLflow run" in verdict
    assert all(
        (SHOTS / f"dashboard-{n}.png").stat().st_size > 10_000 for n in ("flow-run", "gate-report", "drift-table")
    )
