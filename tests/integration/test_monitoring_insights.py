"""Monitoring beyond drift, end to end: train/serve skew from the service's log, and a feature losing importance."""

from __future__ import annotations

import datetime as dt
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

from flows.batch_scoring import batch_scoring_flow
from flows.monitoring import monitoring_flow
from flows.training import training_flow
from perennial.config import load_config
from perennial.io.prediction_store import open_store

WINDOW = {"window_start": dt.date(2013, 4, 1), "window_end": dt.date(2013, 4, 15)}
CALM = {"window": "week", "retraining": {"k": 1, "n": 1, "drift_share": 0.5, "cooldown_days": 0}}


@pytest.fixture
def trained(project: Any) -> str:
    config = project.write_config(monitoring=CALM)
    assert training_flow(config_path=config).version == "1"
    return config


def _monitoring_run() -> Any:
    experiment = MlflowClient().get_experiment_by_name("tiny-monitoring")
    (run,) = MlflowClient().search_runs([experiment.experiment_id])
    return run


def test_served_inputs_in_other_units_are_reported_as_skew_apart_from_drift(project: Any, trained: str) -> None:
    # given a scored April, and 300 requests the service answered whose temperature came in Celsius
    batch_scoring_flow(config_path=trained, start=WINDOW["window_start"], end=WINDOW["window_end"])
    store = open_store(load_config(trained), project.settings.root)
    batch = store.read("batch", WINDOW["window_start"], WINDOW["window_end"])
    served = batch.head(300).assign(
        id=lambda f: "s-" + f["id"].astype(str),
        temp=lambda f: (f["temp"] - 32) * 5 / 9,
        scored_at=pd.Timestamp.now(tz="UTC"),
    )
    assert store.append("service", served) == 300
    # when the window is monitored
    state = monitoring_flow(config_path=trained, **WINDOW, return_state=True)
    result = state.result()
    # then the served temperature is skewed against the champion's training features, the other columns are not
    skew = result["skew"]
    assert skew["served_rows"] == 300 and skew["model_version"] == "1" and skew["skewed"]
    assert skew["skewed_columns"] == ["temp"]
    # and skew is recorded apart from drift: its own report and metrics in the window's MLflow run
    run = _monitoring_run()
    assert run.data.metrics["skew.columns"] == 1.0 and run.data.metrics["skew.served_rows"] == 300.0
    stored = mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/skew/report.json")
    assert stored["kind"] == "train_serve_skew" and stored["skewed_columns"] == ["temp"]
    assert {c["column"]: c["drifted"] for c in stored["tests"]["columns"]} == {
        "distance": False,
        "temp": True,
        "carrier": False,
        "origin": False,
    }
    # and as its own Prefect artifact beside the drift table
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]))
        )
    assert {"tiny-skew-2013-04-01", "tiny-drift-2013-04-01"} <= {a.key for a in found}


def test_a_feature_the_labels_stopped_depending_on_is_flagged_as_decayed(project: Any, trained: str) -> None:
    # given an April whose delays no longer follow the temperature (only the carrier now)
    frame = pd.read_parquet(project.data)
    times = frame["time_hour"]
    inside = (times >= pd.Timestamp(WINDOW["window_start"], tz="UTC")) & (
        times < pd.Timestamp(WINDOW["window_end"], tz="UTC")
    )
    rng = np.random.default_rng(3)
    odds = np.where(frame.loc[inside, "carrier"] == "B6", 0.8, 0.1)
    frame.loc[inside, "delayed"] = (rng.uniform(size=int(inside.sum())) < odds).astype("int64")
    frame.to_parquet(project.data, index=False)
    batch_scoring_flow(config_path=trained, start=WINDOW["window_start"], end=WINDOW["window_end"])
    # when the window is monitored
    result = monitoring_flow(config_path=trained, **WINDOW)
    # then temperature is flagged: its importance on the labelled window fell past monitoring.max_importance_drop
    assert "temp" in result["decayed_features"] and "carrier" not in result["decayed_features"]
    run = _monitoring_run()
    assert "temp" in run.data.tags["perennial.decayed_features"].split(",")
    decay = mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/importance/decay.json")
    temp = next(row for row in decay["decay"] if row["feature"] == "temp")
    assert temp["decayed"] and temp["drop"] > 0.5 and temp["now"] < temp["at training"]
    # and with no served rows there is no skew to report
    assert result["skew"] is None


def test_a_window_with_one_class_of_labels_measures_no_decay(project: Any, trained: str) -> None:
    # given an April whose 40 labels so far are all 'not delayed' (the importance metric is undefined on
    # one class; 40 alike can be chance, where 500 alike would be a label feed fault, refused before this)
    frame = pd.read_parquet(project.data)
    times = frame["time_hour"]
    inside = (times >= pd.Timestamp(WINDOW["window_start"], tz="UTC")) & (
        times < pd.Timestamp(WINDOW["window_end"], tz="UTC")
    )
    labelled = inside & (inside.cumsum() <= 40)
    frame["delayed"] = frame["delayed"].astype("float64").where(~inside | labelled)
    frame.loc[labelled, "delayed"] = 0.0
    frame.to_parquet(project.data, index=False)
    few = project.write_config("few.yaml", monitoring=CALM | {"min_labelled_rows": 30})
    batch_scoring_flow(config_path=few, start=WINDOW["window_start"], end=WINDOW["window_end"])
    # when the window is monitored
    result = monitoring_flow(config_path=few, **WINDOW)
    # then nothing is measured or flagged (rather than NaN importances), as for the window's performance
    assert result["decayed_features"] is None and result["performance"] is None
    assert "perennial.decayed_features" not in _monitoring_run().data.tags
