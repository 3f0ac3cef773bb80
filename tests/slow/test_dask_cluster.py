"""docker compose's Dask cluster, run natively: a scheduler and two workers started by the command lines
compose's services run (``perennial.io.dask_cluster``, which tests/unit/io/test_compose_env.py holds the
compose file to), each in its own process group on 127.0.0.1. The batch scoring and monitoring flows,
unchanged, with ``data.engine: {kind: dask}``, join it through PERENNIAL_DASK_ADDRESS and store and find
what the in-memory path does. Then `perennial up --dask` starts the same cluster beside its servers,
commands join it, and `perennial down` stops it.

(This machine has no Docker daemon: compose itself is not run; these are its command lines.)
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from flows.batch_scoring import batch_scoring_flow
from flows.monitoring import monitoring_flow
from flows.training import training_flow
from perennial.config import load_config
from perennial.core.partitions import split_frame
from perennial.io.dask_cluster import WORKERS
from perennial.io.prediction_store import open_store
from perennial.io.stack import dask_commands
from tests.conftest import config_dict
from tests.integration.conftest import _in_harness, project, state  # noqa: F401 (fixtures; autouse harness)
from tests.integration.test_batch_scoring_partitions import RUN_COLUMNS, dashboard_links
from tests.slow.test_postgres_stack import ROOT, _free_port, started, wait_until
from tests.slow.test_stack import _alive, _perennial, _tiny_project
from tests.unit.io.test_stack import DASK_ADDRESS_SEEN

pytestmark = pytest.mark.slow

START, END = dt.date(2013, 4, 1), dt.date(2013, 4, 15)
MONITORING = {"window": "week", "min_labelled_rows": 50, "report_sample_rows": 200}


def _workers(dashboard: str) -> int:
    return int(httpx.get(f"{dashboard}/json/counts.json", timeout=2).json()["workers"])


@contextmanager
def compose_cluster(logs: Path) -> Iterator[tuple[str, str]]:
    """The scheduler and its two workers, as compose runs them, on free loopback ports: (address, dashboard)."""
    port, dashboard_port = _free_port(), _free_port()
    dashboard = f"http://127.0.0.1:{dashboard_port}"
    # what compose's image sets: the checkout importable (a partition's functions travel by module name)
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    env["DASK_DISTRIBUTED__ADMIN__LOW_LEVEL_LOG_LENGTH"] = "1000000"  # the test reads every key the scheduler moved
    with ExitStack() as stack:
        processes = [
            stack.enter_context(started(name, command, logs, env=env, cwd=ROOT))
            for name, command in dask_commands("127.0.0.1", port, dashboard_port)
        ]
        for process in processes:
            wait_until(lambda: _workers(dashboard) == len(WORKERS), process)
        yield f"tcp://127.0.0.1:{port}", dashboard


def _on_scheduler(address: str) -> tuple[set[str], dict[str, int]]:
    """The keys the scheduler has moved (a fused task's key names each step fused into it), and how many
    tasks each worker executed."""
    from distributed import Client

    with Client(address, timeout=30) as client:  # type: ignore[no-untyped-call]
        keys = client.run_on_scheduler(
            lambda dask_scheduler: sorted({str(t[0]) for t in dask_scheduler.transition_log})
        )
        executed = client.run(lambda dask_worker: dask_worker.state.executed_count)
    return set(keys), executed


def _stored(config: str, root: Path) -> pd.DataFrame:
    rows = open_store(load_config(config), root).read("batch")
    return rows.drop(columns=RUN_COLUMNS).sort_values("id").reset_index(drop=True)


def test_scoring_and_monitoring_run_on_the_compose_cluster_and_equal_the_in_memory_path(
    project: Any,  # noqa: F811 (fixture)
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given v1 trained on the demo-shaped flights, held as a partitioned Parquet directory of 7 files
    parts = tmp_path / "flights-parts"
    parts.mkdir()
    for i, part in enumerate(split_frame(pd.read_parquet(project.data), 7)):
        part.to_parquet(parts / f"part-{i:02}.parquet", index=False)
    shared = {
        "data.source.path": str(parts),
        "monitoring": MONITORING,
        "training.candidates": config_dict()["training"]["candidates"][:1],  # the model is not on trial
    }
    configs = {
        engine: project.write_config(f"{engine}.yaml", **shared, **{"data.engine": {"kind": engine}})
        for engine in ("pandas", "dask")
    }
    assert training_flow(config_path=configs["pandas"]).version == "1"
    # and the window scored in memory
    assert batch_scoring_flow(config_path=configs["pandas"], start=START, end=END, return_state=True).is_completed()
    in_memory = _stored(configs["pandas"], project.settings.root)
    logs = tmp_path / "logs"
    logs.mkdir()
    with compose_cluster(logs) as (address, dashboard):
        monkeypatch.setenv("PERENNIAL_DASK_ADDRESS", address)
        # when the same window is scored with data.engine: {kind: dask}, the config naming no cluster
        scored = batch_scoring_flow(config_path=configs["dask"], start=START, end=END, return_state=True)
        after_scoring, _ = _on_scheduler(address)
        # and monitored by each engine over the same store, each with a ledger of its own
        monitored = {}
        for engine, config in configs.items():
            monkeypatch.setenv("PERENNIAL_LEDGER_URL", f"sqlite:///{tmp_path / f'{engine}-ledger.db'}")
            monitored[engine] = monitoring_flow(
                config_path=config, window_start=START, window_end=END, return_state=True
            )
        after_monitoring, executed = _on_scheduler(address)

    # then the cluster's workers wrote the partitions, and the store holds the in-memory rows, value for value
    assert scored.is_completed(), scored.message
    assert any("_write_part" in key for key in after_scoring), after_scoring
    pd.testing.assert_frame_equal(_stored(configs["dask"], project.settings.root), in_memory, check_exact=True)
    # and the monitoring run read the store's partitions on it, and found what the in-memory run found
    assert monitored["pandas"].is_completed(), monitored["pandas"].message
    assert monitored["dask"].is_completed(), monitored["dask"].message
    assert any("summarise_predictions" in key for key in after_monitoring - after_scoring), (
        after_monitoring - after_scoring
    )
    results = {e: {k: v for k, v in s.result().items() if k != "mlflow_run_id"} for e, s in monitored.items()}
    assert results["dask"] == results["pandas"] and results["dask"]["rows"] == len(in_memory) > 0
    # and both workers took part
    assert len(executed) == len(WORKERS) and all(count > 0 for count in executed.values()), executed
    # and each run linked the cluster's dashboard in its artifacts
    for state_ in (scored, monitored["dask"]):
        assert dashboard_links(state_) == [f"[Dask dashboard]({dashboard}/status)"]


def test_up_with_dask_starts_the_cluster_commands_join_it_and_down_stops_it(tmp_path: Path) -> None:
    config, state_dir, env = _tiny_project(tmp_path, rows=2000, days=60)
    ports = [_free_port() for _ in range(4)]
    options = ["--prefect-port", "--mlflow-port", "--dask-port", "--dask-dashboard-port"]
    # given `perennial up --dask` on free ports
    up = _perennial(
        env, "up", "--dask", "--config", str(config), *(str(x) for p in zip(options, ports, strict=True) for x in p)
    )
    assert up.returncode == 0, up.stdout + up.stderr
    record = json.loads((state_dir / "stack.json").read_text())
    try:
        # then it names the cluster and its dashboard, and both workers have joined the scheduler
        address, dashboard = f"tcp://127.0.0.1:{ports[2]}", f"http://127.0.0.1:{ports[3]}"
        assert record["dask"] == address and record["dask_dashboard"] == f"{dashboard}/status"
        assert f"{dashboard}/status" in up.stdout and address in up.stdout
        names = [p["name"] for p in record["processes"]]
        assert names == ["prefect-server", "mlflow-server", "dask-scheduler", *WORKERS, "deployments"]
        assert _workers(dashboard) == len(WORKERS)
        assert all((state_dir / "logs" / f"{name}.log").is_file() for name in names)
        # and a command of the project joins it, as do the served deployments' flow runs
        seen = subprocess.run(
            [sys.executable, "-c", DASK_ADDRESS_SEEN], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert seen.returncode == 0 and seen.stdout.strip() == address, seen.stderr
        deployments = Path(f"/proc/{record['processes'][-1]['pid']}/environ").read_bytes().split(b"\0")
        assert f"PERENNIAL_DASK_ADDRESS={address}".encode() in deployments
    finally:
        # when it is brought down
        down = _perennial(env, "down")
    # then every process it started is gone, the Dask ones too, and their ports are free
    assert down.returncode == 0 and "dask-scheduler" in down.stdout, down.stdout + down.stderr
    assert [p["name"] for p in record["processes"] if _alive(p["pid"])] == []
    for port in ports[2:]:
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
