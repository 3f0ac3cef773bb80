"""The label-free estimate's interval: where the realised metric lands when the probabilities hold."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from perennial.core.label_free import (
    LossEstimate,
    binary_estimates,
    describe_estimate,
    estimate_multiclass,
    estimate_roc_auc,
)
from perennial.core.label_free_interval import MAX_ROWS, binary_interval, regression_intervals

WINDOWS = 300  # windows per coverage check: 95% coverage counts 285 of them, give or take 4 (binomial sd)


def covered(hits: list[bool]) -> float:
    return float(np.mean(hits))


def test_the_binary_interval_holds_the_realised_auc_of_calibrated_windows_95_times_in_100() -> None:
    # given windows of 400 scores whose labels are drawn from the scores themselves (calibrated)
    rng = np.random.default_rng(0)
    hits, halved = [], []
    for _ in range(WINDOWS):
        p = rng.beta(2, 3, 400)
        labels = rng.random(400) < p
        # when the window is estimated before its labels
        found = binary_estimates(p, rng.beta(2, 3, 1000))
        assert found is not None
        realised, estimate = roc_auc_score(labels, p), found["estimated_roc_auc"]
        low, high = found["estimated_roc_auc_low"], found["estimated_roc_auc_high"]
        hits.append(low <= realised <= high)
        halved.append(estimate - (estimate - low) / 2 <= realised <= estimate + (high - estimate) / 2)
    # then its realised AUC falls inside the interval about 95 times in 100
    assert 0.91 <= covered(hits) <= 0.985
    # and an interval half as wide holds it far less often: the check tells a wrong width
    assert covered(halved) < 0.8


def test_the_multiclass_intervals_hold_accuracy_and_macro_f1_95_times_in_100() -> None:
    rng = np.random.default_rng(1)
    hits: dict[str, list[bool]] = {"accuracy": [], "macro_f1": []}
    for _ in range(WINDOWS):
        # given calibrated class probabilities and labels drawn from them
        logits = rng.normal(size=(400, 3)) * 1.5
        p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        labels = (rng.random((400, 1)) > np.cumsum(p, axis=1)).sum(axis=1)
        served = p.argmax(axis=1)
        # when estimated
        found = estimate_multiclass(p, ["a", "b", "c"]).metrics()
        # then the realised accuracy and macro-F1 of the served class fall in their intervals
        realised = {
            "accuracy": float((labels == served).mean()),
            "macro_f1": float(f1_score(labels, served, average="macro", labels=[0, 1, 2], zero_division=0)),
        }
        for name, value in realised.items():
            hits[name].append(found[f"estimated_{name}_low"] <= value <= found[f"estimated_{name}_high"])
    assert 0.91 <= covered(hits["accuracy"]) <= 0.985 and 0.91 <= covered(hits["macro_f1"]) <= 0.985


def test_the_regression_intervals_hold_the_realised_mae_and_rmse_95_times_in_100() -> None:
    # given windows of 300 normal errors with sd 2, whose expected MAE and RMSE are known
    rng = np.random.default_rng(2)
    expected = LossEstimate(300, mae=2.0 * np.sqrt(2 / np.pi), rmse=2.0).metrics()
    hits: dict[str, list[bool]] = {"mae": [], "rmse": []}
    for _ in range(WINDOWS):
        error = rng.normal(0, 2.0, 300)
        realised = {"mae": np.abs(error).mean(), "rmse": np.sqrt((error**2).mean())}
        for name, value in realised.items():
            hits[name].append(expected[f"estimated_{name}_low"] <= value <= expected[f"estimated_{name}_high"])
    # then each realised figure is inside its interval about 95 times in 100
    assert 0.91 <= covered(hits["mae"]) <= 0.985 and 0.91 <= covered(hits["rmse"]) <= 0.985
    # and fewer than two rows give no interval
    assert "estimated_mae_low" not in LossEstimate(1, 1.0, 1.0).metrics() and regression_intervals(1, 1, 1) is None


def test_a_window_larger_than_the_draws_read_is_scaled_to_its_own_rows() -> None:
    # given one large window of calibrated scores, five times the rows the draws read
    rng = np.random.default_rng(3)
    p = rng.beta(2, 3, 5 * MAX_ROWS)
    small, large = p[:MAX_ROWS], p
    # when both are given intervals
    narrow = binary_interval(large, estimate_roc_auc(large))
    wide = binary_interval(small, estimate_roc_auc(small))
    assert narrow is not None and wide is not None
    # then the large window's is about sqrt(5) narrower (a mean's spread), not the width of the rows read
    ratio = (wide[1] - wide[0]) / (narrow[1] - narrow[0])
    assert ratio == pytest.approx(np.sqrt(5), rel=0.15)
    # and scores that are nearly all one class give no interval (draws seldom hold both)
    assert binary_interval(np.full(50, 1e-4), 0.5) is None


def test_the_verdict_reads_the_primary_metric_expected_its_interval_and_the_drop() -> None:
    estimated = {"estimated_mae": 9.46, "estimated_mae_low": 8.9, "estimated_mae_high": 10.02, "estimated_drop": 0.27}
    # when the primary metric has an estimate with its interval, then all three are said
    assert describe_estimate(estimated, "mae") == (
        "mae 9.4600 expected (95% of labellings within [8.9000, 10.0200]), drop +0.2700"
    )
    # when the primary metric is another one, then only what is known of it
    assert describe_estimate(estimated, "rmse") == "drop +0.2700"
    assert describe_estimate(None, "mae") == "none for this task, metric or champion"
