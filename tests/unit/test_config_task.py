"""The `task` key: its defaults, and every task-specific setting checked against it."""

from __future__ import annotations

import pytest
import yaml

from perennial.config import parse_config
from perennial.errors import ConfigError
from tests.conftest import config_dict


def regression_dict() -> dict:
    raw = config_dict()
    raw["task"] = "regression"
    raw["training"]["candidates"] = [
        {"name": "hgb", "family": "hist_gradient_boosting"},
        {"name": "ridge", "family": "ridge", "params": {"alpha": 1.0}},
    ]
    raw["evaluation"] = {"bootstrap": {"resamples": 50}}
    raw["gate"] = {"min_lift_over_baseline": 1.0}
    raw["monitoring"] = {"retraining": {"performance_tolerance": 2.0}}
    return raw


def test_binary_stays_the_default_and_other_tasks_take_their_own_metric_and_baseline_defaults() -> None:
    # given the binary test config, the same as regression, and as multiclass
    binary = parse_config(config_dict())
    regression = parse_config(regression_dict())
    multiclass_raw = config_dict()
    multiclass_raw["task"] = "multiclass"
    multiclass = parse_config(multiclass_raw)
    # then each task gets its own primary metric, secondary metrics and baseline
    assert (binary.task, binary.evaluation.primary_metric, binary.training.baseline) == ("binary", "roc_auc", "prior")
    assert (regression.evaluation.primary_metric, regression.evaluation.secondary_metrics) == ("mae", ("rmse", "r2"))
    assert regression.training.baseline == "mean"
    assert multiclass.evaluation.primary_metric == "macro_f1"
    assert multiclass.evaluation.secondary_metrics == ("balanced_accuracy", "log_loss", "accuracy")
    # and an explicit choice is kept, without repeating the primary among the secondaries
    raw = regression_dict()
    raw["evaluation"]["primary_metric"] = "rmse"
    assert parse_config(raw).evaluation.secondary_metrics == ("r2",)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda r: r["evaluation"].update(primary_metric="roc_auc"),
            r"evaluation metrics \['roc_auc'\] do not apply to task 'regression'",
        ),
        (
            lambda r: r["training"].update(baseline="prior"),
            r"training.baseline 'prior' does not apply to task 'regression'",
        ),
        (
            lambda r: r["training"]["candidates"].append({"name": "lr", "family": "logistic_regression"}),
            r"candidates \['lr'\] use a family that cannot fit a regression target",
        ),
        (
            lambda r: r["evaluation"].update(cost={"false_negative": 1}),
            "evaluation.cost is for a binary task, not 'regression'",
        ),
        (lambda r: r["gate"].update(max_class_recall_drop=0.1), "apply to task 'multiclass' only"),
        (lambda r: r.update(task="ordinal"), r"task: Input should be 'binary', 'multiclass' or 'regression'"),
    ],
)
def test_a_setting_that_does_not_fit_the_task_is_named(change, message: str) -> None:
    # given a regression config with one setting of another task
    raw = regression_dict()
    change(raw)
    # when it is parsed / then the error names the key and the task
    with pytest.raises(ConfigError, match=message):
        parse_config(raw, "delay.yaml")


def test_a_regression_config_names_its_own_performance_tolerance() -> None:
    # given a regression config that leaves the monitor's tolerance to the default (a score's 0.03)
    raw = regression_dict()
    del raw["monitoring"]
    # when it is parsed / then the error names the key and asks for the target's units
    with pytest.raises(ConfigError, match=r"monitoring.retraining.performance_tolerance must be set for task "):
        parse_config(raw, "delay.yaml")
    # while a binary config keeps the default, and a regression config's own value is kept
    assert parse_config(config_dict()).monitoring.retraining.performance_tolerance == 0.03
    assert parse_config(regression_dict()).monitoring.retraining.performance_tolerance == 2.0


def test_task_costs_parse_and_a_cost_gate_accepts_them() -> None:
    raw = regression_dict()
    raw["evaluation"]["regression_cost"] = {"under": 3, "over": 1, "unit": "minutes", "shift_prediction": True}
    raw["gate"]["max_expected_cost"] = 40
    config = parse_config(raw)
    assert config.evaluation.regression_cost is not None and config.evaluation.regression_cost.under == 3
    multiclass = config_dict()
    multiclass["task"] = "multiclass"
    multiclass["evaluation"]["class_cost"] = {"matrix": {"late": {"on_time": 4}}}
    multiclass["gate"]["max_class_recall_drop"] = 0.05
    assert parse_config(multiclass).evaluation.class_cost.matrix == {"late": {"on_time": 4.0}}


def test_a_class_cost_matrix_keyed_by_whole_number_classes_names_them_as_text() -> None:
    # given wine-quality classes written as the data writes them: YAML reads the keys as numbers
    multiclass = config_dict()
    multiclass["task"] = "multiclass"
    multiclass["evaluation"]["class_cost"] = yaml.safe_load("matrix: {7: {5: 20, 6: 20}, 5: {7: 1.0}}")
    # then they parse as the class names the probabilities carry ('7', '5', '6'), not as an error per key
    matrix = parse_config(multiclass).evaluation.class_cost.matrix  # type: ignore[union-attr]
    assert matrix == {"7": {"5": 20.0, "6": 20.0}, "5": {"7": 1.0}}
    assert 7 not in matrix
