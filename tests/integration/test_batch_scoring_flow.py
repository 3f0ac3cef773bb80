"""Batch scoring end to end: a trained champion scores a window into the prediction store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

from flows.batch_scoring import batch_scoring_flow
from flows.training import training_flow
from perennial.config import load_config
from perennial.io.prediction_store import open_store
from tests.conftest import make_flights

WINDOW = {"start": dt.date(2013, 3, 1), "end": dt.date(2013, 3, 15)}
SYNCHRONOUS = {"kind": "dask", "scheduler": "synchronous"}


def _scoring_runs() -> list[Any]:
    experiment = MlflowClient().get_experiment_by_name("tiny")
    runs = MlflowClient().search_runs(
        [experiment.experiment_id], "tags.`perennial.kind` = 'scoring'", order_by=["attributes.start_time ASC"]
    )
    return list(runs)


def _artifact_keys(flow_run_id: Any) -> set[str]:
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return {a.key for a in found if a.key}


def _window_rows(project: Any) -> pd.DataFrame:
    frame = pd.read_parquet(project.data)
    times = frame["time_hour"]
    start, end = (pd.Timestamp(WINDOW[k], tz="UTC") for k in ("start", "end"))
    return frame[(times >= start) & (times < end)]


@pytest.fixture
def champion(project: Any) -> str:
    """The tiny config, with v1 trained and promoted by the training flow."""
    config = project.write_config()
    assert training_flow(config_path=config).version == "1"
    return config


def test_the_champion_scores_a_window_into_the_store_and_a_rerun_replaces_it(project: Any, champion: str) -> None:
    # given a champion and its prediction store
    store = open_store(load_config(champion), project.settings.root)
    expected = _window_rows(project)
    # when the batch flow scores two weeks with it
    state = batch_scoring_flow(config_path=champion, **WINDOW, return_state=True)
    # then every row of the window is in the store, with its identity and the model's
    assert state.is_completed(), state.message
    assert state.result() == len(expected) > 0
    rows = store.read("batch")
    (run,) = _scoring_runs()
    assert sorted(rows["id"]) == sorted(expected["flight_id"])
    assert set(rows["model_name"]) == {"tiny-delay"} and set(rows["model_version"]) == {"1"}
    assert set(rows["run_id"]) == {run.info.run_id}
    assert rows["event_time"].dt.tz is not None and rows["scored_at"].notna().all()
    assert rows["prediction"].between(0, 1).all()
    assert {p.name.removeprefix("date=") for p in (store.path / "source=batch").glob("date=*")} == {
        d.isoformat() for d in pd.to_datetime(expected["time_hour"], utc=True).dt.date
    }
    # and the MLflow run holds rows, latency and the prediction distribution; Prefect holds the artifacts
    metrics = run.data.metrics
    assert run.info.status == "FINISHED" and metrics["rows"] == len(expected)
    assert metrics["latency_ms_per_row"] > 0 and 0 <= metrics["prediction_p10"] <= metrics["prediction_p90"] <= 1
    histogram = mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/scoring/prediction_histogram.json")
    assert sum(histogram["counts"]) == len(expected)
    assert {"tiny-batch-scoring", "tiny-scoring-validation"} <= _artifact_keys(state.state_details.flow_run_id)

    # when the same window is scored again
    again = batch_scoring_flow(config_path=champion, **WINDOW, return_state=True)
    # then its partitions were replaced: the same ids once each, all from the second run
    assert again.is_completed(), again.message
    rerun = store.read("batch")
    second = _scoring_runs()[-1].info.run_id
    assert len(rerun) == len(expected) and rerun["id"].is_unique
    assert set(rerun["run_id"]) == {second} != {run.info.run_id}


CORRUPTIONS: dict[str, tuple[Callable[[pd.DataFrame], pd.DataFrame], str, str]] = {
    "missing-column": (lambda f: f.drop(columns=["temp"]), "temp", "missing"),
    "type-flip": (
        lambda f: f.assign(distance=f["distance"].map(lambda v: f"{v:.0f} miles")),
        "distance",
        "type numeric",
    ),
    "recoded-categories": (
        lambda f: f.assign(carrier=f["carrier"].str.lower()),
        "carrier",
        "mostly known categories",
    ),
}


def test_bad_scoring_input_fails_the_flow_naming_the_column_and_leaves_the_store(project: Any, champion: str) -> None:
    # given a window already scored from good data
    assert batch_scoring_flow(config_path=champion, **WINDOW, return_state=True).is_completed()
    store = open_store(load_config(champion), project.settings.root)
    before = store.read("batch").sort_values("id").reset_index(drop=True)
    good = pd.read_parquet(project.data)
    # (three corruptions in one test: each would otherwise train its own champion)
    for case, (corrupt, column, rule) in CORRUPTIONS.items():
        # when the source is corrupted and the window is scored again
        corrupt(good).to_parquet(project.data, index=False)
        state = batch_scoring_flow(config_path=champion, **WINDOW, return_state=True)
        # then the flow ends FAILED naming the file, the column and the rule
        assert state.is_failed(), case
        assert column in state.message and "flights.parquet" in state.message, (case, state.message)
        assert rule in state.message.lower(), (case, state.message)
        # and the store still holds exactly the good run's rows; the MLflow run is FAILED
        pd.testing.assert_frame_equal(store.read("batch").sort_values("id").reset_index(drop=True), before)
        last = _scoring_runs()[-1]
        assert last.info.status == "FAILED" and last.data.tags["perennial.validation"] == "failed", case


def test_a_rule_listed_in_validation_warnings_since_training_warns_in_scoring_too(project: Any, champion: str) -> None:
    # given a champion whose contract blocks a unit shift, and distances now written in km (x1.609)
    good = pd.read_parquet(project.data)
    good.assign(distance=good["distance"] * 1.609).to_parquet(project.data, index=False)
    blocked = batch_scoring_flow(config_path=champion, **WINDOW, return_state=True)
    assert blocked.is_failed() and "unit shift" in blocked.message and "validation.warnings" in blocked.message
    # when the user takes the advice and lists unit_shift in validation.warnings, without retraining
    warnings = ["nulls", "volume", "categories", "unit_shift"]
    for engine in ({"kind": "pandas"}, SYNCHRONOUS):
        listed = project.write_config("listed.yaml", **{"validation.warnings": warnings, "data.engine": engine})
        # then the window is scored, the shift recorded as a warning (the champion's own list had it blocking)
        assert batch_scoring_flow(config_path=listed, **WINDOW, return_state=True).is_completed(), engine
        assert _scoring_runs()[-1].data.tags["perennial.validation_warnings"] != "0", engine


@pytest.mark.parametrize("engine", ["pandas", "dask"])
def test_a_file_of_new_rows_after_the_holdout_is_scored_whole_without_dates(
    project: Any, champion: str, tmp_path: Path, engine: str
) -> None:
    # given new rows from after the config's holdout window (April-May), in their own CSV, without labels
    new = make_flights(rows=400, seed=7, start="2013-04-10", days=30).drop(columns=["delayed"])
    path = tmp_path / "new.csv"
    new.to_csv(path, index=False)
    config = champion if engine == "pandas" else project.write_config("dask.yaml", **{"data.engine": SYNCHRONOUS})
    # when they are scored with no dates given (the config's window is its training data's)
    state = batch_scoring_flow(config_path=config, data=str(path), return_state=True)
    # then every row is scored, not the none of them that fall in the holdout window
    assert state.is_completed(), state.message
    assert state.result() == len(new)
    stored = open_store(load_config(config), project.settings.root).read("batch")
    assert sorted(stored["id"]) == sorted(new["flight_id"].astype(str))
    # and the run is named after the file it scored (it was "score-champion-holdout")
    with get_client(sync_client=True) as client:
        assert client.read_flow_run(state.state_details.flow_run_id).name == "score-champion-new.csv"
    # while dates given still bound them
    assert batch_scoring_flow(config_path=config, data=str(path), start=dt.date(2013, 4, 20)) == int(
        (pd.to_datetime(new["time_hour"], utc=True) >= pd.Timestamp("2013-04-20", tz="UTC")).sum()
    )
