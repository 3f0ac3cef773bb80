"""`perennial doctor` on real MLflow (SQLite), a real ledger and a real Parquet prediction store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from perennial.cli import app
from perennial.io import tracking
from perennial.io.doctor import INTERRUPTED_TAG, REFERENCE_STATS_ARTIFACT, SUITE_ARTIFACT, diagnose
from perennial.io.ledger import Ledger
from perennial.io.prediction_store import ParquetPredictionStore
from perennial.io.registry import Registry, move_alias
from perennial.io.registry_view import open_view
from tests.conftest import config_dict

MODEL = "tiny-delay"


class State:
    def __init__(self, folder: Path, via: str) -> None:
        self.folder = folder
        self.via = via  # how checks read MLflow: its client, or the SQLite store directly (io/registry_view.py)
        self.ledger_url = f"sqlite:///{folder / 'ledger.db'}"
        self.store = ParquetPredictionStore(folder / "predictions")
        self.registry = Registry(MODEL)
        self.experiment = tracking.ensure_experiment("tiny", (folder / "mlartifacts").as_uri())

    def version(self, artifacts: tuple[str, ...] = (SUITE_ARTIFACT, REFERENCE_STATS_ARTIFACT)) -> str:
        """A registered version whose training run holds ``artifacts`` (content does not matter here)."""
        with tracking.tracked_run(self.experiment, "train", {}) as run:
            for path in artifacts:
                tracking.log_text(run, "{}", path)
            model_dir = self.folder / f"model-{run}"
            model_dir.mkdir()
            (model_dir / "MLmodel").write_text("flavors: {}\n")
            return self.registry.register(str(model_dir), run, {"perennial.training_run_id": run})

    def move(self, alias: str, version: str) -> None:
        ledger = Ledger(self.ledger_url)
        try:
            move_alias(self.registry, ledger, alias, version, "promote", "test")
        finally:
            ledger.close()

    def diagnose(self, repair: bool = False):  # noqa: ANN201
        if self.via == "mlflow":
            return diagnose(MODEL, self.ledger_url, self.store.path, repair=repair)
        uri = mlflow.get_tracking_uri()
        view = open_view(uri, MODEL)
        assert view is not None, "the checks would fall back to MLflow's client"
        view.close()
        return diagnose(MODEL, self.ledger_url, self.store.path, repair=repair, tracking_uri=uri)


@pytest.fixture(params=["mlflow", "view"])
def state(state_folder: Path, request: pytest.FixtureRequest) -> State:
    return State(state_folder, request.param)


def _rows(day: dt.date, ids: list[str]) -> pd.DataFrame:
    times = pd.Timestamp(day, tz="UTC") + pd.to_timedelta(range(len(ids)), unit="h")
    return pd.DataFrame(
        {
            "id": ids,
            "event_time": times,
            "scored_at": times,
            "model_name": MODEL,
            "model_version": "1",
            "prediction": 0.4,
            "predicted_label": 0,
        }
    )


def test_a_consistent_state_has_no_findings(state: State) -> None:
    # given two versions moved through the ledger and a whole prediction partition
    one, two = state.version(), state.version()
    state.move("champion", one)
    state.move("challenger", two)
    state.store.write_partition("batch", dt.date(2013, 3, 1), _rows(dt.date(2013, 3, 1), ["a", "b"]))
    # when the doctor checks / then all is well
    report = state.diagnose()
    assert report.findings == () and report.healthy
    assert "prediction partitions" in report.checks


def test_an_alias_moved_without_its_ledger_entry_is_found_and_reconciled(state: State) -> None:
    # given champion v1 in both, then v2 made champion in the registry only (a kill before the ledger write)
    one, two = state.version(), state.version()
    state.move("champion", one)
    MlflowClient().set_registered_model_alias(MODEL, "champion", two)
    # when the doctor checks
    report = state.diagnose()
    # then it names the alias, both versions, and the repair
    assert not report.healthy
    [finding] = report.findings
    assert "'champion' is v2 in the registry but the ledger's last move says v1" in finding.problem
    assert "reconcile" in finding.repair and "perennial promote 1 --force" in finding.repair
    # when it repairs / then the ledger follows the registry and a second check is clean
    assert state.diagnose(repair=True).healthy
    latest = Ledger(state.ledger_url).history(MODEL, alias="champion", limit=1)[0]
    assert (latest.action, latest.version, latest.previous_version) == ("reconcile", "2", "1")
    assert state.diagnose().findings == ()


def test_an_alias_lost_from_the_registry_is_set_back_from_the_ledger(state: State) -> None:
    # given champion v1 in the ledger, deleted from the registry by hand
    state.move("champion", state.version())
    MlflowClient().delete_registered_model_alias(MODEL, "champion")
    # when the doctor repairs / then champion is back at v1
    report = state.diagnose(repair=True)
    assert [f.problem for f in report.findings] == ["'champion' is unset in the registry but the ledger says v1"]
    assert state.registry.alias_version("champion") == "1" and state.diagnose().findings == ()


def test_a_version_registered_by_an_interrupted_run_is_tagged(state: State) -> None:
    # given champion v1, and v2 registered but never aliased (the run died between the two)
    state.move("champion", state.version())
    state.version()
    # when checked / then v2 is named; after repair it carries the interrupted tag and is not reported again
    [finding] = state.diagnose().findings
    assert finding.check == "versions" and "v2" in finding.problem and "never got an alias" in finding.problem
    state.diagnose(repair=True)
    assert INTERRUPTED_TAG in state.registry.info("2").tags and state.diagnose().findings == ()


def test_missing_champion_artifacts_are_reported_with_how_to_rebuild(state: State) -> None:
    # given a champion whose training run has neither a data contract nor drift reference statistics
    state.move("champion", state.version(artifacts=()))
    # when checked / then both are named, and repair cannot invent them
    report = state.diagnose(repair=True)
    problems = " | ".join(f.problem for f in report.findings)
    assert SUITE_ARTIFACT in problems and REFERENCE_STATS_ARTIFACT in problems
    assert not report.healthy and all(not f.repairable for f in report.findings)


def test_prediction_partition_leftovers_are_found_and_cleaned(state: State) -> None:
    # given a whole partition plus what killed writers leave: a staging folder, a hidden half file,
    # a part file cut short, and a batch partition with duplicated ids (written past the store's API)
    day = dt.date(2013, 3, 1)
    state.store.write_partition("batch", day, _rows(day, ["a", "b", "c"]))
    partition = state.store.path / "source=batch" / "date=2013-03-01"
    (partition.parent / ".date=2013-03-02.tmp-0123456789ab").mkdir()
    (partition / ".part-20130301T000000-0123456789ab.parquet.tmp").write_bytes(b"PAR1 half")
    good_file = next(partition.glob("part-*.parquet"))
    (partition / "part-zz-duplicate.parquet").write_bytes(good_file.read_bytes())
    service = state.store.path / "source=service" / "date=2013-03-01"
    service.mkdir(parents=True)
    (service / "part-cut.parquet").write_bytes(good_file.read_bytes()[:40])
    # when checked
    report = state.diagnose()
    # then each leftover is named with its repair
    problems = sorted(f.problem for f in report.findings)
    assert len(problems) == 4, problems
    assert any("staging folder" in p and ".date=2013-03-02.tmp-" in p for p in problems)
    assert any("half-written file" in p for p in problems)
    assert any("unreadable Parquet" in p and "source=service" in p for p in problems)
    assert any("3 duplicate ids in a batch partition" in p for p in problems)
    # when repaired / then temporary files are gone, the cut file is set aside, the duplicates still need a re-score
    after = state.diagnose(repair=True)
    assert [f.problem for f in after.findings if not f.repaired] == [p for p in problems if "duplicate" in p]
    assert not (partition.parent / ".date=2013-03-02.tmp-0123456789ab").exists()
    assert not list(partition.glob(".*.tmp")) and (service / ".part-cut.parquet.corrupt").exists()
    assert len(state.store.read("service")) == 0  # the day reads again


def _scoring(day: dt.date, ids: list[str], at: str) -> pd.DataFrame:
    """A batch of a table without a time column: every row's event time is the scoring's one time."""
    return _rows(day, ids).assign(event_time=pd.Timestamp(at, tz="UTC"), scored_at=pd.Timestamp(at, tz="UTC"))


def test_without_a_time_column_two_scorings_of_a_day_are_not_duplicates_but_an_id_twice_in_one_is(
    state: State,
) -> None:
    # given a table without a time column scored twice on one day: the same row keys in two batches
    day = dt.date(2026, 12, 4)
    state.store.append("batch", _scoring(day, ["a", "b", "c"], "2026-12-04 09:00"))
    state.store.append("batch", _scoring(day, ["a", "b", "c"], "2026-12-04 10:00"))
    # when checked as such a table / then the day is consistent (as a dated table it would not be)
    assert diagnose(MODEL, state.ledger_url, state.store.path, scorings_accumulate=True).findings == ()
    dated = [f.problem for f in state.diagnose().findings]
    assert dated == ["source=batch/date=2026-12-04: 3 duplicate ids in a batch partition"]
    # when one scoring holds an id twice (a part file copied past the store's API)
    partition = state.store.path / "source=batch" / "date=2026-12-04"
    first = sorted(partition.glob("part-*.parquet"))[0]
    (partition / "part-zz-copy.parquet").write_bytes(first.read_bytes())
    report = diagnose(MODEL, state.ledger_url, state.store.path, scorings_accumulate=True)
    # then that is found, and its repair is a new scoring, not a day re-run
    assert [f.problem for f in report.findings] == ["source=batch/date=2026-12-04: 3 duplicate ids within one scoring"]
    assert "score again" in report.findings[0].repair and "--start" not in report.findings[0].repair


def test_the_doctor_command_exits_non_zero_until_repaired(state: State, tmp_path: Path) -> None:
    # given a config and a champion moved behind the ledger's back
    config = tmp_path / "tiny.yaml"
    config.write_text(
        yaml.safe_dump({**config_dict(), "predictions": {"kind": "parquet", "path": str(state.store.path)}})
    )
    one, two = state.version(), state.version()
    state.move("champion", one)
    MlflowClient().set_registered_model_alias(MODEL, "champion", two)
    runner = CliRunner()
    # when the doctor runs / then it reports the problem with its repair and exits 1
    first = runner.invoke(app, ["doctor", "-c", str(config)])
    assert first.exit_code == 1, first.output
    assert "problem" in first.output and "--repair" in first.output
    # when it repairs / then it exits 0, and so does the next check
    assert runner.invoke(app, ["doctor", "-c", str(config), "--repair"]).exit_code == 0
    last = runner.invoke(app, ["doctor", "-c", str(config)])
    assert last.exit_code == 0 and "consistent" in last.output
