"""What a trained model's MLflow run holds besides its metrics: profile, error analysis, cost, importance."""

from __future__ import annotations

import json
from typing import Any

import mlflow
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from flows.training import training_flow
from perennial import cli
from perennial.io.registry import CHAMPION, Registry

COST = {"false_positive": 1.0, "false_negative": 5.0, "unit": "EUR"}


def _run(run_id: str) -> tuple[Any, set[str]]:
    run = MlflowClient().get_run(run_id)
    folder = mlflow.artifacts.download_artifacts(run_id=run_id)
    from pathlib import Path

    return run, {str(p.relative_to(folder)) for p in Path(folder).rglob("*") if p.is_file()}


def test_a_trained_model_carries_its_profile_errors_cost_and_importance_and_the_next_one_its_diff(project: Any) -> None:
    # given a config with a cost matrix
    evaluation = {
        "bootstrap": {"resamples": 50},
        "slices": ["carrier"],
        "min_slice_rows": 50,
        "latency_rows": 100,
        "cost": COST,
        "top_loss_rows": 20,
        "importance": {"max_rows": 500, "repeats": 2},
    }
    config = project.write_config(evaluation=evaluation)
    # when two models are trained one after the other
    first = training_flow(config_path=config)
    second = training_flow(config_path=config)
    # then the first run holds the profile, the error analysis with its costliest rows, the cost and the importances
    run, files = _run(first.run_id)
    assert {
        "profile/profile.json",
        "profile/profile.html",
        "error_analysis/report.json",
        "error_analysis/report.md",
        "error_analysis/top_losses.csv",
        "cost/report.json",
        "importance/importance.json",
    } <= files
    assert "profile/diff.json" not in files  # nothing to compare with yet
    assert run.data.metrics["candidate.expected_cost"] >= 0 and 0 < run.data.metrics["candidate.decision_threshold"] < 1
    assert any(k.startswith("importance.") for k in run.data.metrics)
    top = mlflow.artifacts.load_text(f"runs:/{first.run_id}/error_analysis/top_losses.csv").strip().splitlines()
    assert len(top) == 1 + 20
    # and the gate report links the error analysis
    assert "### Error analysis" in mlflow.artifacts.load_text(f"runs:/{first.run_id}/gate/report.md")
    # and the second holds the profile diff against the first champion's training data
    _, files = _run(second.run_id)
    assert "profile/diff.json" in files and "profile/diff.md" in files
    # and each model version carries its importance and cost: the history across versions
    registry = Registry("tiny-delay")
    for version in (first.version, second.version):
        tags = registry.info(version).tags
        importances = json.loads(tags["perennial.importance"])
        assert importances and set(importances) <= {"distance", "temp", "carrier", "origin", "time_hour"}
        assert tags["perennial.expected_cost"].endswith("EUR/row")


def test_a_cost_ceiling_that_fails_keeps_the_champion(project: Any) -> None:
    # given a champion, and a gate that allows almost no expected cost
    training_flow(config_path=project.write_config())
    strict = project.write_config(
        "strict.yaml",
        evaluation={
            "bootstrap": {"resamples": 50},
            "slices": ["carrier"],
            "min_slice_rows": 50,
            "latency_rows": 100,
            "cost": COST,
        },
        **{"gate.max_expected_cost": 0.0001},
    )
    # when the next model is trained
    state = training_flow(config_path=strict, return_state=True)
    # then the gate fails on the cost, naming it, and the champion does not move
    assert state.is_failed() and "expected cost" in state.message
    assert Registry("tiny-delay").alias_version(CHAMPION) == "1"


def test_status_features_shows_each_feature_across_versions(project: Any, monkeypatch: Any) -> None:
    # given two trained versions whose tags name only their top 2 features (the run's JSON has all 5)
    monkeypatch.setattr("tasks.insights.TOP_TAGGED", 2)
    config = project.write_config()
    training_flow(config_path=config)
    training_flow(config_path=config)
    # when the importance history is asked for
    from typer.testing import CliRunner

    from perennial.cli import app

    result = CliRunner().invoke(app, ["status", "--features", "--config", config], env={"COLUMNS": "200"})
    # then each feature is a row with a figure per version
    assert result.exit_code == 0, result.output
    assert "v1" in result.output and "v2" in result.output
    # and every feature keeps a figure in every version, not only those tagged as the top ones
    for feature in ("temp", "carrier", "distance", "origin", "time_hour"):
        row = next(line for line in result.output.splitlines() if line.strip("│ ").startswith(feature))
        assert (
            len([cell for cell in row.split("│") if cell.strip().replace(".", "").replace("-", "").isdigit()]) == 2
        ), row
    assert len(json.loads(Registry("tiny-delay").info("2").tags["perennial.importance"])) == 2


def test_a_candidate_that_decides_no_positive_is_warned_of_not_failed(project: Any, monkeypatch: Any) -> None:
    # given a threshold no delay probability reaches (as 0.5 is for a rare positive class)
    config = project.write_config(**{"evaluation.threshold": 0.9999})
    # when trained
    outcome = training_flow(config_path=config)
    # then the gate still decides on the probabilities, and the run and the gate report say no row is decided positive
    run = MlflowClient().get_run(outcome.run_id)
    why = run.data.tags["perennial.no_positive_decided"]
    assert why.startswith("at threshold 0.9999 candidate:") and "decides no holdout row positive" in why
    assert f"**No positive decided**: {why}." in mlflow.artifacts.load_text(f"runs:/{outcome.run_id}/gate/report.md")
    assert Registry("tiny-delay").alias_version(CHAMPION) == "1"
    # and `perennial status` says it beside the run's gate verdict, where a passed gate alone would mislead
    monkeypatch.setattr(cli.console, "width", 240)
    shown = CliRunner().invoke(cli.app, ["status", "-c", config])
    assert shown.exit_code == 0 and "passed; decides no row positive" in shown.output, shown.output
