"""`perennial up` / `perennial down`: the real servers on localhost, started and stopped by process id.

Up starts, each in its own process group with its log under ``<state>/logs/``: the Prefect server
(its SQLite database is the state folder's, the one the ephemeral API used), the MLflow tracking
server on the state folder's store and artifacts, with ``--dask`` a Dask scheduler and two workers
(``perennial.io.dask_cluster``'s command lines, compose's), and ``python -m deployments.serve`` (the
deployments, their schedules and the retrain trigger) pointed at all of them. What it started is
written to ``<state>/stack.json``; while those processes live, every ``perennial`` command and flow
of this project talks to these servers and joins that cluster (see ``perennial.settings``). Down
stops exactly those process groups and removes the file.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from perennial.errors import PerennialError
from perennial.io import dask_cluster
from perennial.settings import STACK_FILE, Settings, is_recorded_process, process_identity, stack_alive


class StackError(PerennialError):
    """The stack cannot start (a port is taken, a server does not come up) or stop."""


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _start(name: str, command: list[str], logs: Path, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    log = logs / f"{name}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    started = {"name": name, "pid": process.pid, "log": str(log), "_process": process}
    # Popen returns once the exec has begun; until the kernel has set the new program up, its command line
    # reads empty (a record of that would name no live process): wait for the server's own
    identity, deadline = process_identity(process.pid), time.monotonic() + 10
    while identity is not None and not identity[0] and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
        identity = process_identity(process.pid)
    if identity is not None:
        started["cmdline"], started["started"] = identity
    return started


def _wait(started: dict[str, Any], ready: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if started["_process"].poll() is not None:
            tail = Path(started["log"]).read_text(errors="replace")[-2000:]
            raise StackError(
                f"{started['name']} exited with {started['_process'].returncode}; its log {started['log']} ends:\n{tail}"
            )
        if ready():
            return
        time.sleep(0.5)
    raise StackError(f"{started['name']} was not ready after {timeout:.0f} s: see {started['log']}")


def check_ports(host: str, prefect_port: int, mlflow_port: int, dask_ports: tuple[int, int] | None = None) -> None:
    """Fail naming the port (and its option) when something already listens on it."""
    named = [("Prefect", "--prefect-port", prefect_port), ("MLflow", "--mlflow-port", mlflow_port)]
    if dask_ports:
        named += [("Dask", "--dask-port", dask_ports[0]), ("Dask dashboard", "--dask-dashboard-port", dask_ports[1])]
    for what, option, port in named:
        if not _port_free(host, port):
            raise StackError(f"port {port} on {host} is taken ({what}): stop what uses it, or pass {option}")


def _client_free_env() -> dict[str, str]:
    # the servers must not be pointed at another server: they *are* the servers
    return {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API_URL", "MLFLOW_TRACKING_URI"))}


def server_commands(
    settings: Settings, host: str, prefect_port: int, mlflow_port: int
) -> list[tuple[str, list[str], dict[str, str]]]:
    """(name, command, environment) of the Prefect and MLflow servers on the state folder's stores.

    Shared by `perennial up` (background, with the deployments) and `perennial ui` (foreground).
    MLflow serves the embedded store and artifact root, so runs made before and after are the same.
    """
    bin_dir = Path(sys.executable).parent
    base = _client_free_env()
    prefect_env = base | {
        "PREFECT_HOME": str(settings.prefect_home),
        "PREFECT_UI_API_URL": f"http://{host}:{prefect_port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    return [
        (
            "prefect-server",
            [str(bin_dir / "prefect"), "server", "start", "--host", host, "--port", str(prefect_port)],
            prefect_env,
        ),
        (
            "mlflow-server",
            [
                str(bin_dir / "mlflow"),
                "server",
                "--backend-store-uri",
                settings.local_tracking_uri,
                "--default-artifact-root",
                settings.artifact_root,
                "--host",
                host,
                "--port",
                str(mlflow_port),
                "--workers",
                "1",
            ],
            base,
        ),
    ]


def dask_commands(host: str, port: int, dashboard_port: int) -> list[tuple[str, list[str]]]:
    """(name, command) of the Dask scheduler and its workers on ``host``: compose's command lines, with
    the workers' own ports on ``host`` too."""
    dask = str(Path(sys.executable).parent / "dask")
    address = f"tcp://{host}:{port}"
    workers = [
        (name, [dask, *dask_cluster.worker_args(address, name), *dask_cluster.loopback_worker(host)])
        for name in dask_cluster.WORKERS
    ]
    return [("dask-scheduler", [dask, *dask_cluster.scheduler_args(host, port, dashboard_port)]), *workers]


def _served_deployments(config_path: str) -> list[str]:
    """The deployments `python -m deployments.serve` registers, each named as its flow: the checkout's
    plan (imported from the project root, as the serve process reads it; not part of the package)."""
    import importlib

    deploy = importlib.import_module("deployments.work_pool.deploy")
    return [plan.served_name for plan in deploy.planned_deployments(config_path)]


def _workers_joined(dashboard: str) -> int:
    try:
        return int(httpx.get(f"{dashboard}/json/counts.json", timeout=2).json()["workers"])
    except (httpx.HTTPError, ValueError, KeyError):
        return 0


def read_stack(settings: Settings) -> dict[str, Any] | None:
    path = settings.state_dir / STACK_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def up(
    settings: Settings,
    config_path: str,
    host: str = "127.0.0.1",
    prefect_port: int = 4200,
    mlflow_port: int = 5000,
    timeout: float = 180,
    dask: bool = False,
    dask_port: int = dask_cluster.SCHEDULER_PORT,
    dashboard_port: int = dask_cluster.DASHBOARD_PORT,
) -> tuple[dict[str, Any], bool]:
    """Start the stack (or find it running): (its record, whether it was started now).

    With ``dask``, a scheduler and two workers too, started before the deployments: they (and, through
    the record, every command of the project) get ``PERENNIAL_DASK_ADDRESS`` unless the user set it.
    """
    existing = read_stack(settings)
    if existing and stack_alive(existing):
        return existing, False
    check_ports(host, prefect_port, mlflow_port, (dask_port, dashboard_port) if dask else None)
    logs = settings.state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    api, tracking = f"http://{host}:{prefect_port}/api", f"http://{host}:{mlflow_port}"
    address, dashboard = f"tcp://{host}:{dask_port}", f"http://{host}:{dashboard_port}"
    base = _client_free_env()
    clients = base | {
        "PREFECT_API_URL": api,
        "MLFLOW_TRACKING_URI": tracking,
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
        "PERENNIAL_STATE_DIR": str(settings.state_dir),
    }
    started: list[dict[str, Any]] = []
    try:
        for name, command, env in server_commands(settings, host, prefect_port, mlflow_port):
            started.append(_start(name, command, logs, env, settings.root))
        if dask:  # tasks run on the workers as in a flow run: this checkout importable, the same servers
            path = os.pathsep.join(filter(None, [str(settings.root), os.environ.get("PYTHONPATH")]))
            for name, command in dask_commands(host, dask_port, dashboard_port):
                started.append(_start(name, command, logs, clients | {"PYTHONPATH": path}, settings.root))
        _wait(started[0], lambda: _ok(f"{api}/health"), timeout)
        _wait(started[1], lambda: _ok(f"{tracking}/health"), timeout)
        if dask:
            _wait(started[2], lambda: _ok(f"{dashboard}/health"), timeout)
            for worker in started[3:]:
                _wait(worker, lambda: _workers_joined(dashboard) >= len(dask_cluster.WORKERS), timeout)
            clients["PERENNIAL_DASK_ADDRESS"] = os.environ.get("PERENNIAL_DASK_ADDRESS") or address
        started.append(
            _start(
                "deployments",
                [sys.executable, "-m", "deployments.serve", "--config", config_path],
                logs,
                clients,
                settings.root,
            )
        )
        # up is up when every deployment can be run: serve() registers them one after another
        for url in [f"{api}/deployments/name/{name}/{name}" for name in _served_deployments(config_path)]:
            _wait(started[-1], functools.partial(_ok, url), timeout)
    except BaseException:
        _stop([{k: v for k, v in s.items() if k != "_process"} for s in started])
        raise
    record = {
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "config": config_path,
        "prefect_api": api,
        "prefect_ui": f"http://{host}:{prefect_port}",
        "mlflow": tracking,
        **({"dask": address, "dask_dashboard": dask_cluster.dashboard_url(host, dashboard_port)} if dask else {}),
        "processes": [{k: v for k, v in s.items() if k != "_process"} for s in started],
    }
    (settings.state_dir / STACK_FILE).write_text(json.dumps(record, indent=2))
    return record, True


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # a zombie child of this process counts as gone once reaped
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except ChildProcessError:
        return False


def _stop(processes: list[dict[str, Any]]) -> list[str]:
    stopped = []
    for proc in reversed(processes):  # the deployments first: they delete their automations on the way out
        if not is_recorded_process(proc):
            gone = "has ended" if process_identity(int(proc["pid"])) is None else "now belongs to another process"
            stopped.append(f"{proc['name']} (pid {proc['pid']} {gone}: not signalled)")
            continue
        for sig, grace in ((signal.SIGTERM, 30.0), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(proc["pid"], sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and not _gone(proc["pid"]):
                time.sleep(0.2)
            if _gone(proc["pid"]):
                break
        stopped.append(f"{proc['name']} (pid {proc['pid']})")
    return stopped


def down(settings: Settings) -> list[str]:
    """Stop what `up` started (by process group), remove the record; names what was stopped."""
    record = read_stack(settings)
    if record is None:
        return []
    stopped = _stop(record["processes"])
    (settings.state_dir / STACK_FILE).unlink(missing_ok=True)
    return stopped
