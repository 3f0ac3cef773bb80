"""The serving image's environment, built without Docker: the Dockerfile's files and install steps in a fresh venv.

There is no Docker daemon here, so the test reads deployments/serving/Dockerfile, copies exactly the
files its COPY lines name into a temporary folder (the image's WORKDIR), installs the locked
dependencies and the package the way its RUN lines do (uv, from requirements.lock, the package not
editable), and starts `perennial serve` from that environment against a model trained here: the
service must come up and answer a prediction with the champion's version.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import _in_harness, project, state  # noqa: F401 (fixtures; autouse harness)
from tests.serving.conftest import free_port, records
from tests.slow.test_postgres_stack import ROOT

pytestmark = pytest.mark.slow

DOCKERFILE = ROOT / "deployments" / "serving" / "Dockerfile"


def _copied() -> list[str]:
    """The sources of every COPY line (the last word is the destination)."""
    names = []
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("COPY "):
            names += line.split()[1:-1]
    return names


def _uv() -> str:
    found = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    if not Path(found).exists():
        pytest.fail("uv is missing: `python3 -m pip install --user uv` (make test installs it)")
    return found


def test_the_serving_image_environment_installs_from_the_lock_and_serves_the_champion(
    project: Any, tmp_path: Path
) -> None:  # noqa: F811 (the fixture)
    # given a champion trained and registered here
    from flows.training import training_flow

    config = project.write_config()
    assert training_flow(config_path=config).champion_version == "1"
    # and the image's WORKDIR: only the files the Dockerfile copies
    workdir = tmp_path / "opt-perennial"
    workdir.mkdir()
    for name in _copied():
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, workdir / name)
    assert {"requirements.lock", "src", "configs"} <= {p.name for p in workdir.iterdir()}
    assert not (workdir / "flows").exists() and not (workdir / "tasks").exists()
    # when the environment is built as its RUN lines say (uv from the lock, then the package)
    assert re.search(r"uv pip sync .*requirements\.lock", DOCKERFILE.read_text())
    venv = tmp_path / "image-venv"
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"} | {"UV_PYTHON_DOWNLOADS": "never"}
    for command in (
        [_uv(), "venv", "--quiet", "--python", sys.executable, str(venv)],
        [_uv(), "pip", "sync", "--quiet", "--python", str(venv / "bin" / "python"), "requirements.lock"],
        [_uv(), "pip", "install", "--quiet", "--no-deps", "--python", str(venv / "bin" / "python"), "."],
    ):
        done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
    # then the service starts from it, from the WORKDIR, and serves the registry's champion
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [str(venv / "bin" / "perennial"), "serve", "--config", config, "--port", str(port)],
            cwd=workdir,
            env=dict(os.environ),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        answer = httpx.post(f"http://127.0.0.1:{port}/predict", json=records(1)[0], timeout=10)
        assert answer.status_code == 200 and answer.json()["model_version"] == "1", answer.text
        # and the package it runs is the one installed in the image's venv, not this checkout's
        where = subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import perennial; print(perennial.__file__)"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert str(venv) in where
    finally:
        server.terminate()
        server.wait(timeout=30)
