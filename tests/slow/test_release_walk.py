"""A release walked from the command line while a real `perennial serve` answers a steady client.

`perennial serve --mode shadow` serves champion v1 → v2 trained (challenger only) is shadowed →
`perennial release canary` → `perennial promote 2` → `perennial rollback`; the service follows each
step by polling the registry, and the client loop running throughout sees no failed request.
(`perennial release shadow` does what `--mode shadow` does here, live: tests/serving/test_modes.py.)
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from perennial.config import load_config
from perennial.io.prediction_store import open_store
from perennial.serving.routing import to_challenger
from tests.integration.conftest import _in_harness, project, state  # noqa: F401 (fixtures; autouse harness)
from tests.integration.test_release_cli import Run, perennial  # noqa: F401 (fixture)
from tests.serving.conftest import free_port, records

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SERVING = {"reload_interval_seconds": 0.3, "canary": {"ramp": [0.5], "step_requests": 100_000, "max_p99_ms": 60_000}}


class Client:
    """Sends single records and batches in a loop; keeps every answer and every failure."""

    def __init__(self, url: str) -> None:
        self.url, self.sent = url, records(60, seed=11)
        self.answers: list[dict[str, Any]] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            i = 0
            while not self._stop.is_set():
                body = {"records": self.sent[i % 50 : i % 50 + 10]} if i % 4 == 0 else self.sent[i % 60]
                try:
                    response = client.post("/predict", json=body)
                    if response.status_code != 200:
                        self.failures.append(f"{response.status_code}: {response.text[:300]}")
                    else:
                        payload = response.json()
                        self.answers += payload.get("predictions", [payload])
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                i += 1

    def start(self) -> Client:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)

    def next(self, n: int, timeout: float = 60) -> list[dict[str, Any]]:
        """The next ``n`` answers."""
        start, deadline = len(self.answers), time.monotonic() + timeout
        while len(self.answers) - start < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.answers[start : start + n]

    def wait_for(self, check: Callable[[list[dict[str, Any]]], bool], what: str, timeout: float = 60) -> None:
        """Until ``check`` holds on the answers given from now on."""
        start, deadline = len(self.answers), time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.answers) - start >= 20 and check(self.answers[start:][-20:]):
                return
            time.sleep(0.1)
        raise AssertionError(f"not seen within {timeout} s: {what}; last answers {self.answers[-3:]}")


def _serve(config: str, log: Path, mode: str) -> tuple[str, subprocess.Popen]:
    port = free_port()
    command = [sys.executable, "-m", "perennial.cli", "serve", "-c", config, "--port", str(port), "--mode", mode]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                return url, process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise AssertionError(f"not ready in 90 s:\n{log.read_text()}")


def _metadata(url: str) -> dict[str, Any]:
    return httpx.get(f"{url}/metadata", timeout=10).json()


def test_shadow_then_canary_then_promote_then_rollback_with_no_failed_request(
    project: Any,
    perennial: Run,
    tmp_path: Path,  # noqa: F811 (fixtures)
) -> None:
    # given champion v1, served by `perennial serve --mode shadow` under a steady client
    assert perennial("train", "-c", project.write_config()).exit_code == 0
    config = project.write_config("release.yaml", **{"gate.promotion": "manual", "serving": SERVING})
    url, process = _serve(config, tmp_path / "server.log", "shadow")
    client = Client(url).start()
    try:
        client.wait_for(lambda a: {x["model_version"] for x in a} == {"1"}, "v1 answers")
        assert _metadata(url)["challenger"] is None and _metadata(url)["mode"] == "shadow"
        # when v2 is trained (challenger only): the service shadows it; v1 still answers every request
        trained = perennial("train", "-c", config, "--train-end", "2013-03-15", "--holdout-end", "2013-04-30")
        assert trained.exit_code == 0, trained.output
        client.wait_for(lambda a: (_metadata(url)["shadow"] or {}).get("rows", 0) > 100, "shadow comparison")
        client.wait_for(lambda a: {x["model_version"] for x in a} == {"1"}, "shadow answers from v1")
        shadow = _metadata(url)["shadow"]
        assert (shadow["champion_version"], shadow["challenger_version"]) == ("1", "2") and shadow[
            "agreement"
        ] is not None

        # when v2 goes to canary: ids whose hash is in the 50% share are answered by v2, always the same ids
        assert perennial("release", "canary", "-c", config, "--reason", "shadow agreed").exit_code == 0
        client.wait_for(lambda a: {x["model_version"] for x in a} == {"1", "2"}, "canary answers from both")
        canary = client.next(60)
        assert len(canary) == 60
        assert all((x["model_version"] == "2") == to_challenger(x["id"], 0.5) for x in canary), canary
        assert _metadata(url)["canary"]["state"] == "ramping"

        # when v2 is promoted through the gate: the service swaps to v2 alone
        promoted = perennial("promote", "2", "-c", config)
        assert promoted.exit_code == 0, promoted.output
        client.wait_for(lambda a: {(x["model_version"], x["variant"]) for x in a} == {("2", "champion")}, "v2 alone")

        # when `perennial rollback` runs: the service answers with v1 again
        rolled = perennial("rollback", "-c", config, "--reason", "walk-through")
        assert rolled.exit_code == 0 and "v2 → v1" in rolled.output, rolled.output
        client.wait_for(lambda a: {(x["model_version"], x["variant"]) for x in a} == {("1", "champion")}, "v1 again")
        assert _metadata(url)["mode"] == "champion"  # the release ended with the rollback
    finally:
        client.stop()
        process.terminate()
        process.wait(30)
    # then not one request failed across five swaps
    assert client.failures == [], client.failures[:5]
    # and the prediction log holds what was served and what the shadow said
    store = open_store(load_config(config), project.settings.root)
    served, shadowed = store.read("service"), store.read("shadow")
    assert set(served["model_version"]) == {"1", "2"} and set(shadowed["model_version"]) == {"2"}
