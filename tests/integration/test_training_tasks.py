"""The training flow for a regression and a multiclass target: train, gate, register, per-task evidence."""

from __future__ import annotations

import datetime as dt
import json

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from flows.training import training_flow
from perennial.io.registry import Registry

REGRESSORS = [
    {"name": "hgb", "family": "hist_gradient_boosting", "params": {"max_iter": 40}},
    {"name": "ridge", "family": "ridge", "params": {"alpha": 1.0}},
]
CLASSIFIERS = [
    {"name": "hgb", "family": "hist_gradient_boosting", "params": {"max_iter": 40}},
    {"name": "logreg", "family": "logistic_regression", "params": {"max_iter": 500, "class_weight": "balanced"}},
]


def with_delay_targets(path) -> None:
    """Arrival delay in minutes driven by temperature and carrier, and its class."""
    frame = pd.read_parquet(path)
    rng = np.random.default_rng(5)
    minutes = (
        5 + 1.2 * (frame["temp"] - 50) + np.where(frame["carrier"] == "B6", 30.0, 0.0) + rng.normal(0, 12, len(frame))
    )
    frame["delay_minutes"] = minutes.round(1)
    frame["delay_class"] = np.select([minutes <= 15, minutes <= 45], ["on_time", "late"], "very_late")
    frame.to_parquet(path, index=False)


def pyfunc_rows(path, n: int) -> pd.DataFrame:
    """The model's inputs as MLflow's schema takes them: timestamps naive UTC."""
    rows = pd.read_parquet(path).head(n)[["distance", "temp", "carrier", "origin", "time_hour"]]
    return rows.assign(time_hour=rows["time_hour"].dt.tz_convert("UTC").dt.tz_localize(None))


def _artifacts(run_id: str, folder: str) -> set[str]:
    return {a.path for a in MlflowClient().list_artifacts(run_id, folder)}


def test_a_regression_target_trains_gates_against_mean_and_champion_and_registers(project) -> None:
    # given delay minutes and a regression config
    with_delay_targets(project.data)
    config = project.write_config(
        **{
            "task": "regression",
            "data.target": "delay_minutes",
            "monitoring": {"retraining": {"performance_tolerance": 2.0}},
            "training.candidates": REGRESSORS,
            "gate": {
                "min_lift_over_baseline": 2.0,
                "max_regression_vs_champion": 1.0,
                "max_slice_regression_vs_champion": 5.0,
            },
            "evaluation.regression_cost": {"under": 3, "over": 1, "unit": "minutes", "shift_prediction": True},
        }
    )
    # when the flow trains twice, the second time against the first as champion
    first = training_flow(config_path=config)
    second = training_flow(config_path=config, train_end=dt.date(2013, 3, 15), holdout_end=dt.date(2013, 4, 30))
    # then both pass a gate judged on MAE (lower is better), with intervals, slices and the paired diff
    assert first.promoted and second.gate_passed, second.summary
    metrics = MlflowClient().get_run(second.run_id).data.metrics
    assert metrics["candidate.mae"] < metrics["baseline.mae"] - 2.0
    assert metrics["candidate.mae_low"] <= metrics["candidate.mae"] <= metrics["candidate.mae_high"]
    assert "champion.mae" in metrics and metrics["mae_diff_low"] <= metrics["mae_diff"] <= metrics["mae_diff_high"]
    assert "candidate.slice.carrier.B6.mae" in metrics and "candidate.rmse" in metrics and "candidate.r2" in metrics
    # the shift serves a higher quantile: cheaper than the unshifted predictions when under-prediction costs 3x
    assert metrics["candidate.prediction_shift"] > 0
    assert metrics["candidate.expected_cost"] < metrics["candidate.expected_cost_unshifted"]
    report = mlflow.artifacts.load_text(f"runs:/{second.run_id}/gate/report.md")
    assert "mae diff" in report and "champion:v1" in report
    assert {"error_analysis/residuals.png", "error_analysis/top_losses.csv"} <= _artifacts(
        second.run_id, "error_analysis"
    )
    assert "evaluation/calibration.png" not in _artifacts(second.run_id, "evaluation")
    # and the registered model predicts minutes through MLflow's pyfunc, as its signature says
    model = mlflow.pyfunc.load_model(f"models:/tiny-delay/{second.version}")
    values = np.asarray(model.predict(pyfunc_rows(project.data, 3)))
    assert values.shape == (3,) and np.isfinite(values).all() and values.dtype == np.float64
    assert Registry("tiny-delay").info(second.version).tags["perennial.prediction_shift"]


def test_a_multiclass_target_is_gated_per_class_and_predicts_each_class_probability(project) -> None:
    # given delay classes and a multiclass config whose gate bounds each class's recall
    with_delay_targets(project.data)
    config = project.write_config(
        **{
            "task": "multiclass",
            "data.target": "delay_class",
            "training.candidates": CLASSIFIERS,
            "gate": {"min_lift_over_baseline": 0.05, "max_regression_vs_champion": 0.05, "max_class_recall_drop": 0.3},
            "evaluation.class_cost": {"matrix": {"very_late": {"on_time": 5, "late": 2}, "late": {"on_time": 1}}},
        }
    )
    # when the flow trains twice
    first = training_flow(config_path=config)
    second = training_flow(config_path=config, train_end=dt.date(2013, 3, 15), holdout_end=dt.date(2013, 4, 30))
    # then the gate judged macro-F1 and each class's recall against the champion
    assert first.promoted, first.summary
    metrics = MlflowClient().get_run(second.run_id).data.metrics
    assert metrics["candidate.macro_f1"] > metrics["baseline.macro_f1"] + 0.05
    assert {"candidate.class.very_late.recall", "candidate.log_loss", "champion.macro_f1", "macro_f1_diff"} <= set(
        metrics
    )
    gate = json.loads(mlflow.artifacts.load_text(f"runs:/{second.run_id}/gate/report.json"))
    per_class = {c["name"] for c in gate["checks"] if c["name"].startswith("class ")}
    assert per_class == {f"class {c} recall vs champion" for c in ("late", "on_time", "very_late")}
    assert "candidate.expected_cost" in metrics and "candidate.expected_cost_argmax" in metrics
    assert "error_analysis/confusion_matrix.png" in _artifacts(second.run_id, "error_analysis")
    errors = json.loads(mlflow.artifacts.load_text(f"runs:/{second.run_id}/error_analysis/report.json"))
    assert errors["classes"] == ["late", "on_time", "very_late"] and len(errors["confusion"]) == 3
    # and the registered model answers one probability per class, its columns named by class
    model = mlflow.pyfunc.load_model(f"models:/tiny-delay/{second.version}")
    proba = np.asarray(model.predict(pyfunc_rows(project.data, 4)))
    assert proba.shape == (4, 3) and np.allclose(proba.sum(axis=1), 1.0)
    outputs = [c["name"] for c in json.loads(model.metadata.signature.to_dict()["outputs"])]
    assert outputs == ["late", "on_time", "very_late"]


@pytest.mark.parametrize("bad", ["12 min"])
def test_a_regression_target_that_is_not_a_number_fails_validation_by_name(project, bad: str) -> None:
    # given a delay column with text in it
    with_delay_targets(project.data)
    frame = pd.read_parquet(project.data)
    frame["delay_minutes"] = frame["delay_minutes"].astype(str)  # as a CSV export with units would give
    frame.loc[5, "delay_minutes"] = bad
    frame.to_parquet(project.data, index=False)
    config = project.write_config(
        **{
            "task": "regression",
            "data.target": "delay_minutes",
            "monitoring": {"retraining": {"performance_tolerance": 2.0}},
            "training.candidates": REGRESSORS,
            "gate": {"min_lift_over_baseline": 0.0},
        }
    )
    # when the flow runs / then validation stops it naming the column and the rule
    with pytest.raises(Exception, match=r"delay_minutes.*type numeric"):
        training_flow(config_path=config)


WINDOW = {"start": dt.date(2013, 4, 1), "end": dt.date(2013, 4, 15)}
MONITORING = {
    "window": "week",
    "min_labelled_rows": 50,
    "report_sample_rows": 500,
    "retraining": {"k": 1, "n": 1, "cooldown_days": 0},
}


def one_record(path, i: int = 0) -> dict:
    row = pd.read_parquet(path).iloc[i]
    return {
        "flight_id": str(row["flight_id"]),
        "distance": float(row["distance"]),
        "temp": float(row["temp"]),
        "carrier": str(row["carrier"]),
        "origin": str(row["origin"]),
        "time_hour": row["time_hour"].isoformat(),
    }


@pytest.mark.parametrize(
    ("task", "target", "candidates"),
    [("regression", "delay_minutes", REGRESSORS), ("multiclass", "delay_class", CLASSIFIERS)],
)
def test_a_champion_of_each_task_scores_in_batch_serves_and_is_monitored(project, task, target, candidates) -> None:
    # given a champion trained on the task's target
    from fastapi.testclient import TestClient

    from flows.batch_scoring import batch_scoring_flow
    from flows.monitoring import monitoring_flow
    from perennial.config import load_config
    from perennial.io.prediction_store import open_store
    from perennial.serving.app import create_app

    with_delay_targets(project.data)
    path = project.write_config(
        **{
            "task": task,
            "data.target": target,
            "training.candidates": candidates,
            "gate": {"min_lift_over_baseline": 0.0},
            # minutes of MAE for the regression; a multiclass score's drop for the other
            "monitoring": {
                **MONITORING,
                "retraining": {"performance_tolerance": 2.0 if task == "regression" else 0.03},
            },
        }
    )
    assert training_flow(config_path=path).promoted
    config = load_config(path)
    # when a window is scored in batch
    assert batch_scoring_flow(config_path=path, **WINDOW) > 0
    stored = open_store(config, project.settings.root).read("batch", WINDOW["start"], WINDOW["end"])
    assert len(stored) > 0 and stored["prediction"].notna().all()
    if task == "multiclass":  # the class and every class's probability ride along for monitoring
        assert {"predicted_class", "proba__late", "proba__on_time", "proba__very_late"} <= set(stored.columns)
    else:
        assert stored["predicted_label"].isna().all() and stored["prediction"].std() > 0
    # and a record is served
    with TestClient(create_app(config, project.settings)) as client:
        body = client.post("/predict", json=one_record(project.data)).json()
        schema = client.get("/openapi.json").json()["paths"]["/predict"]["post"]["responses"]["200"]
    # then the answer is the task's: a value, or the class with each class's probability
    single = schema["content"]["application/json"]["schema"]["oneOf"][0]["properties"]
    if task == "regression":
        assert isinstance(body["prediction"], float) and "label" not in body and "probabilities" not in single
    else:
        assert body["label"] in {"on_time", "late", "very_late"}
        assert set(body["probabilities"]) == {"on_time", "late", "very_late"}
        assert body["prediction"] == max(body["probabilities"].values())
        assert sum(body["probabilities"].values()) == pytest.approx(1.0)
        assert "probabilities" in single
    # and monitoring measures the window's delayed-label performance in the task's metric, with an interval
    result = monitoring_flow(config_path=path, window_start=WINDOW["start"], window_end=WINDOW["end"])
    perf = result["performance"]
    assert perf["metric"] == config.evaluation.primary_metric and perf["low"] <= perf["value"] <= perf["high"]
    assert result["prediction_drift"] is not None
    estimated = result["estimated"]
    if task == "multiclass":  # CBPE, calibrated on the holdout, estimated macro-F1 near the measured one
        assert abs(estimated["estimated_macro_f1"] - perf["value"]) < 0.15
        assert estimated["estimated_drop"] == pytest.approx(
            estimated["holdout_macro_f1"] - estimated["estimated_macro_f1"]
        )
    else:  # direct loss estimation, fitted on the holdout, expected the MAE from the features and predictions
        assert estimated["estimated_drop"] == pytest.approx(estimated["estimated_mae"] - estimated["holdout_mae"])
