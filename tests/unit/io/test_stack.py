"""`perennial up` / `ui` before any server starts: a taken port, a stack that is already up.

No servers run here: both cases must be decided before anything is started (the slow tier,
tests/slow/test_stack.py, starts and stops the real ones).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from perennial.cli import app
from perennial.settings import STACK_FILE


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


@pytest.mark.parametrize("option", ["--prefect-port", "--mlflow-port"])
def test_up_on_a_taken_port_names_it_and_starts_nothing(state_folder: Path, listening: int, option: str) -> None:
    ports = {"--prefect-port": _free(), "--mlflow-port": _free()} | {option: listening}
    result = CliRunner().invoke(app, ["up", *(str(x) for pair in ports.items() for x in pair)])
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert f"port {listening} on 127.0.0.1 is taken" in message and option in message
    assert not (state_folder / STACK_FILE).exists()
    assert not (state_folder / "logs").exists()  # no server was started, so none logged


def test_ui_on_a_taken_port_names_it(state_folder: Path, listening: int) -> None:
    result = CliRunner().invoke(app, ["ui", "--prefect-port", str(listening), "--mlflow-port", str(_free())])
    assert result.exit_code == 1 and f"port {listening} on 127.0.0.1 is taken" in " ".join(result.output.split())


def test_ui_and_up_defer_to_a_stack_that_is_up(state_folder: Path, listening: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # the CLI exports the stack's API for the rest of the process: keep it to this test
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4321/api")
    # a stack record whose process lives (this test's own), its servers on ports that are taken
    record = {"started": "2026-01-01T00:00:00+00:00", "config": "configs/flights.yaml",
              "prefect_api": "http://127.0.0.1:4321/api", "prefect_ui": "http://127.0.0.1:4321",
              "mlflow": "http://127.0.0.1:5432", "processes": [{"name": "prefect-server", "pid": os.getpid(), "log": "-"}]}
    (state_folder / STACK_FILE).write_text(json.dumps(record))
    ui = CliRunner().invoke(app, ["ui", "--prefect-port", str(listening)])
    assert ui.exit_code == 0 and "already up" in ui.output and "http://127.0.0.1:4321" in ui.output
    up = CliRunner().invoke(app, ["up", "--prefect-port", str(listening)])
    assert up.exit_code == 0 and "already up" in up.output and "http://127.0.0.1:5432" in up.output
    assert json.loads((state_folder / STACK_FILE).read_text()) == record
