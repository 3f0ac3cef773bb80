"""`perennial up` / `ui` before any server starts: a taken port, a stack that is already up.

No servers run here: both cases must be decided before anything is started (the slow tier,
tests/slow/test_stack.py, starts and stops the real ones).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from perennial.cli import app
from perennial.settings import STACK_FILE, process_identity


@pytest.fixture
def listening() -> Iterator[int]:
    """A port something already listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _free() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("option", ["--prefect-port", "--mlflow-port", "--dask-port", "--dask-dashboard-port"])
def test_up_on_a_taken_port_names_it_and_starts_nothing(state_folder: Path, listening: int, option: str) -> None:
    ports = {"--prefect-port": _free(), "--mlflow-port": _free()} | {option: listening}
    dask = ["--dask"] if option.startswith("--dask") else []
    result = CliRunner().invoke(app, ["up", *dask, *(str(x) for pair in ports.items() for x in pair)])
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert f"port {listening} on 127.0.0.1 is taken" in message and option in message
    assert not (state_folder / STACK_FILE).exists()
    assert not (state_folder / "logs").exists()  # no server was started, so none logged


def test_ui_on_a_taken_port_names_it(state_folder: Path, listening: int) -> None:
    result = CliRunner().invoke(app, ["ui", "--prefect-port", str(listening), "--mlflow-port", str(_free())])
    assert result.exit_code == 1 and f"port {listening} on 127.0.0.1 is taken" in " ".join(result.output.split())


def _live_record(process: str, **extra: str) -> dict[str, object]:
    """A stack record whose one process is this test's own (alive), its servers on fixed local ports."""
    return {
        "started": "2026-01-01T00:00:00+00:00",
        "config": "configs/flights.yaml",
        "prefect_api": "http://127.0.0.1:4321/api",
        "prefect_ui": "http://127.0.0.1:4321",
        "mlflow": "http://127.0.0.1:5432",
        **extra,
        "processes": [{"name": process, "pid": os.getpid(), "log": "-"}],
    }


def test_ui_and_up_defer_to_a_stack_that_is_up(
    state_folder: Path, listening: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the CLI exports the stack's API for the rest of the process: keep it to this test
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4321/api")
    # a stack record whose process lives (this test's own), its servers on ports that are taken
    record = _live_record("prefect-server")
    (state_folder / STACK_FILE).write_text(json.dumps(record))
    ui = CliRunner().invoke(app, ["ui", "--prefect-port", str(listening)])
    assert ui.exit_code == 0 and "already up" in ui.output and "http://127.0.0.1:4321" in ui.output
    up = CliRunner().invoke(app, ["up", "--prefect-port", str(listening)])
    assert up.exit_code == 0 and "already up" in up.output and "http://127.0.0.1:5432" in up.output
    assert json.loads((state_folder / STACK_FILE).read_text()) == record


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    """A process `perennial up` did not start, in its own group (as the servers are)."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
    # until the child has exec'd, /proc shows the forking parent's command line: an identity read
    # then would name another process than the one that stays
    deadline = time.monotonic() + 10
    while "time.sleep(120)" not in (process_identity(process.pid) or ("", ""))[0] and time.monotonic() < deadline:
        time.sleep(0.01)
    yield process
    process.kill()
    process.wait(timeout=10)


def _record(state: Path, proc: dict[str, object]) -> None:
    record = {
        "started": "2026-01-01T00:00:00+00:00",
        "config": "configs/flights.yaml",
        "prefect_api": "-",
        "prefect_ui": "-",
        "mlflow": "-",
        "processes": [{"name": "prefect-server", "log": "-", **proc}],
    }
    (state / STACK_FILE).write_text(json.dumps(record))


def test_down_never_signals_a_process_that_now_holds_a_recorded_pid(
    state_folder: Path, bystander: subprocess.Popen[bytes]
) -> None:
    # given a stack record whose server ended and whose pid now belongs to another process
    # (same id, another command line and start time: what a reused pid looks like)
    _record(state_folder, {"pid": bystander.pid, "cmdline": "prefect server start --port 4200", "started": "12345"})
    # when `perennial down` runs
    result = CliRunner().invoke(app, ["down"])
    # then that process is not signalled (it still runs), the output says why, and the record is gone
    time.sleep(0.5)
    assert result.exit_code == 0 and bystander.poll() is None
    assert f"pid {bystander.pid} now belongs to another process: not signalled" in " ".join(result.output.split())
    assert not (state_folder / STACK_FILE).exists()


def test_down_stops_the_process_the_record_names(state_folder: Path, bystander: subprocess.Popen[bytes]) -> None:
    # given a record naming the process as it is (its command line and start time)
    cmdline, started = process_identity(bystander.pid) or ("", "")
    _record(state_folder, {"pid": bystander.pid, "cmdline": cmdline, "started": started})
    # when `perennial down` runs, then it is stopped
    result = CliRunner().invoke(app, ["down"])
    assert result.exit_code == 0 and f"prefect-server (pid {bystander.pid})" in result.output
    assert bystander.wait(timeout=30) is not None


DASK_ADDRESS_SEEN = """
import os
from perennial.settings import apply_defaults
apply_defaults()
print(os.environ.get("PERENNIAL_DASK_ADDRESS"))
"""


@pytest.mark.parametrize("users", [None, "tcp://10.0.0.7:8786"])
def test_commands_join_the_cluster_up_started_unless_the_user_named_one(state_folder: Path, users: str | None) -> None:
    # given a live stack record (this test's own process) with the cluster `perennial up --dask` started
    record = _live_record("dask-scheduler", dask="tcp://127.0.0.1:8786", dask_dashboard="http://127.0.0.1:8787/status")
    (state_folder / STACK_FILE).write_text(json.dumps(record))
    env = {k: v for k, v in os.environ.items() if k != "PERENNIAL_DASK_ADDRESS"}
    if users:
        env["PERENNIAL_DASK_ADDRESS"] = users
    # when a command of the project sets its environment up
    seen = subprocess.run([sys.executable, "-c", DASK_ADDRESS_SEEN], env=env, capture_output=True, text=True)
    # then Dask work joins that cluster, or the one the user named
    assert seen.returncode == 0, seen.stderr
    assert seen.stdout.strip() == (users or "tcp://127.0.0.1:8786")


def test_a_started_server_is_recorded_by_its_own_command_line(tmp_path: Path) -> None:
    from perennial.io.stack import _start
    from perennial.settings import is_recorded_process

    # given servers started the way `perennial up` starts them (right after Popen, the command line can read empty)
    servers = [
        _start(
            f"server-{i}", [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path, dict(os.environ), tmp_path
        )
        for i in range(5)
    ]
    try:
        # then each record names its process by its command line, and is found alive by it
        records = [{k: v for k, v in s.items() if k != "_process"} for s in servers]
        assert all("time.sleep(60)" in r["cmdline"] for r in records), records
        assert all(is_recorded_process(r) for r in records)
    finally:
        for server in servers:
            server["_process"].kill()
            server["_process"].wait(timeout=10)
