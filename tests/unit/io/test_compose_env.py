"""docker compose is safe to run as shipped: loopback ports, and no password anyone knows."""

from __future__ import annotations

import re
import shlex
import stat
from pathlib import Path

import pytest
import yaml

from perennial.io.compose_env import ensure_compose_env
from perennial.io.dask_cluster import WORKERS, scheduler_args, worker_args

ROOT = Path(__file__).resolve().parents[3]


def test_every_published_port_is_on_loopback_unless_a_host_is_set() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    ports = [p for service in compose["services"].values() for p in service.get("ports", [])]
    assert ports, "the compose file publishes the servers' ports"
    assert all(p.startswith("${PERENNIAL_BIND_HOST:-127.0.0.1}:") for p in ports), ports


def test_no_password_has_a_default_in_the_compose_file() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    # ${VAR:-default} on anything secret would run with a password everybody knows
    assert not re.findall(r"\$\{\w*(PASSWORD|SECRET|TOKEN)\w*:-", text)
    assert "${POSTGRES_PASSWORD:?" in text  # compose refuses to start without one
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()


def test_the_env_file_is_generated_once_private_and_random(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POSTGRES_PASSWORD", raising=False)
    # when `perennial up` prepares the compose secrets for the first time
    path, added = ensure_compose_env(tmp_path)
    # then a random password is written, readable by its owner only
    first = path.read_text()
    assert added == ["POSTGRES_PASSWORD"] and stat.S_IMODE(path.stat().st_mode) == 0o600
    password = re.search(r"^POSTGRES_PASSWORD=(\S+)$", first, re.M).group(1)
    assert len(password) >= 24 and password != "perennial"
    # and a second call keeps it (the database was created with it), another project gets another
    assert ensure_compose_env(tmp_path) == (path, []) and path.read_text() == first
    (tmp_path / "other").mkdir()
    other, _ = ensure_compose_env(tmp_path / "other")
    assert other.read_text() != first


def test_a_password_the_user_set_is_left_to_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("POSTGRES_PASSWORD=mine\n")
    assert ensure_compose_env(tmp_path)[1] == [] and (tmp_path / ".env").read_text() == "POSTGRES_PASSWORD=mine\n"
    monkeypatch.setenv("POSTGRES_PASSWORD", "from-env")
    (tmp_path / "x").mkdir()
    assert ensure_compose_env(tmp_path / "x")[1] == [] and not (tmp_path / "x" / ".env").exists()


def test_the_dask_cluster_runs_the_shared_command_lines_beside_the_flows() -> None:
    # given the compose file's services
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    # then the scheduler and two workers run `dask` with the arguments `perennial up --dask` and the slow tier use
    assert shlex.split(services["dask-scheduler"]["command"]) == ["dask", *scheduler_args("0.0.0.0")]
    for name in WORKERS:
        worker = services[name]
        assert shlex.split(worker["command"]) == ["dask", *worker_args("tcp://dask-scheduler:8786", name)]
        # and the workers import the baked-in checkout and share the flows' state volume (data in, predictions out)
        assert worker["environment"]["PYTHONPATH"] == "/opt/perennial"
        assert worker["volumes"] == services["worker"]["volumes"] == ["perennial-state:/var/lib/perennial"]
        assert worker["image"] == services["worker"]["image"]
    # and the flows join it, and only the dashboard is published (on loopback: the test above)
    flows = services["worker"]["environment"]
    assert flows["PERENNIAL_DASK_ADDRESS"] == "tcp://dask-scheduler:8786"
    assert services["dask-scheduler"]["ports"] == ["${PERENNIAL_BIND_HOST:-127.0.0.1}:8787:8787"]
