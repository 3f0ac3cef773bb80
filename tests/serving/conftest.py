"""Real models in a real MLflow registry on SQLite, and the configs and requests that serve them.

Two versions are trained and registered once per session (v1: gradient boosting, v2:
logistic regression); each test gets its own copy of that registry's database (the
artifacts are shared, read-only) with v1 as champion, and its own ledger and store.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import mlflow
import pandas as pd
import pytest
import yaml

from perennial.config import Candidate, Config, parse_config
from perennial.core.data import features_of, labels_of
from perennial.core.training import train_candidate
from perennial.io import tracking
from perennial.io.ledger import Ledger
from perennial.io.registry import Registry, move_alias
from perennial.settings import Settings
from tests.conftest import config_dict, make_flights

MODEL = "tiny-delay"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def model_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow database holding v1 (HGB) and v2 (logistic regression) of the tiny model."""
    folder = tmp_path_factory.mktemp("serving-registry")
    uri, previous = f"sqlite:///{folder / 'mlflow.db'}", mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        config = parse_config(config_dict(), "tiny.yaml")
        flights = make_flights()
        X, y = features_of(flights, config), labels_of(flights, config)
        experiment = tracking.ensure_experiment("serving", (folder / "artifacts").as_uri())
        registry = Registry(MODEL)
        candidates = [
            Candidate(name="hgb", family="hist_gradient_boosting", params={"max_iter": 30}),
            Candidate(name="logreg", family="logistic_regression", params={"max_iter": 300}),
        ]
        for candidate in candidates:
            trained = train_candidate(candidate, X, y, config)
            with tracking.tracked_run(experiment, candidate.name, {}) as run_id:
                registry.register(tracking.log_model(run_id, trained.model, X), run_id, {"candidate": candidate.name})
    finally:
        mlflow.set_tracking_uri(previous)
    return folder


@dataclass
class ServingEnv:
    folder: Path
    settings: Settings
    registry: Registry
    ledger: Ledger

    def config(self, **serving: Any) -> Config:
        return parse_config(self.config_dict(**serving), "tiny.yaml")

    def config_dict(self, **serving: Any) -> dict[str, Any]:
        raw = config_dict()
        raw["tracking"]["registered_model"] = MODEL
        raw["serving"] = serving
        raw["predictions"] = {"kind": "parquet", "path": str(self.folder / "predictions")}
        return raw

    def write_config(self, **serving: Any) -> str:
        path = self.folder / "serving.yaml"
        path.write_text(yaml.safe_dump(self.config_dict(**serving)))
        return str(path)

    def move(self, alias: str, version: str) -> None:
        move_alias(self.registry, self.ledger, alias, version, "promote", "test")


def local_settings(folder: Path, tracking_uri: str, artifacts: Path) -> Settings:
    """Settings whose state (and ledger) is ``folder``, tracking at ``tracking_uri``, artifacts in ``artifacts``."""
    return Settings(
        root=folder,
        state_dir=folder,
        tracking_uri=tracking_uri,
        artifact_root=artifacts.as_uri(),
        ledger_url=f"sqlite:///{folder / 'ledger.db'}",
    )


@pytest.fixture
def serving_env(model_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServingEnv]:
    shutil.copy(model_template / "mlflow.db", tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("PERENNIAL_ADMIN_TOKEN", raising=False)
    mlflow.set_tracking_uri(uri)
    settings = local_settings(tmp_path, uri, model_template / "artifacts")
    env = ServingEnv(tmp_path, settings, Registry(MODEL), Ledger(settings.ledger_url))
    env.move("champion", "1")
    yield env
    env.ledger.close()


def records(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """JSON request records: the id and the raw feature columns, times as ISO text."""
    frame = make_flights(rows=n, seed=seed)
    out = frame.drop(columns=["delayed"]).assign(time_hour=frame["time_hour"].map(pd.Timestamp.isoformat))
    return json.loads(out.to_json(orient="records"))


# --- a real server in a subprocess ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(env: ServingEnv, token: str | None = None, **serving: Any) -> Server:
    """`perennial serve` on 127.0.0.1 and a free port, polled on /ready (60 s at most)."""
    port, config = free_port(), env.write_config(**serving)
    variables = {
        **os.environ,
        "MLFLOW_TRACKING_URI": env.settings.tracking_uri,
        "PERENNIAL_STATE_DIR": str(env.folder),
        "PERENNIAL_LEDGER_URL": env.settings.ledger_url,
        "PERENNIAL_ADMIN_TOKEN": token or "",
    }
    log = env.folder / "server.log"
    command = [sys.executable, "-m", "perennial.cli", "serve", "--config", config, "--port", str(port)]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=variables, stdout=out, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{server.output()}")
        try:
            if httpx.get(f"{server.url}/ready", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    stop_server(server)
    raise RuntimeError(f"the server was not ready within 60 s:\n{server.output()}")


def stop_server(server: Server) -> int:
    """SIGTERM (uvicorn's graceful shutdown flushes the prediction log), then kill if it hangs."""
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    return server.process.returncode
