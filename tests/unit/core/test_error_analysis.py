"""Error analysis: per class, per slice worst first, and the highest-loss rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perennial.config import Evaluation
from perennial.core.error_analysis import analyze_errors, row_losses

EV = Evaluation(slices=("carrier",), min_slice_rows=20, bootstrap={"resamples": 50}, top_loss_rows=5)


def _holdout(rows: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Carrier AA is predicted well, carrier B6 at random."""
    rng = np.random.default_rng(seed)
    carrier = np.where(np.arange(rows) % 2 == 0, "AA", "B6")
    y = rng.integers(0, 2, rows)
    good = np.clip(y * 0.6 + rng.uniform(0, 0.4, rows), 0, 1)
    proba = np.where(carrier == "AA", good, rng.uniform(size=rows))
    frame = pd.DataFrame(
        {"flight_id": [f"f{i}" for i in range(rows)], "carrier": carrier, "temp": rng.normal(size=rows)}
    )
    return frame, y, proba


def test_worst_slice_comes_first_with_interval_precision_and_recall() -> None:
    # given a model good on AA and random on B6
    frame, y, proba = _holdout()
    # when analysed
    report = analyze_errors("candidate:hgb", y, proba, frame, EV)
    # then B6 is the worst slice, with an interval around its AUC, and AA is near perfect
    assert [s.value for s in report.slices] == ["B6", "AA"]
    worst = report.worst(1)[0]
    assert worst.metric.low <= worst.metric.value <= worst.metric.high and worst.metric.value < 0.65
    assert report.slices[1].metric.value > 0.95 and report.slices[1].recall == pytest.approx(1.0)
    assert worst.support == 200 and 0 <= worst.precision <= 1


def test_per_class_support_precision_recall() -> None:
    # given three rows: one true positive, one false positive, one false negative
    y, proba = np.array([1, 0, 1]), np.array([0.9, 0.8, 0.1])
    frame = pd.DataFrame({"carrier": ["AA", "AA", "AA"]})
    # when analysed
    report = analyze_errors("m", y, proba, frame, EV.model_copy(update={"min_slice_rows": 1}))
    negative, positive = report.classes
    # then precision and recall are per class
    assert (positive.support, positive.predicted, positive.precision, positive.recall) == (2, 2, 0.5, 0.5)
    assert (negative.support, negative.predicted, negative.precision, negative.recall) == (1, 1, 0.0, 0.0)


def test_top_loss_rows_are_the_most_confidently_wrong() -> None:
    # given a holdout / when analysed
    frame, y, proba = _holdout()
    report = analyze_errors("m", y, proba, frame, EV)
    # then the kept rows are the k highest losses, with their ids, label, probability and loss
    losses = row_losses(y, proba)
    assert len(report.top_losses) == 5
    assert report.top_losses["loss"].tolist() == pytest.approx(sorted(losses, reverse=True)[:5])
    first = report.top_losses.iloc[0]
    assert frame.loc[frame["flight_id"] == first["flight_id"], "carrier"].item() == first["carrier"]
    assert {"label", "probability", "predicted", "loss"} <= set(report.top_losses.columns)
    assert "highest-loss" in report.to_markdown("error_analysis/top_losses.csv")


def test_small_slices_are_skipped_and_a_row_mismatch_is_an_error() -> None:
    # given slices smaller than min_slice_rows
    frame, y, proba = _holdout(rows=30)
    # when analysed / then no slice is reported
    assert analyze_errors("m", y, proba, frame, EV).slices == ()
    # and rows that do not match the predictions are refused
    with pytest.raises(ValueError, match="29 rows but there are 30"):
        analyze_errors("m", y, proba, frame.iloc[:29], EV)


def test_a_model_that_decides_no_positive_at_its_threshold_says_so() -> None:
    # given 2% positives whose probabilities stay below 0.5 however well they are ranked (as a rare class's do)
    rng = np.random.default_rng(3)
    y = (np.arange(500) % 50 == 0).astype(int)
    proba = np.where(y == 1, 0.4, 0.05) + rng.uniform(0, 0.02, 500)
    frame = pd.DataFrame({"carrier": ["AA"] * 500})
    # when analysed at the default threshold, and at one the probabilities reach
    at_default = analyze_errors("candidate:hgb", y, proba, frame, EV)
    lowered = analyze_errors("candidate:hgb", y, proba, frame, EV, threshold=0.3)
    # then the first names the threshold, the model and the positives it never decides; the second says nothing
    assert at_default.no_positive_decided() == (
        "at threshold 0.5 candidate:hgb decides no holdout row positive (10 of 500 are): every label it serves "
        "is the negative one; fill in evaluation.cost to choose the threshold by expected cost, or lower "
        "evaluation.threshold"
    )
    assert lowered.no_positive_decided() is None
