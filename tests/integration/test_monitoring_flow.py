"""Monitoring end to end: a trained champion, a scored window, labels in the source, the policy and its events."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter, EventResourceFilter

from flows.batch_scoring import batch_scoring_flow
from flows.monitoring import monitoring_flow
from flows.training import training_flow
from perennial.config import load_config
from perennial.io.monitor_store import MonitorStore
from perennial.io.prediction_store import open_store
from tests.conftest import make_flights
from tests.serving.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]

WINDOW = {"window_start": dt.date(2013, 4, 1), "window_end": dt.date(2013, 4, 15)}
EAGER = {"window": "week", "retraining": {"k": 1, "n": 1, "drift_share": 0.5, "cooldown_days": 0}}


def _events(name: str, window: str, since: dt.datetime, wait: float = 10.0) -> list[Any]:
    """The events of one name for the tiny dataset's window since the test began, once they reached the API."""
    flt = EventFilter(
        occurred=EventOccurredFilter(since=since),
        event=EventNameFilter(name=[name]),
        resource=EventResourceFilter(id=["perennial.dataset.tiny"]),
    )
    deadline = time.monotonic() + wait
    while True:
        with get_client(sync_client=True) as client:
            found = [
                e
                for e in client.read_events(filter=flt, limit=50).events
                if e.resource.get("perennial.window") == window
            ]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.25)


def _monitoring_runs() -> list[Any]:
    experiment = MlflowClient().get_experiment_by_name("tiny-monitoring")
    return list(MlflowClient().search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"]))


def _artifact_keys(flow_run_id: Any) -> set[str]:
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return {a.key for a in found if a.key}


def _alter_window(project: Any, change: Any, start: dt.date = WINDOW["window_start"]) -> None:
    """Rewrite the rows of the monitored window (from ``start`` on) in the source (the world changed there)."""
    frame = pd.read_parquet(project.data)
    times = frame["time_hour"]
    inside = (times >= pd.Timestamp(start, tz="UTC")) & (times < pd.Timestamp(WINDOW["window_end"], tz="UTC"))
    frame.loc[inside] = change(frame.loc[inside].copy())
    frame.to_parquet(project.data, index=False)


def _hot_april(rows: pd.DataFrame) -> pd.DataFrame:
    # shifted, not scaled: every quartile of distance times one factor would read as a unit change (invalid data)
    return rows.assign(temp=rows["temp"] + 25.0, distance=rows["distance"] + 600.0)


@pytest.fixture
def since() -> dt.datetime:
    """The harness is shared by the session: each test reads only the events it caused."""
    return dt.datetime.now(dt.UTC)


@pytest.fixture
def trained(project: Any, since: dt.datetime) -> str:
    config = project.write_config(monitoring=EAGER)
    assert training_flow(config_path=config).version == "1"
    return config


def test_a_drifted_window_is_measured_logged_and_triggers_one_retrain_event(
    project: Any, trained: str, since: dt.datetime
) -> None:
    # given a champion, and an April whose weather and routes moved far from what it was trained on
    _alter_window(project, _hot_april)
    assert batch_scoring_flow(config_path=trained, start=WINDOW["window_start"], end=WINDOW["window_end"]) > 0
    # when the window is monitored
    state = monitoring_flow(config_path=trained, **WINDOW, return_state=True)
    # then drift is found on the moved columns and the score, labels give a performance figure
    assert state.is_completed(), state.message
    result = state.result()
    assert set(result["drifted_columns"]) >= {"temp", "distance"} and result["drift_share"] >= 0.5
    assert result["prediction_drift"] is True
    perf = result["performance"]
    assert (
        perf["metric"] == "roc_auc" and perf["low"] <= perf["value"] <= perf["high"] and perf["rows"] == result["rows"]
    )
    assert perf["reference"] is not None and perf["drop"] == pytest.approx(perf["reference"] - perf["value"])
    # and the label-free estimate (CBPE) compares the window's scores with the champion's reference scores
    estimated = result["estimated"]
    assert estimated["estimated_drop"] == pytest.approx(
        estimated["estimated_reference_roc_auc"] - estimated["estimated_roc_auc"]
    )
    assert 0.5 <= estimated["estimated_roc_auc"] <= 1.0 and 0.5 <= estimated["estimated_reference_roc_auc"] <= 1.0
    # with where the realised AUC would land if the scores hold (the labels' sampling alone)
    assert estimated["estimated_roc_auc_low"] < estimated["estimated_roc_auc"] < estimated["estimated_roc_auc_high"]
    # and the policy (k=1 of n=1) asks for a drift retrain of this window, once, as a typed event
    assert result["decision"]["retrain"] and result["decision"]["reason"] == "drift"
    assert result["event"] == "perennial.drift.detected"
    (event,) = _events("perennial.drift.detected", "2013-04-01", since)
    assert event.payload["train_end"] == "2013-04-01" and event.payload["holdout_end"] == "2013-04-15"
    assert set(event.payload["drifted_columns"]) == set(result["drifted_columns"])
    # and the window is one MLflow run in the monitoring experiment, with the reports and the verdict
    (run,) = _monitoring_runs()
    assert run.info.status == "FINISHED" and run.data.tags["perennial.window"] == "2013-04-01"
    assert run.data.metrics["drift_share"] == result["drift_share"] and run.data.metrics["roc_auc"] == perf["value"]
    assert run.data.metrics["estimated_drop"] == estimated["estimated_drop"]
    assert run.data.metrics["estimated_roc_auc_high"] == estimated["estimated_roc_auc_high"]
    assert run.data.tags["perennial.event"] == "perennial.drift.detected"
    # and the champion's features are re-weighed on the labelled window (decay), skew needs served rows (none here)
    assert isinstance(result["decayed_features"], list) and result["skew"] is None
    assert run.data.tags["perennial.decayed_features"] == (",".join(result["decayed_features"]) or "none")
    summary = mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/drift/summary.json")
    assert summary["engine"]["drifted_columns"] == list(result["drifted_columns"]) + (
        ["prediction"] if result["prediction_drift"] else []
    )
    # and its share is the policy's (features only), beside the engine's (features and the prediction)
    assert summary["policy"]["feature_drift_share"] == result["drift_share"]
    assert summary["engine"]["drift_share"] != result["drift_share"]
    html = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/drift/evidently_report.html")
    assert "<html" in html.lower() and "temp" in html
    # and Prefect shows the drift table and the verdict
    keys = _artifact_keys(state.state_details.flow_run_id)
    assert {"tiny-drift-2013-04-01", "tiny-monitoring-2013-04-01", "tiny-window-validation-2013-04-01"} <= keys

    # when the same window is monitored again (a re-run, a second monitor)
    again = monitoring_flow(config_path=trained, **WINDOW)
    # then the episode was already handled: no second retrain, no second event
    assert not again["decision"]["retrain"] and "dedupe" in again["decision"]["why"]
    assert again["event"] is None
    assert len(_events("perennial.drift.detected", "2013-04-01", since, wait=1.0)) == 1


def test_a_window_too_small_to_judge_drift_is_reported_and_never_asks_for_a_retrain(
    project: Any, since: dt.datetime, caplog: pytest.LogCaptureFixture
) -> None:
    # given a champion whose config judges drift only on windows of 100,000 rows or more, and the hot April
    config = project.write_config(monitoring={**EAGER, "min_drift_rows": 100_000})
    assert training_flow(config_path=config).promoted
    _alter_window(project, _hot_april)
    rows = batch_scoring_flow(config_path=config, start=WINDOW["window_start"], end=WINDOW["window_end"])
    # when the window is monitored
    state = monitoring_flow(config_path=config, **WINDOW, return_state=True)
    # then its drift is measured but not judged: no drift share, no retrain, no event, and the line says why
    assert state.is_completed(), state.message
    result = state.result()
    assert result["drift_share"] is None and result["drifted_columns"] == [] and result["event"] is None
    assert f"drift not judged: {rows:,} rows < 100,000 (monitoring.min_drift_rows)" in caplog.text
    assert _events("perennial.drift.detected", "2013-04-01", since, wait=1.0) == []


def test_drift_that_costs_no_performance_is_watched_not_retrained_when_the_policy_asks_for_a_drop(
    project: Any, since: dt.datetime
) -> None:
    # given a champion under a policy that needs drift to cost more than a (generous) tolerance
    harmless = {**EAGER, "retraining": {**EAGER["retraining"], "drift_needs_drop": True, "performance_tolerance": 0.5}}
    config = project.write_config(monitoring=harmless)
    training_flow(config_path=config)
    # and a drifted April
    _alter_window(project, _hot_april)
    batch_scoring_flow(config_path=config, start=WINDOW["window_start"], end=WINDOW["window_end"])
    # when the window is monitored
    result = monitoring_flow(config_path=config, **WINDOW)
    # then the drift is found, but with the measured drop within tolerance no retrain is asked for
    assert result["drift_share"] >= 0.5 and result["performance"]["drop"] <= 0.5
    assert not result["decision"]["retrain"] and result["event"] is None and result["episode"] is None
    assert "measured drop" in result["decision"]["why"] and "watched, not retrained" in result["decision"]["why"]
    assert _events("perennial.drift.detected", "2013-04-01", since, wait=1.0) == []


def test_a_calm_window_asks_for_nothing(project: Any, trained: str) -> None:
    # given a champion and an April like the months it learned from
    batch_scoring_flow(config_path=trained, start=WINDOW["window_start"], end=WINDOW["window_end"])
    # when the window is monitored
    result = monitoring_flow(config_path=trained, **WINDOW)
    # then nothing drifted enough, the champion holds its figure, and no event is sent
    assert result["drift_share"] < 0.5 and not result["decision"]["retrain"] and result["event"] is None
    assert result["performance"]["drop"] < 0.1
    # and the result names the UTC days it judged (the label alone names only the first)
    assert result["window"] == "2013-04-01" and result["days"] == ["2013-04-01", "2013-04-14"]


def test_a_drop_on_one_carrier_names_that_carrier_and_the_feature_nearest_to_drifting(
    project: Any, trained: str
) -> None:
    # given a scored April whose B6 labels then arrived inverted (the rest of the window as before)
    batch_scoring_flow(config_path=trained, start=WINDOW["window_start"], end=WINDOW["window_end"])
    _alter_window(
        project, lambda rows: rows.assign(delayed=rows["delayed"].where(rows["carrier"] != "B6", 1 - rows["delayed"]))
    )
    # when the window is monitored
    result = monitoring_flow(config_path=trained, **WINDOW)
    # then the performance retrain says where the drop sits, and that no feature drifted (the nearest named)
    why = result["decision"]["why"]
    assert result["decision"]["retrain"] and result["decision"]["reason"] == "performance", why
    assert "worst slice: carrier='B6' (roc_auc " in why and "labelled rows" in why, why
    assert "no feature drifted; nearest: " in why, why


def test_a_rolling_reference_absorbs_a_shift_the_weeks_before_already_had_and_says_what_it_measured_against(
    project: Any,
) -> None:
    # given a champion whose drift reference is the two weeks before each window (200 stored rows at least)
    rolling = {**EAGER, "reference": {"kind": "rolling", "windows": 2, "min_rows": 200}}
    config = project.write_config(monitoring=rolling)
    training_flow(config_path=config)
    # and a world that moved two weeks before the window (hotter, longer routes), scored from then on
    moved = dt.date(2013, 3, 18)
    _alter_window(project, _hot_april, start=moved)
    batch_scoring_flow(config_path=config, start=moved, end=WINDOW["window_end"])
    stored = len(open_store(load_config(config), project.settings.root).read("batch", moved, WINDOW["window_start"]))
    span = f"the 2 weeks before (2013-03-18..2013-04-01): {stored:,} stored rows"
    # when the window is monitored against the weeks before it
    result = monitoring_flow(config_path=config, **WINDOW)
    # then the moved columns did not drift (the weeks before had moved too): no retrain
    assert {"temp", "distance"}.isdisjoint(result["drifted_columns"]) and result["drift_share"] < 0.5
    assert not result["decision"]["retrain"] and result["event"] is None
    # and the run says what it was measured against: the span, its rows, scores included (all v1's)
    assert result["drift_reference"] == span.replace(":", ",")
    (run,) = _monitoring_runs()
    assert run.data.tags["perennial.drift_reference"] == result["drift_reference"]
    summary = mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/drift/summary.json")
    assert summary["reference"]["rows"] == stored and "prediction" in summary["reference"]["columns"]

    # when the reference asks for more stored rows than the weeks before hold
    strict = project.write_config(
        "strict.yaml", monitoring={**rolling, "reference": {"kind": "rolling", "windows": 2, "min_rows": 10_000}}
    )
    fallback = monitoring_flow(config_path=strict, **WINDOW)
    # then the champion's training data stands in, the run says instead of what and why, and the shift is found
    assert fallback["drift_reference"].startswith("the champion's training data (v1, ")
    assert fallback["drift_reference"].endswith(f"instead of {span} < 10,000")
    assert {"temp", "distance"} <= set(fallback["drifted_columns"]) and fallback["decision"]["retrain"]


def test_invalid_window_data_fails_the_flow_raises_a_data_event_and_never_a_retrain(
    project: Any, trained: str, since: dt.datetime
) -> None:
    # given a scored window whose source now spells every carrier in lower case (a recoded feed)
    batch_scoring_flow(config_path=trained, start=WINDOW["window_start"], end=WINDOW["window_end"])
    _alter_window(
        project,
        lambda rows: rows.assign(
            carrier=rows["carrier"].str.lower(),
            temp=rows["temp"] + 25.0,
            distance=rows["distance"] * 1.5,
        ),
    )
    # when the window is monitored
    state = monitoring_flow(config_path=trained, **WINDOW, return_state=True)
    # then the flow ends FAILED naming the column and the rule
    assert state.is_failed()
    assert "carrier" in state.message and "mostly known categories" in state.message
    # and a data-quality event is sent, no retrain event, and no retrain is claimed
    (event,) = _events("perennial.data.invalid", "2013-04-01", since)
    assert "carrier" in event.payload["summary"]
    assert _events("perennial.drift.detected", "2013-04-01", since, wait=1.0) == []
    store = MonitorStore(project.settings.ledger_url)
    assert store.seen_keys("tiny") == set()
    assert [v.data_valid for v in store.history("tiny")] == [False]
    # and the MLflow run is marked failed with the validation report
    (run,) = _monitoring_runs()
    assert run.info.status == "FAILED" and run.data.tags["perennial.validation"] == "failed"


def test_monitoring_without_predictions_names_the_window_and_the_fix(project: Any, trained: str) -> None:
    # given a champion but nothing scored in April
    # when the window is monitored
    state = monitoring_flow(config_path=trained, **WINDOW, return_state=True)
    # then it fails saying what is missing and how to produce it
    assert state.is_failed()
    assert "no batch or service rows for tiny 2013-04-01" in state.message and "perennial score -c " in state.message
    # and the command it suggests names the config file it was run with, not a placeholder
    assert "<config>" not in state.message and f"{Path(trained).name} --start 2013-04-01" in state.message


def test_a_running_service_reports_its_health_into_the_window(project: Any) -> None:
    # given a champion served by a real `perennial serve` that answered 20 predictions and refused one
    port = free_port()
    config = project.write_config(monitoring={**EAGER, "service_url": f"http://127.0.0.1:{port}"})
    training_flow(config_path=config)
    log = project.settings.state_dir / "serve.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "perennial.cli", "serve", "--config", config, "--port", str(port)],
            cwd=ROOT,
            env=dict(os.environ),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while not _ready(f"http://127.0.0.1:{port}/ready"):
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        april = make_flights(rows=20, seed=9, start="2013-04-02", days=5).drop(columns=["delayed"])
        served = json.loads(
            april.assign(time_hour=april["time_hour"].map(pd.Timestamp.isoformat)).to_json(orient="records")
        )
        for record in served:
            assert httpx.post(f"http://127.0.0.1:{port}/predict", json=record, timeout=10).status_code == 200
        assert httpx.post(f"http://127.0.0.1:{port}/predict", json={"flight_id": "x"}, timeout=10).status_code == 422
        batch_scoring_flow(config_path=config, start=WINDOW["window_start"], end=WINDOW["window_end"])
        # the service logs predictions off the request path, in batches every 2 s: wait for all 20
        store = open_store(load_config(config), project.settings.root)
        deadline = time.monotonic() + 30
        while len(store.read("service")) < 20 and time.monotonic() < deadline:
            time.sleep(0.25)
        # when the window is monitored
        result = monitoring_flow(config_path=config, **WINDOW)
    finally:
        server.terminate()
        server.wait(timeout=30)
    # then the service's own counters are part of the window's record
    service = result["service"]
    assert service["reachable"] and (service["requests"], service["errors"]) == (21, 1)
    assert service["versions"] == {"champion": "1"} and service["latency_p99_ms"] > 0
    # and what the service received in the window is compared with the training features: skew, apart from drift
    assert result["skew"]["served_rows"] == 20 and result["skew"]["model_version"] == "1"
    assert {c["column"] for c in result["skew"]["tests"]["columns"]} == {"distance", "temp", "carrier", "origin"}
    (run,) = _monitoring_runs()
    assert run.data.metrics["service.requests"] == 21 and run.data.metrics["service.error_rate"] == pytest.approx(
        1 / 21
    )


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_a_valid_windows_data_warnings_are_said_beside_its_decision(project: Any, trained: str) -> None:
    # given a scored window monitored as it came: no warning
    batch_scoring_flow(config_path=trained, start=WINDOW["window_start"], end=WINDOW["window_end"])
    assert monitoring_flow(config_path=trained, **WINDOW)["data_warnings"] == []
    # when temp then arrives missing on every fourth row (nulls warn by default: recorded, not blocking;
    # more than 30 points over the reference's worst window would be a lost feed, and block)
    _alter_window(project, lambda rows: rows.assign(temp=rows["temp"].where(rows.index % 4 != 0)))
    result = monitoring_flow(config_path=trained, **WINDOW)
    # then the window stays valid, and its result names the warning beside the decision
    assert result["data_valid"] and len(result["data_warnings"]) == 1
    assert "temp" in result["data_warnings"][0]


def test_new_rows_scored_from_their_own_file_are_monitored_from_it(project: Any, trained: str, tmp_path: Path) -> None:
    # given June's flights, after the source's last day, scored from their own CSV and labelled in it
    june = make_flights(rows=1500, seed=11, start="2013-06-01", days=28)
    path = tmp_path / "june.csv"
    june.to_csv(path, index=False)
    assert batch_scoring_flow(config_path=trained, data=str(path)) == len(june)
    # when the file's window is monitored from it (no dates: the days it spans)
    result = monitoring_flow(config_path=trained, data=str(path))
    # then its rows are validated, measured and judged on their labels (the config's source holds none
    # of them: read from there, the window was refused as empty and a data-invalid event sent)
    assert result["window"] == "2013-06-01" and result["rows"] == len(june)
    assert result["performance"] is not None and result["performance"]["rows"] == len(june)
    assert result["drift_share"] is not None


def test_a_window_whose_arrived_labels_are_all_one_class_is_refused_as_a_label_fault(
    project: Any, trained: str, since: dt.datetime
) -> None:
    # given a scored window whose label feed then wrote every label as 'not delayed' (the features are fine)
    batch_scoring_flow(config_path=trained, start=WINDOW["window_start"], end=WINDOW["window_end"])
    _alter_window(project, lambda rows: rows.assign(delayed=0))
    # when the window is monitored
    state = monitoring_flow(config_path=trained, **WINDOW, return_state=True)
    # then it is refused naming the labels (it read 'within policy, one class only' and a retrain learnt from it),
    # a data-quality event goes out, and the window is recorded invalid, so no retrain will read its rows
    assert state.is_failed() and "labels vary as in the reference" in state.message
    (event,) = _events("perennial.data.invalid", "2013-04-01", since)
    assert "every one of" in event.payload["summary"]
    assert _events("perennial.performance.degraded", "2013-04-01", since, wait=1.0) == []
    assert MonitorStore(project.settings.ledger_url).refused_windows("tiny") == ["2013-04-01"]


def test_a_window_whose_labels_were_shuffled_is_refused_and_never_learnt_from(
    project: Any, trained: str, since: dt.datetime, caplog: pytest.LogCaptureFixture
) -> None:
    # given a scored window whose label feed then shuffled the labels among its rows (inputs unchanged)
    batch_scoring_flow(config_path=trained, start=WINDOW["window_start"], end=WINDOW["window_end"])
    _alter_window(project, lambda rows: rows.assign(delayed=rows["delayed"].sample(frac=1, random_state=3).to_numpy()))
    # when the window is monitored
    state = monitoring_flow(config_path=trained, **WINDOW, return_state=True)
    # then it is refused as a label fault (it read as a performance drop, asked for a retrain on the
    # shuffled rows and stayed in every later training set), with the evidence, and no retrain is asked
    assert state.is_failed() and "labels carry the signal the inputs predict" in state.message, state.message
    assert "a broken label feed" in state.message
    assert _events("perennial.data.invalid", "2013-04-01", since)
    assert _events("perennial.performance.degraded", "2013-04-01", since, wait=1.0) == []
    assert MonitorStore(project.settings.ledger_url).refused_windows("tiny") == ["2013-04-01"]
    # and the monitor's line names the rule that blocked, not only that the window failed validation
    line = next(m for m in caplog.messages if m.startswith("2013-04-01: window 2013-04-01 failed validation"))
    assert "labels carry the signal the inputs predict" in line and "→ perennial.data.invalid" in line, line
