"""Business cost: the threshold is chosen on validation rows to minimise expected cost."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perennial.config import CostMatrix
from perennial.core.cost import choose_threshold, cost_check, cost_report, expected_cost, validation_split


def test_expected_cost_counts_fp_fn_and_tp_value() -> None:
    # given 4 rows and a matrix: FP 1, FN 10, TP worth 2
    y, p = np.array([1, 1, 0, 0]), np.array([0.9, 0.2, 0.7, 0.1])
    cost = CostMatrix(false_positive=1, false_negative=10, true_positive_value=2)
    # when flagging at 0.5: one TP, one FN, one FP
    # then the cost per row is (1*1 + 1*10 - 1*2) / 4
    assert expected_cost(y, p, 0.5, cost) == pytest.approx(9 / 4)
    assert expected_cost(y, p, 1.1, cost) == pytest.approx(20 / 4)  # flag nothing: two misses
    assert expected_cost(y, p, 0.0, cost) == pytest.approx((2 * 1 - 2 * 2) / 4)  # flag all


def test_expensive_misses_lower_the_threshold_cheap_ones_raise_it() -> None:
    # given calibrated scores
    rng = np.random.default_rng(0)
    p = rng.uniform(size=5000)
    y = (rng.uniform(size=5000) < p).astype(int)
    # when a miss costs 9x a false alarm / then flag from about 0.1 (cost-optimal 1/(1+9))
    low, _ = choose_threshold(y, p, CostMatrix(false_positive=1, false_negative=9))
    high, _ = choose_threshold(y, p, CostMatrix(false_positive=9, false_negative=1))
    assert 0.05 < low < 0.2 and 0.8 < high < 0.95


def test_the_chosen_threshold_is_no_worse_than_any_other_on_validation() -> None:
    # given validation rows and a matrix
    rng = np.random.default_rng(1)
    p = rng.uniform(size=300)
    y = (rng.uniform(size=300) < p).astype(int)
    cost = CostMatrix(false_positive=3, false_negative=5)
    # when the threshold is chosen
    threshold, best = choose_threshold(y, p, cost)
    # then no threshold on a grid beats it, and its cost is what expected_cost says
    assert best == pytest.approx(expected_cost(y, p, threshold, cost))
    assert all(expected_cost(y, p, t, cost) >= best - 1e-12 for t in np.linspace(0, 1.01, 203))


def test_report_uses_validation_for_the_threshold_and_the_holdout_for_the_figures() -> None:
    # given validation rows where everything positive scores >= 0.6, and a different holdout
    y_val, p_val = np.array([0, 0, 1, 1]), np.array([0.1, 0.3, 0.6, 0.9])
    y_hold, p_hold = np.array([1, 0, 1]), np.array([0.5, 0.4, 0.95])
    cost = CostMatrix(false_positive=1, false_negative=1, unit="USD")
    # when reported
    report = cost_report(y_val, p_val, y_hold, p_hold, cost, default_threshold=0.5)
    # then the threshold separates the validation classes; the holdout cost is at that threshold
    assert 0.3 < report.threshold <= 0.6
    assert report.holdout_cost == pytest.approx(expected_cost(y_hold, p_hold, report.threshold, cost))
    assert report.flag_none_cost == pytest.approx(2 / 3) and report.flag_all_cost == pytest.approx(1 / 3)
    assert "USD" in report.to_markdown("roc_auc", 0.8) and report.metrics()["expected_cost"] == report.holdout_cost
    # and the gate check passes or fails on the holdout figure
    assert cost_check(report, 1.0).passed and not cost_check(report, report.holdout_cost - 0.01).passed


def test_validation_split_keeps_the_latest_rows() -> None:
    # given rows out of time order
    frame = pd.DataFrame({"t": [5, 1, 4, 2, 3, 6, 8, 7, 9, 10]})
    # when split with a 0.2 share / then validation is the two latest
    earlier, later = validation_split(frame, "t", 0.2)
    assert later["t"].tolist() == [9, 10] and earlier["t"].max() < later["t"].min()
    with pytest.raises(ValueError, match="too few"):
        validation_split(frame.iloc[:1], "t", 0.5)
