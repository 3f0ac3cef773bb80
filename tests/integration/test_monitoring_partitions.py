"""Monitoring over Dask partitions (data.engine.kind: dask) finds what the in-memory path finds."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from flows.batch_scoring import batch_scoring_flow
from flows.monitoring import monitoring_flow
from flows.training import training_flow
from perennial.core.drift.partitioned import detect_drift_partitioned
from perennial.core.partitions import split_frame
from perennial.io.partitioned import dask_reduce
from perennial.io.prediction_store import ParquetPredictionStore
from perennial.io.reference_store import load_reference
from perennial.io.registry import Registry
from perennial.io.window_parts import open_predictions
from tests.conftest import config_dict, make_flights

WINDOW = {"window_start": dt.date(2013, 4, 1), "window_end": dt.date(2013, 4, 15)}
LAST_DAY = dt.date(2013, 4, 14)  # the window's last day: the store's last partition of it
SYNCHRONOUS = {"kind": "dask", "scheduler": "synchronous"}
MONITORING = {"window": "week", "min_labelled_rows": 50, "report_sample_rows": 200}
# what differs between two monitoring runs by design: their MLflow run
RUN_KEYS = {"mlflow_run_id"}


class Trained:
    """v1 trained once for the module on flights held as a partitioned Parquet directory."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.parts = folder / "flights-parts"

    def configs(self, name: str, parts: Path, **monitoring: Any) -> dict[str, str]:
        """A config of each engine reading ``parts``, with the test's own prediction store."""
        out = {}
        for engine, spec in {"pandas": {"kind": "pandas"}, "dask": SYNCHRONOUS}.items():
            raw = config_dict(str(parts))
            raw["data"]["engine"] = spec
            raw["monitoring"] = MONITORING | monitoring
            raw["predictions"] = {"kind": "parquet", "path": str(self.folder / name / "store")}
            path = self.folder / name / f"{engine}.yaml"
            path.write_text(yaml.safe_dump(raw))
            out[engine] = str(path)
        return out

    def copy_parts(self, name: str) -> Path:
        (self.folder / name).mkdir()
        return Path(shutil.copytree(self.parts, self.folder / name / "parts"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Iterator[Trained]:
    folder = tmp_path_factory.mktemp("monitoring-partitions")
    state = folder / "state"
    state.mkdir()
    with pytest.MonkeyPatch.context() as env:  # the module's own state folder (tests/conftest.py's state_folder)
        env.setenv("PERENNIAL_STATE_DIR", str(state))
        env.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{state / 'mlflow.db'}")
        env.setenv("PERENNIAL_ARTIFACT_ROOT", (state / "mlartifacts").as_uri())
        env.setenv("PERENNIAL_LEDGER_URL", f"sqlite:///{state / 'ledger.db'}")
        mlflow.set_tracking_uri(f"sqlite:///{state / 'mlflow.db'}")
        project = Trained(folder)
        project.parts.mkdir()
        for i, part in enumerate(split_frame(make_flights(rows=4000, days=120), 7)):
            part.to_parquet(project.parts / f"part-{i:02}.parquet", index=False)
        raw = config_dict(str(project.parts))
        raw["training"]["candidates"] = raw["training"]["candidates"][:1]  # one candidate: the model is not on trial
        (folder / "train.yaml").write_text(yaml.safe_dump(raw))
        assert training_flow(config_path=str(folder / "train.yaml")).version == "1"
        yield project


def _alter(parts: Path, change: Any) -> None:
    """Rewrite the window's rows, file by file, in the partitioned source."""
    for file in sorted(parts.glob("*.parquet")):
        frame = pd.read_parquet(file)
        times = frame["time_hour"]
        inside = (times >= pd.Timestamp(WINDOW["window_start"], tz="UTC")) & (
            times < pd.Timestamp(WINDOW["window_end"], tz="UTC")
        )
        if inside.any():
            frame.loc[inside] = change(frame.loc[inside].copy())
            frame.to_parquet(file, index=False)


def _monitor(config: str, ledger: Path, env: pytest.MonkeyPatch) -> Any:
    """One monitoring run with a ledger of its own: each engine judges the window as the first one seen."""
    env.setenv("PERENNIAL_LEDGER_URL", f"sqlite:///{ledger}")
    return monitoring_flow(config_path=config, **WINDOW, return_state=True)


def _ran(state: Any, task: str, wait: float = 15.0) -> bool:
    """Whether the flow run ran ``task`` (task runs reach the API as events, shortly after)."""
    flow_run = FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
    deadline = time.monotonic() + wait
    while True:
        with get_client(sync_client=True) as client:
            if any(r.name.startswith(task) for r in client.read_task_runs(flow_run_filter=flow_run)):
                return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


def _drift_verdicts(run_id: str) -> dict[str, bool]:
    summary = mlflow.artifacts.load_dict(f"runs:/{run_id}/drift/summary.json")
    return {c["column"]: c["drifted"] for c in summary["engine"]["columns"]}


def test_monitoring_over_partitions_equals_the_in_memory_run_and_reads_every_partition(
    trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a window whose last day flies far longer routes, scored in memory, and some ids scored again
    # later by the service (the store holds two scorings of them: the last one counts)
    parts = trained.copy_parts("equal")
    configs = trained.configs("equal", parts)
    last_day = lambda rows: rows.assign(  # noqa: E731
        distance=rows["distance"].where(rows["time_hour"].dt.date != LAST_DAY, 5000.0)
    )
    _alter(parts, last_day)
    start, end = WINDOW["window_start"], WINDOW["window_end"]
    assert batch_scoring_flow(config_path=configs["pandas"], start=start, end=end) > 0
    store = ParquetPredictionStore(trained.folder / "equal" / "store")
    again = store.read("batch").iloc[::9].drop(columns=["source"])
    store.append("service", again.assign(prediction=1 - again["prediction"], scored_at=pd.Timestamp.now(tz="UTC")))
    # when the window is monitored by each engine
    states = {e: _monitor(c, trained.folder / "equal" / f"{e}.db", monkeypatch) for e, c in configs.items()}
    # then both complete with the same result: rows, drift, performance, estimate, decay, decision, event
    assert states["pandas"].is_completed(), states["pandas"].message
    assert states["dask"].is_completed(), states["dask"].message
    assert _ran(states["dask"], "detect-drift-partitions") and _ran(states["dask"], "join-labels-partitions")
    assert _ran(states["pandas"], "load-data") and not _ran(states["dask"], "load-data", wait=0)
    results = {e: {k: v for k, v in s.result().items() if k not in RUN_KEYS} for e, s in states.items()}
    assert results["dask"] == results["pandas"]
    result = results["dask"]
    assert result["rows"] == len(store.read("batch")) and result["performance"]["rows"] == result["rows"]
    assert "distance" in result["drifted_columns"] and "temp" not in result["drifted_columns"]
    assert result["estimated"] is not None and result["decayed_features"] is not None
    # and the same verdict per column and the same validation report are recorded
    runs = {e: s.result()["mlflow_run_id"] for e, s in states.items()}
    assert _drift_verdicts(runs["dask"]) == _drift_verdicts(runs["pandas"])
    reports = {e: mlflow.artifacts.load_dict(f"runs:/{r}/validation/report.json") for e, r in runs.items()}
    assert reports["dask"] == reports["pandas"]

    # when the window's batch rows are tested for drift over partitions, with and without its last day's
    champion = Registry("tiny-delay").champion()
    assert champion is not None
    stats, _ = load_reference(champion.require_training_run(), "v1")
    verdicts = {}
    for last in (end, LAST_DAY):
        lazy = open_predictions(store, ["batch"], start, last)
        assert lazy is not None
        report = detect_drift_partitioned(stats, dask_reduce(lazy[list(stats.columns)]), 0.5)
        verdicts[last] = {c.column: c.drifted for c in report.columns}
    # then distance drifts only with the last partition read: a path that skipped it would not have matched
    assert verdicts[end]["distance"] and not verdicts[LAST_DAY]["distance"]


def test_a_window_whose_labels_were_shuffled_is_refused_over_partitions_as_in_memory(
    trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a scored window whose label feed then shuffled the labels among its rows (inputs unchanged)
    parts = trained.copy_parts("shuffled")
    configs = trained.configs("shuffled", parts)
    assert batch_scoring_flow(config_path=configs["pandas"], start=WINDOW["window_start"], end=WINDOW["window_end"])
    _alter(parts, lambda rows: rows.assign(delayed=rows["delayed"].sample(frac=1, random_state=3).to_numpy()))
    since = time.time()
    # when each engine monitors the window
    states = {e: _monitor(c, trained.folder / "shuffled" / f"{e}.db", monkeypatch) for e, c in configs.items()}
    # then both refuse it as a label fault in the same words, the partitions fetching the labelled rows' features
    assert states["dask"].is_failed() and "labels carry the signal the inputs predict" in states["dask"].message
    assert "a broken label feed" in states["dask"].message
    assert states["dask"].message == states["pandas"].message
    assert _ran(states["dask"], "label-signal-rows-partitions")
    (pandas, dask) = _failed_reports(since)
    assert dask == pandas and not dask["passed"]


def test_a_drop_on_one_carrier_is_placed_alike_over_partitions(
    trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a scored window whose B6 labels then arrived inverted (the rest as before)
    parts = trained.copy_parts("one-carrier")
    configs = trained.configs("one-carrier", parts, retraining={"k": 1, "n": 1, "cooldown_days": 0})
    assert batch_scoring_flow(config_path=configs["pandas"], start=WINDOW["window_start"], end=WINDOW["window_end"])
    _alter(parts, lambda rows: rows.assign(delayed=rows["delayed"].where(rows["carrier"] != "B6", 1 - rows["delayed"])))
    # when each engine monitors the window
    states = {e: _monitor(c, trained.folder / "one-carrier" / f"{e}.db", monkeypatch) for e, c in configs.items()}
    # then both judge the drop alike, naming B6 as where it sits
    results = {e: {k: v for k, v in s.result().items() if k not in RUN_KEYS} for e, s in states.items()}
    assert results["dask"] == results["pandas"]
    assert "worst slice: carrier='B6'" in results["dask"]["decision"]["why"], results["dask"]["decision"]["why"]


def _failed_reports(since: float) -> list[dict[str, Any]]:
    """The validation reports of the monitoring runs that failed since ``since`` (seconds), oldest first."""
    experiment = MlflowClient().get_experiment_by_name("tiny-monitoring")
    assert experiment is not None
    failed = MlflowClient().search_runs(
        [experiment.experiment_id],
        f"attributes.status = 'FAILED' and attributes.start_time > {int(since * 1000)}",
        order_by=["attributes.start_time ASC"],
    )
    return [mlflow.artifacts.load_dict(f"runs:/{r.info.run_id}/validation/report.json") for r in failed]


def test_a_rolling_reference_over_partitions_equals_the_in_memory_one(
    trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given drift measured against the two weeks before the window, scored with the window
    rolling = {"kind": "rolling", "windows": 2, "min_rows": 100}
    configs = trained.configs("rolling", trained.copy_parts("rolling"), reference=rolling)
    assert batch_scoring_flow(config_path=configs["pandas"], start=dt.date(2013, 3, 18), end=WINDOW["window_end"]) > 0
    # when each engine monitors the window
    states = {e: _monitor(c, trained.folder / "rolling" / f"{e}.db", monkeypatch) for e, c in configs.items()}
    # then both measured against the stored weeks (not the training data) and found the same
    results = {e: {k: v for k, v in s.result().items() if k not in RUN_KEYS} for e, s in states.items()}
    assert results["pandas"]["drift_reference"].startswith("the 2 weeks before (2013-03-18..2013-04-01), ")
    assert results["dask"] == results["pandas"]
    runs = {e: s.result()["mlflow_run_id"] for e, s in states.items()}
    assert _drift_verdicts(runs["dask"]) == _drift_verdicts(runs["pandas"])


def test_a_window_out_of_range_fails_both_engines_with_the_same_message(
    trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a window where some flights report a temperature beyond the declared range
    parts = trained.copy_parts("broken")
    configs = trained.configs("broken", parts)
    _alter(parts, lambda rows: rows.assign(temp=rows["temp"].where(rows.index % 7 != 0, 400.0)))
    since = time.time()
    # when each engine monitors it
    states = {e: _monitor(c, trained.folder / "broken" / f"{e}.db", monkeypatch) for e, c in configs.items()}
    # then both fail naming the column and the rule, with the same message and the same recorded verdict
    assert states["pandas"].is_failed() and states["dask"].is_failed()
    assert "temp" in states["dask"].message
    assert states["dask"].message == states["pandas"].message
    (pandas, dask) = _failed_reports(since)
    assert dask == pandas and not dask["passed"]


def test_a_window_never_scored_fails_both_engines_naming_the_fix(
    trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a valid window that was never scored into the prediction store
    configs = trained.configs("unscored", trained.copy_parts("unscored"))
    # when each engine monitors it
    states = {e: _monitor(c, trained.folder / "unscored" / f"{e}.db", monkeypatch) for e, c in configs.items()}
    # then both fail with the same message, saying how to score it, each with its own config file
    assert states["pandas"].is_failed() and states["dask"].is_failed()
    assert f"perennial score -c {configs['dask']}" in states["dask"].message
    assert states["dask"].message.replace(str(configs["dask"]), "C") == states["pandas"].message.replace(
        str(configs["pandas"]), "C"
    )
