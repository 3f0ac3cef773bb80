"""Past one machine, for real: Prefect and MLflow on PostgreSQL, a process work pool and a worker,
and the training deployment run through the pool with candidates on a Dask LocalCluster.

Everything starts on 127.0.0.1 on free ports under a temporary folder and is stopped by
process id (each in its own process group) in a finally. Needs Debian's PostgreSQL
(`apt-get install -y postgresql`): `initdb` and `postgres` on PATH or under /usr/lib/postgresql.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import create_engine, text

from tests.conftest import config_dict, make_flights

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PASSWORD = "perennial"
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def _pg_binary(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))), None)
    if not found:
        pytest.fail(f"PostgreSQL's '{name}' is missing: install Debian's package (apt-get install -y postgresql)")
    return str(found)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Started:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def started(
    name: str, cmd: list[str], logs: Path, stop_signal: int = signal.SIGTERM, **popen: Any
) -> Iterator[Started]:
    """Start a process in its own group; on exit signal that group (its id is the pid) and reap it."""
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **popen)
    try:
        yield Started(name, proc, log)
    finally:
        for sig, grace in ((stop_signal, 30), (signal.SIGKILL, 10)):
            if proc.poll() is not None:
                break
            os.killpg(proc.pid, sig)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                continue


def wait_until(check: Any, what: Started, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if what.proc.poll() is not None:
            pytest.fail(f"{what.name} exited with {what.proc.returncode}:\n{what.tail()}")
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.5)
    pytest.fail(f"{what.name} not ready after {timeout:.0f} s:\n{what.tail()}")


def http_ok(url: str) -> bool:
    return httpx.get(url, timeout=2).status_code == 200


def prefect_api(method: str, url: str, json: Any = None, tries: int = 8) -> httpx.Response:
    """One Prefect REST call, retried on 503 the way Prefect's own client does: a SQLite-backed server
    answers 503 when its database is busy (`is_client_retryable_exception`), which a busy CI box meets."""
    for attempt in range(tries):
        response = httpx.request(method, url, json=json, timeout=10)
        if response.status_code != 503 or attempt == tries - 1:
            return response
        time.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


@contextmanager
def postgres(base: Path, logs: Path) -> Iterator[str]:
    """A throwaway cluster on a free port; yields a URL template with {driver} and {db}."""
    as_root = os.geteuid() == 0  # initdb and postgres refuse to run as root: run them as 'postgres'
    user = {"user": "postgres"} if as_root else {}
    pw = base / "pw"
    pw.write_text(PASSWORD)
    if as_root:
        shutil.chown(base, "postgres")
        shutil.chown(pw, "postgres")
    data = base / "data"
    subprocess.run(
        [
            _pg_binary("initdb"),
            "-D",
            str(data),
            "-U",
            "perennial",
            f"--pwfile={pw}",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
        **user,
    )
    port = _free_port()
    cmd = [
        _pg_binary("postgres"),
        "-D",
        str(data),
        "-p",
        str(port),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        f"unix_socket_directories={base}",
        "-c",
        "fsync=off",
        "-c",
        "synchronous_commit=off",
    ]
    url = f"postgresql+{{driver}}://perennial:{PASSWORD}@127.0.0.1:{port}/{{db}}"
    with started("postgres", cmd, logs, stop_signal=signal.SIGINT, **user) as pg:
        admin = create_engine(url.format(driver="psycopg", db="postgres"), isolation_level="AUTOCOMMIT")
        wait_until(lambda: admin.connect().close() is None, pg)
        with admin.connect() as conn:
            for db in ("prefect", "mlflow", "perennial"):
                conn.execute(text(f"CREATE DATABASE {db}"))
        admin.dispose()
        yield url


def query(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def write_project(folder: Path) -> Path:
    """Tiny data and a config whose candidates train on a 2-worker Dask LocalCluster."""
    data = folder / "flights.parquet"
    make_flights(rows=4000, days=120).to_parquet(data, index=False)
    raw = config_dict(str(data))
    raw["training"]["task_runner"] = {"kind": "dask", "n_workers": 2, "threads_per_worker": 1}
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def run_deployment(api: str, deployment: str, timeout: float, worker: Started) -> dict[str, Any]:
    """Create a flow run of a deployment through the REST API and wait for a final state."""
    with httpx.Client(base_url=api, timeout=10) as client:
        dep = client.get(f"/deployments/name/{deployment}").raise_for_status().json()
        run = client.post(f"/deployments/{dep['id']}/create_flow_run", json={}).raise_for_status().json()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = client.get(f"/flow_runs/{run['id']}").raise_for_status().json()
            if run["state_type"] in TERMINAL:
                return run
            time.sleep(1)
    pytest.fail(f"flow run {run['id']} still {run['state_type']} after {timeout:.0f} s; worker:\n{worker.tail()}")


def test_training_runs_through_a_process_pool_on_postgres_backed_prefect_and_mlflow(tmp_path: Path) -> None:
    base = Path(tempfile.mkdtemp(prefix="perennial-pg-"))  # outside pytest's 0700 tree: 'postgres' must enter it
    logs, state = tmp_path / "logs", tmp_path / "state"
    logs.mkdir()
    config = write_project(tmp_path)
    prefect_port, mlflow_port = _free_port(), _free_port()
    api, tracking = f"http://127.0.0.1:{prefect_port}/api", f"http://127.0.0.1:{mlflow_port}"
    try:
        with ExitStack() as stack:
            # given PostgreSQL with a database each for Prefect, MLflow and the promotion ledger
            url = stack.enter_context(postgres(base, logs))
            env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_", "PERENNIAL_"))}
            env |= {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "TQDM_DISABLE": "1", "GIT_PYTHON_REFRESH": "quiet"}
            # and a Prefect server and an MLflow server on it: configuration only
            server_env = env | {
                "PREFECT_HOME": str(tmp_path / "prefect-server"),
                "PREFECT_API_DATABASE_CONNECTION_URL": url.format(driver="asyncpg", db="prefect"),
                "PREFECT_UI_ENABLED": "false",
            }
            prefect_server = stack.enter_context(
                started(
                    "prefect-server",
                    [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(prefect_port)],
                    logs,
                    env=server_env,
                )
            )
            mlflow_server = stack.enter_context(
                started(
                    "mlflow-server",
                    [
                        str(BIN / "mlflow"),
                        "server",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(mlflow_port),
                        "--backend-store-uri",
                        url.format(driver="psycopg", db="mlflow"),
                        "--artifacts-destination",
                        str(tmp_path / "mlartifacts"),
                        "--workers",
                        "1",
                    ],
                    logs,
                    env=env,
                )
            )
            wait_until(lambda: http_ok(f"{api}/health"), prefect_server, timeout=180)
            wait_until(lambda: http_ok(f"{tracking}/health"), mlflow_server, timeout=180)
            # and the client side pointed at them by the environment alone
            client_env = env | {
                "PREFECT_API_URL": api,
                "PREFECT_HOME": str(tmp_path / "prefect-client"),
                "PREFECT_WORKER_QUERY_SECONDS": "1",
                "MLFLOW_TRACKING_URI": tracking,
                "PERENNIAL_STATE_DIR": str(state),
                "PERENNIAL_ARTIFACT_ROOT": "mlflow-artifacts:/",
                "PERENNIAL_LEDGER_URL": url.format(driver="psycopg", db="perennial"),
            }
            cli = {"env": client_env, "cwd": ROOT, "check": True, "capture_output": True, "timeout": 180}
            subprocess.run([str(BIN / "prefect"), "work-pool", "create", "perennial-test", "--type", "process"], **cli)
            worker = stack.enter_context(
                started(
                    "worker",
                    [str(BIN / "prefect"), "worker", "start", "--pool", "perennial-test", "--type", "process"],
                    logs,
                    env=client_env,
                    cwd=ROOT,
                )
            )
            deployed = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "deployments.work_pool.deploy",
                    "--pool",
                    "perennial-test",
                    "--config",
                    str(config),
                ],
                **cli | {"check": False},
            )
            assert deployed.returncode == 0, deployed.stdout.decode() + deployed.stderr.decode()

            # when the training deployment is run through the pool
            run = run_deployment(api, "training/training-pool", timeout=300, worker=worker)

            # then the flow run completed, as the Postgres-backed Prefect store records it
            assert run["state_type"] == "COMPLETED", f"{run['state']}\nworker:\n{worker.tail(80)}"
            prefect_db = url.format(driver="psycopg", db="prefect")
            assert query(prefect_db, "SELECT state_type FROM flow_run WHERE id = :id", id=run["id"]) == [("COMPLETED",)]
            names = {n for (n,) in query(prefect_db, "SELECT name FROM task_run WHERE flow_run_id = :id", id=run["id"])}
            assert {"train-hgb", "train-logreg"} <= names
            pools = (
                "SELECT d.name, p.name FROM deployment d JOIN work_pool p ON d.work_queue_id IN "
                "(SELECT id FROM work_queue WHERE work_pool_id = p.id)"
            )
            assert {("training-pool", "perennial-test"), ("batch-scoring-pool", "perennial-test")} <= set(
                query(prefect_db, pools)
            )
            # and the candidates ran on a Dask LocalCluster started for the run (the flow-run process logs to the worker)
            assert "Creating a new Dask cluster with `distributed.deploy.local.LocalCluster`" in worker.log.read_text()

            # and the MLflow run, the model and its aliases landed in the Postgres-backed MLflow
            from mlflow.tracking import MlflowClient

            client = MlflowClient(tracking_uri=tracking, registry_uri=tracking)
            experiment = client.get_experiment_by_name("tiny")
            runs = client.search_runs([experiment.experiment_id], f"tags.`prefect.flow_run_id` = '{run['id']}'")
            assert [r.info.status for r in runs] == ["FINISHED"]
            assert client.get_model_version_by_alias("tiny-delay", "champion").run_id
            mlflow_db = url.format(driver="psycopg", db="mlflow")
            aliases = set(
                query(mlflow_db, "SELECT alias, version FROM registered_model_aliases WHERE name = 'tiny-delay'")
            )
            assert aliases == {("champion", 1), ("challenger", 1)}
            assert query(mlflow_db, "SELECT status FROM runs WHERE run_uuid = :id", id=runs[0].info.run_id) == [
                ("FINISHED",)
            ]
            # and the artifacts went through the server to its artifact store, the alias moves to the ledger
            assert list((tmp_path / "mlartifacts").rglob("MLmodel"))
            moves = query(url.format(driver="psycopg", db="perennial"), "SELECT alias, version FROM promotions")
            assert {(a, str(v)) for a, v in moves} >= {("champion", "1"), ("challenger", "1")}

            # and a kubernetes pool from the shipped job template takes the image variant of the deployment
            subprocess.run(
                [
                    str(BIN / "prefect"),
                    "work-pool",
                    "create",
                    "perennial-k8s",
                    "--type",
                    "kubernetes",
                    "--base-job-template",
                    str(ROOT / "deployments/work_pool/kubernetes/base-job-template.json"),
                ],
                **cli,
            )
            imaged = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "deployments.work_pool.deploy",
                    "--pool",
                    "perennial-k8s",
                    "--config",
                    str(config),
                    "--image",
                    "perennial:test",
                    "--only",
                    "training-pool",
                ],
                **cli | {"check": False},
            )
            assert imaged.returncode == 0, imaged.stdout.decode() + imaged.stderr.decode()
            moved = query(prefect_db, pools.replace("SELECT d.name", "SELECT d.infra_overrides->>'image', d.name"))
            assert ("perennial:test", "training-pool", "perennial-k8s") in moved
    finally:
        shutil.rmtree(base, ignore_errors=True)
