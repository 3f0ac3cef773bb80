"""Promotion and rollback through the real `perennial` command (typer's CliRunner, in process).

Each command runs against this test's state folder (PERENNIAL_STATE_DIR, MLflow, ledger) and
the session's Prefect harness; nothing is faked below the command line.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter, EventResourceFilter
from prefect.settings import PREFECT_API_URL
from typer.testing import CliRunner, Result

from perennial import cli
from perennial.core.events import ModelRolledBack
from perennial.errors import GateFailed, RegistryError
from perennial.io.ledger import Ledger
from perennial.io.registry import Registry

# what `perennial` exports on start (settings.apply_defaults): restored after each test
EXPORTED = (
    "PREFECT_HOME",
    "PREFECT_SERVER_ANALYTICS_ENABLED",
    "PREFECT_LOGGING_LEVEL",
    "TQDM_DISABLE",
    "GIT_PYTHON_REFRESH",
    "MLFLOW_ENABLE_ASYNC_LOGGING",
)

Run = Callable[..., Result]


@pytest.fixture
def perennial(state: Any, monkeypatch: pytest.MonkeyPatch) -> Run:
    """Runs `perennial ARGS...`; the console is wide so that tables are not wrapped."""
    for key in EXPORTED:
        if key in os.environ:
            monkeypatch.setenv(key, os.environ[key])
        else:
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(cli.console, "width", 240)
    # Prefect sets its console logging up at the first flow run, on the sys.stderr of that moment:
    # do it now, or it would write to the first CliRunner's stream, closed once that command ends
    from prefect.logging.configuration import PROCESS_LOGGING_CONFIG, setup_logging

    if not PROCESS_LOGGING_CONFIG:
        setup_logging()
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(cli.app, list(args))

    return run


def _rolled_back_events(since: dt.datetime, wait: float = 10.0) -> list[Any]:
    """The tiny dataset's rollback events since ``since``, once any reached the API (the harness is shared)."""
    flt = EventFilter(
        occurred=EventOccurredFilter(since=since),
        event=EventNameFilter(name=[ModelRolledBack.name]),
        resource=EventResourceFilter(id=["perennial.dataset.tiny"]),
    )
    deadline = time.monotonic() + wait
    while True:
        with get_client(sync_client=True) as client:
            found = list(client.read_events(filter=flt, limit=10).events)
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.25)


def test_promote_runs_the_gate_force_needs_a_reason_and_rollback_walks_the_ledger(
    project: Any, perennial: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given v1 champion, then v2 trained on a later window under manual promotion: challenger only
    manual = project.write_config("manual.yaml", **{"gate.promotion": "manual"})
    assert perennial("train", "-c", project.write_config()).exit_code == 0
    trained = perennial("train", "-c", manual, "--train-end", "2013-03-15", "--holdout-end", "2013-04-30")
    registry = Registry("tiny-delay")
    assert trained.exit_code == 0, trained.output
    assert (registry.alias_version("champion"), registry.alias_version("challenger")) == ("1", "2")
    # and v3, a model with no signal (registered by a failed gate)
    weak = project.write_config(
        "weak.yaml",
        **{
            "data.features": {"numeric": ["distance"]},
            "validation.ranges": {"distance": [0, 6000]},
            "training.candidates": [{"name": "weak", "family": "logistic_regression"}],
            "evaluation.slices": [],
        },
    )
    # (the gate's refusal exits with its own code, GateFailed's: README "Exit codes")
    assert perennial("train", "-c", weak).exit_code == GateFailed.exit_code == 6
    assert registry.alias_version("challenger") == "3"

    # when v2 is promoted, then the gate ran against champion v1 and passed
    promoted = perennial("promote", "2", "-c", manual)
    assert promoted.exit_code == 0, promoted.output
    assert registry.alias_version("champion") == "2"
    # when v3 is promoted, then its gate fails naming the broken check, and nothing moves
    refused = perennial("promote", "3", "-c", manual)
    assert (
        refused.exit_code == GateFailed.exit_code and "gate FAILED" in refused.output and "champion" in refused.output
    )
    assert registry.alias_version("champion") == "2"
    # when forced without a reason, then it is refused before anything runs
    unexplained = perennial("promote", "3", "-c", manual, "--force")
    assert unexplained.exit_code == 1 and "--force needs --reason" in unexplained.output
    # when forced with a reason, then v3 is champion and the ledger says why, with no gate verdict
    forced = perennial("promote", "3", "-c", manual, "--force", "--reason", "hotfix for a broken feed")
    assert forced.exit_code == 0, forced.output
    assert registry.alias_version("champion") == "3"
    ledger = Ledger(project.settings.ledger_url)
    last = ledger.history("tiny-delay", alias="champion", limit=1)[0]
    assert (last.version, last.previous_version, last.action, last.gate, last.reason) == (
        "3",
        "2",
        "force",
        None,
        "hotfix for a broken feed",
    )

    # when rolled back twice, first with no Prefect server known (no PREFECT_API_URL: nothing to tell),
    # then with the harness's (as `perennial up` exports it)
    since = dt.datetime.now(dt.UTC)
    first = perennial("rollback", "-c", manual, "--reason", "v3 scores drift")
    monkeypatch.setenv("PREFECT_API_URL", str(PREFECT_API_URL.value()))
    second = perennial("rollback", "-c", manual)
    # then champion walks v3 → v2 → v1 (never back to v3), each step recorded
    assert first.exit_code == 0 and "v3 → v2" in first.output, first.output
    assert second.exit_code == 0 and "v2 → v1" in second.output, second.output
    assert registry.alias_version("champion") == "1"
    moves = [(e.action, e.version, e.reason) for e in ledger.history("tiny-delay", alias="champion", limit=2)]
    assert moves == [("rollback", "1", "manual rollback"), ("rollback", "2", "v3 scores drift")]
    # and the second alone told Prefect, on the dataset's resource, dated by its ledger entry
    (event,) = _rolled_back_events(since)
    assert event.resource.get("perennial.window") == ledger.history("tiny-delay", limit=1)[0].at.date().isoformat()
    assert {k: event.payload[k] for k in ("dataset", "version", "previous_version", "reason")} == {
        "dataset": "tiny",
        "version": "1",
        "previous_version": "2",
        "reason": "manual rollback",
    }
    # and a third rollback has nowhere to go
    nowhere = perennial("rollback", "-c", manual)
    assert isinstance(nowhere.exception, RegistryError) and "no earlier champion" in str(nowhere.exception)
    ledger.close()

    # when the status is asked for, then it shows the aliases and the whole history, newest first
    status = perennial("status", "-c", manual)
    assert status.exit_code == 0, status.output
    history = status.output[status.output.index("promotion ledger") :]
    for text in ("rollback", "v3 scores drift", "force", "hotfix for a broken feed", "promote", "challenger"):
        assert text in history, text
    assert history.index("v3 scores drift") < history.index("hotfix for a broken feed")
    # and the training run the gate refused says why, as it recorded it
    runs = status.output[status.output.index("last training runs") : status.output.index("promotion ledger")]
    assert "GateFailed: gate FAILED for candidate:weak" in " ".join(runs.split()), runs


def test_release_modes_need_a_challenger_and_are_recorded(project: Any, perennial: Run) -> None:
    # given a champion that is also the challenger (the first version)
    config = project.write_config()
    assert perennial("train", "-c", config).exit_code == 0
    # when shadow is asked for, then it is refused: there is nothing to shadow
    refused = perennial("release", "shadow", "-c", config)
    # (the Typer app raises it; the console entry point prints it once and exits with RegistryError's code)
    assert isinstance(refused.exception, RegistryError) and "no challenger" in str(refused.exception)
    # when a second version is trained under manual promotion and put in canary
    manual = project.write_config("manual.yaml", **{"gate.promotion": "manual"})
    assert perennial("train", "-c", manual, "--train-end", "2013-03-15", "--holdout-end", "2013-04-30").exit_code == 0
    canary = perennial("release", "canary", "-c", manual, "--reason", "shadow looked fine")
    # then services are told canary, the ledger has it, and status shows it
    assert canary.exit_code == 0 and "challenger v2" in canary.output
    registry = Registry("tiny-delay")
    assert registry.serving_state() == ({"champion": "1", "challenger": "2"}, "canary")
    status = perennial("status", "-c", manual).output
    assert "release mode canary" in status and "release canary" in status and "shadow looked fine" in status
    # when v2 is promoted, then the release is over: the mode is back to the champion alone
    assert perennial("promote", "2", "-c", manual).exit_code == 0
    assert registry.serving_state() == ({"champion": "2", "challenger": "2"}, "champion")


def test_train_learns_from_the_day_a_person_names_and_records_it(project: Any, perennial: Run) -> None:
    # given a person asked after a concept change, who retrains from the day it began
    config = project.write_config()
    trained = perennial(
        "train", "-c", config, "--train-start", "2013-02-01", "--train-end", "2013-03-15", "--holdout-end", "2013-04-30"
    )
    # then the version learnt from that day on, and its lineage says so
    assert trained.exit_code == 0, trained.output
    assert '"train_start":"2013-02-01"' in Registry("tiny-delay").info("1").tags["perennial.split"]
