"""A training run killed (SIGKILL) at each dangerous point: no wrong champion, doctor agrees, a re-run completes.

The kill is real: a child process runs the training flow against this session's Prefect harness and
dies by SIGKILL where ``$PERENNIAL_FAULT_AT`` names a point (tasks/common.py's test hook): no cleanup,
no ``finally``, exactly as an OOM kill or a pulled plug would leave things.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from prefect.settings import PREFECT_API_URL

from flows.training import training_flow
from perennial.io.doctor import INTERRUPTED_TAG, diagnose
from perennial.io.ledger import Ledger
from perennial.io.registry import CHALLENGER, CHAMPION, Registry
from tasks.common import FAULT_ENV

ROOT = Path(__file__).resolve().parents[2]
MODEL = "tiny-delay"


def _train_and_die(config: str, point: str, log: Path) -> int:
    """Run the training flow in a child that dies at ``point``; its output goes to ``log``.

    Output goes to a file and the child leads its own process group: a grandchild that outlived the
    kill can neither hold a pipe open (the wait would hang) nor linger after the test (killpg).
    """
    env = {**os.environ, FAULT_ENV: point, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    with log.open("w") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "flows.training", "--config", config],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            return child.wait(timeout=300)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)


def _state(ledger_url: str) -> tuple[dict[str, str | None], list[str]]:
    registry, ledger = Registry(MODEL), Ledger(ledger_url)
    try:
        moves = [f"{e.alias}:v{e.version}" for e in reversed(ledger.history(MODEL, limit=100))]
    finally:
        ledger.close()
    return {a: registry.alias_version(a) for a in (CHAMPION, CHALLENGER)}, moves


@pytest.mark.parametrize(
    ("point", "registered"),
    [("train", False), ("register", False), ("alias", True), ("champion", True)],
    ids=["during-training", "before-registering", "registered-before-any-alias", "challenger-before-champion"],
)
def test_a_killed_training_run_never_promotes_and_a_rerun_completes(project: Any, point: str, registered: bool) -> None:
    # given a champion v1 from a completed run
    config = project.write_config()
    assert training_flow(config_path=config).champion_version == "1"
    ledger_url = project.settings.ledger_url
    before = _state(ledger_url)
    # when the next training run is killed at the point
    log = Path(config).with_name("killed-run.log")
    assert _train_and_die(config, point, log) == -signal.SIGKILL, log.read_text()[-2000:]
    # then the champion is still v1 and nothing was promoted by the dead run
    aliases, moves = _state(ledger_url)
    assert aliases[CHAMPION] == "1"
    versions = sorted(v.version for v in Registry(MODEL).versions())
    assert versions == (["1", "2"] if registered else ["1"])
    if point != "champion":
        assert (aliases, moves) == before  # killed before any alias moved
    else:
        assert aliases[CHALLENGER] == "2" and moves == [*before[1], "challenger:v2"]  # the ledger followed the move
    # and doctor finds the registry and the ledger in agreement; a version no alias ever named is flagged
    report = diagnose(MODEL, ledger_url, None, repair=True)
    assert [f.check for f in report.findings] == (["versions"] if point == "alias" else [])
    assert report.healthy
    if point == "alias":
        assert INTERRUPTED_TAG in Registry(MODEL).info("2").tags
    # when the run is repeated
    outcome = training_flow(config_path=config)
    # then it completes with one new version, gated as usual, and doctor stays quiet
    assert outcome.version == str(len(versions) + 1)
    assert sorted(v.version for v in Registry(MODEL).versions()) == [*versions, outcome.version]
    assert diagnose(MODEL, ledger_url, None).findings == ()
