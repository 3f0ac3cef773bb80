"""The training flow end to end: Prefect harness, real MLflow on SQLite, real GX and sklearn."""

from __future__ import annotations

import datetime as dt

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from flows.training import training_flow
from perennial.io.ledger import Ledger
from perennial.io.registry import Registry


def _artifacts(run_id: str, folder: str) -> set[str]:
    return {a.path for a in MlflowClient().list_artifacts(run_id, folder)}


def test_first_run_promotes_with_lineage_and_the_second_competes_with_it(project) -> None:
    # given an empty registry / when the flow runs on the first window
    config = project.write_config()
    first = training_flow(config_path=config)
    # then the winner is registered, gated and champion, and the MLflow run holds everything
    registry = Registry("tiny-delay")
    assert first.promoted and first.version == "1" and registry.alias_version("champion") == "1"
    assert registry.alias_version("challenger") == "1"
    tags = registry.info("1").tags
    for key in (
        "perennial.training_run_id",
        "perennial.prefect_flow_run_id",
        "perennial.data_fingerprint",
        "perennial.config_hash",
        "perennial.gate",
        "perennial.git_commit",
    ):
        assert tags.get(key), key
    assert tags["perennial.gate"] == "passed"
    run = MlflowClient().get_run(first.run_id)
    assert run.info.status == "FINISHED" and run.data.tags["perennial.validation"] == "passed"
    assert {i.dataset.name for i in run.inputs.dataset_inputs} == {"tiny-train", "tiny-holdout"}
    assert {"gate/report.md", "gate/report.json"} <= _artifacts(first.run_id, "gate")
    assert {"evaluation/confusion_matrix.png", "evaluation/calibration.png"} <= _artifacts(first.run_id, "evaluation")
    assert "candidate.roc_auc_low" in run.data.metrics and "baseline.roc_auc" in run.data.metrics

    # when a second run trains on a later window
    second = training_flow(config_path=config, train_end=dt.date(2013, 3, 15), holdout_end=dt.date(2013, 4, 30))
    # then it was scored against champion v1 on the same holdout, paired
    metrics = MlflowClient().get_run(second.run_id).data.metrics
    assert "champion.roc_auc" in metrics and "roc_auc_diff" in metrics
    assert metrics["roc_auc_diff_low"] <= metrics["roc_auc_diff"] <= metrics["roc_auc_diff_high"]
    assert second.version == "2"
    # and a retry on the newer windows (from February) learns from those rows alone, recorded with the version
    third = training_flow(
        config_path=config,
        train_end=dt.date(2013, 3, 15),
        holdout_end=dt.date(2013, 4, 30),
        train_start=dt.date(2013, 2, 1),
    )
    rows = {r: int(MlflowClient().get_run(r).data.params["rows_train"]) for r in (second.run_id, third.run_id)}
    assert 0 < rows[third.run_id] < rows[second.run_id]
    assert '"train_start":"2013-02-01"' in registry.info(third.version).tags["perennial.split"]
    assert '"train_start":"2013-02-01"' not in registry.info("2").tags["perennial.split"]
    report = mlflow.artifacts.load_text(f"runs:/{second.run_id}/gate/report.md")
    assert "champion:v1" in report
    # and every alias move is in the ledger
    moves = Ledger(project.settings.ledger_url).history("tiny-delay")
    assert [(m.alias, m.version) for m in reversed(moves)][:2] == [("challenger", "1"), ("champion", "1")]


def test_a_worse_candidate_is_registered_but_not_promoted(project) -> None:
    # given a champion from the normal config
    training_flow(config_path=project.write_config())
    # when the next candidate only sees a feature with no signal
    weak = project.write_config(
        "weak.yaml",
        **{
            "data.features": {"numeric": ["distance"]},
            "validation.ranges": {"distance": [0, 6000]},
            "training.candidates": [{"name": "weak", "family": "logistic_regression"}],
            "evaluation.slices": [],
        },
    )
    state = training_flow(config_path=weak, return_state=True)
    # then the flow fails with the gate's verdict naming the failed checks
    assert state.is_failed()
    assert "gate FAILED" in state.message and "champion" in state.message
    # and the champion did not move; the weak version is only the challenger
    registry = Registry("tiny-delay")
    assert registry.alias_version("champion") == "1"
    assert registry.alias_version("challenger") == "2"
    assert registry.info("2").tags["perennial.gate"] == "failed"
    runs = MlflowClient().search_runs(
        [MlflowClient().get_experiment_by_name("tiny").experiment_id], "tags.`perennial.gate` = 'failed'"
    )
    assert len(runs) == 1 and runs[0].info.status == "FAILED"


@pytest.mark.parametrize(
    ("corrupt", "expected"),
    [
        (lambda f: f.drop(columns=["temp"]), "temp"),
        (lambda f: f.assign(distance=f["distance"].map(lambda v: f"{v:.0f} miles")), "distance"),
        # unusual missingness only warns (validation.warnings); a column with no value at all blocks
        (lambda f: f.assign(temp=float("nan")), "temp"),
    ],
    ids=["missing-column", "type-flip", "all-null"],
)
def test_bad_data_fails_validation_and_leaves_the_champion(project, corrupt, expected: str) -> None:
    # given a champion trained on good data
    config = project.write_config()
    training_flow(config_path=config)
    # when the source is corrupted and the flow runs again
    corrupt(pd.read_parquet(project.data)).to_parquet(project.data, index=False)
    state = training_flow(config_path=config, return_state=True)
    # then it ends FAILED naming the column, nothing new is registered, the champion stays
    assert state.is_failed()
    assert expected in state.message and "flights.parquet" in state.message
    registry = Registry("tiny-delay")
    assert [v.version for v in registry.versions()] == ["1"]
    assert registry.alias_version("champion") == "1"
    failed = MlflowClient().search_runs(
        [MlflowClient().get_experiment_by_name("tiny").experiment_id], "tags.`perennial.validation` = 'failed'"
    )
    assert len(failed) == 1 and failed[0].info.status == "FAILED"
    assert "validation/report.json" in _artifacts(failed[0].info.run_id, "validation")


def test_a_retrain_the_loop_asked_for_on_bad_data_ends_refused_for_its_episode(project) -> None:
    from perennial.core.episode_records import Episode
    from perennial.io.monitor_store import MonitorStore

    # given a champion, and a drift episode whose retrain (held out to 15 April) is running
    config = project.write_config()
    training_flow(config_path=config)
    store = MonitorStore(project.settings.ledger_url)
    store.save_episode(Episode("tiny", "2013-04-01", "2013-04-01", retrains=1, retrain="2013-04-15"))
    # when that retrain's data fails validation
    pd.read_parquet(project.data).drop(columns=["temp"]).to_parquet(project.data, index=False)
    state = training_flow(
        config_path=config,
        train_end=dt.date(2013, 4, 1),
        holdout_end=dt.date(2013, 4, 15),
        reason="perennial.drift.detected",
        return_state=True,
    )
    # then the run fails and the episode reads "refused", not still running (then lost, then retried)
    assert state.is_failed() and "temp" in state.message
    episode = store.open_episode("tiny")
    assert episode is not None and (episode.outcome, episode.version) == ("refused", None)
    # and a manual run on the same bad data records nothing for any episode
    store.save_episode(Episode("tiny", "2013-05-01", "2013-05-01", retrains=1, retrain="2013-03-01"))
    assert training_flow(config_path=config, return_state=True).is_failed()
    assert store.open_episode("tiny").outcome is None  # type: ignore[union-attr]
    store.close()


def test_a_champion_is_never_judged_on_rows_it_trained_on(project) -> None:
    # given a champion trained through March (its lineage says up to which hour)
    config = project.write_config()
    first = training_flow(config_path=config, train_end=dt.date(2013, 4, 1), holdout_end=dt.date(2013, 4, 30))
    registry = Registry("tiny-delay")
    through = pd.Timestamp(registry.info(first.version).tags["perennial.trained_through"])
    assert first.promoted and pd.Timestamp("2013-03-31", tz="UTC") < through < pd.Timestamp("2013-04-01", tz="UTC")
    assert registry.trained_through(first.version) == through
    # when a candidate is trained with the configured split, holding out March
    second = training_flow(config_path=config)
    # then the champion cannot be compared on rows it never saw: inconclusive, the champion stays, the flow ends well
    assert second.verdict == "inconclusive" and not second.promoted and second.champion_version == "1"
    assert registry.info(second.version).tags["perennial.gate"] == "inconclusive"
    report = mlflow.artifacts.load_text(f"runs:/{second.run_id}/gate/report.md")
    assert report.startswith("## Gate INCONCLUSIVE: candidate:")
    assert "0 holdout rows the champion never trained on < 500" in report
    assert f"champion:v1 trained on rows up to {through:%Y-%m-%d %H:%M}" in report
    assert "Holdout: 2013-03-01" in report


def test_a_retrain_never_learns_from_a_window_monitoring_refused(project) -> None:
    # given February's week of 2013-02-04 refused by monitoring (its data failed validation), and a
    # later week that was fine
    from perennial.core.retraining import WindowVerdict
    from perennial.io.monitor_store import MonitorStore

    store = MonitorStore(project.settings.ledger_url)
    at = dt.datetime(2013, 3, 1, tzinfo=dt.UTC)
    store.record_window("tiny", WindowVerdict("2013-02-04", 0.0, None, data_valid=False), at)
    store.record_window("tiny", WindowVerdict("2013-02-11", 0.0, None, data_valid=True), at)
    store.close()
    frame = pd.read_parquet(project.data)
    refused = int(((frame["time_hour"] >= "2013-02-04") & (frame["time_hour"] < "2013-02-11")).sum())
    # when the model is trained over January and February
    outcome = training_flow(config_path=project.write_config())
    # then that week's rows were left out of training, recorded on the run; the valid week's were not
    run = MlflowClient().get_run(outcome.run_id)
    assert run.data.params["left_out_refused_windows"] == "2013-02-04"
    assert run.data.metrics["left_out_refused_rows"] == refused > 0
    everything = int(((frame["time_hour"] >= "2013-01-01") & (frame["time_hour"] < "2013-03-01")).sum())
    assert int(run.data.params["rows_train"]) == everything - refused


def test_rows_without_a_timestamp_are_said_to_fall_in_no_window(project, caplog: pytest.LogCaptureFixture) -> None:
    # given a source where every third row lost its timestamp
    frame = pd.read_parquet(project.data)
    untimed = frame.index % 3 == 0
    frame["time_hour"] = frame["time_hour"].mask(untimed)
    frame.to_parquet(project.data, index=False)
    # when it is trained on
    outcome = training_flow(config_path=project.write_config())
    # then training goes on with the timed rows, and the rows left out are counted and named, not lost silently
    assert outcome.version == "1"
    expected = f"{int(untimed.sum()):,} of {len(frame):,} rows (33.4%) have no 'time_hour' and fall in no window"
    assert expected in caplog.text
