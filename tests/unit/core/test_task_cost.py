"""Business cost for regression (under/over) and multiclass (a cost matrix)."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from perennial.config import ClassCost, RegressionCost
from perennial.core.task_cost import (
    class_cost_report,
    cost_matrix,
    least_cost_decision,
    regression_cost,
    regression_cost_report,
    task_cost_check,
)


def test_under_prediction_costs_under_and_over_prediction_costs_over() -> None:
    # given a truth of 10 and predictions 2 below and 2 above, under costing 3 a unit, over 1
    cost = RegressionCost(under=3, over=1)
    # when / then short by 2 costs 6, over by 2 costs 2, exact costs 0
    assert regression_cost([10, 10, 10], [8, 12, 10], cost) == pytest.approx((6 + 2 + 0) / 3)


def test_the_shift_chosen_on_validation_moves_predictions_to_the_cost_quantile_and_lowers_holdout_cost() -> None:
    # given an unbiased regressor with symmetric noise and under-prediction 9x as costly as over
    rng = np.random.default_rng(0)
    truth = rng.normal(100, 10, 4000)
    predicted = truth + rng.normal(0, 5, 4000)
    cost = RegressionCost(under=9, over=1, shift_prediction=True)
    # when the shift is chosen on the first half and reported on the second
    report = regression_cost_report(truth[:2000], predicted[:2000], truth[2000:], predicted[2000:], cost)
    # then predictions move up by about the 90% quantile of N(0, 5) (6.4) and cost less than unshifted
    assert report.quantile == pytest.approx(0.9)
    assert report.shift == pytest.approx(6.4, abs=0.6)
    assert report.holdout_cost < 0.7 * report.holdout_cost_unshifted
    unshifted = regression_cost_report(
        truth[:2000], predicted[:2000], truth[2000:], predicted[2000:], RegressionCost(under=9, over=1)
    )
    assert unshifted.shift == 0.0 and unshifted.holdout_cost == unshifted.holdout_cost_unshifted


def test_least_cost_decision_overrides_argmax_when_a_miss_is_expensive() -> None:
    # given "late" rows missed as "on_time" costing 10, anything else 1
    classes = ["late", "on_time"]
    cost = ClassCost(matrix={"late": {"on_time": 10}, "on_time": {"late": 1}})
    matrix = cost_matrix(cost, classes)
    proba = np.array([[0.2, 0.8], [0.05, 0.95]])
    # when deciding / then a 20% chance of late is worth flagging (expected 2 > 0.8), 5% is not (0.5 < 0.95)
    assert least_cost_decision(proba, matrix).tolist() == [0, 1]
    report = class_cost_report(["late", "on_time"], proba, classes, cost)
    assert report.changed_rows == 1
    assert report.holdout_cost == pytest.approx(0.0) and report.holdout_cost_argmax == pytest.approx(5.0)


def test_a_cost_matrix_naming_an_unknown_class_or_all_zero_is_refused() -> None:
    with pytest.raises(ValueError, match=r"names classes \['lat'\] the model does not know"):
        cost_matrix(ClassCost(matrix={"lat": {"on_time": 1}}), ["late", "on_time"])
    with pytest.raises(ValidationError, match="at least one non-zero cost"):
        ClassCost(matrix={"late": {"on_time": 0}})


def test_the_cost_check_passes_at_or_below_the_ceiling_only() -> None:
    assert task_cost_check(2.0, 2.0, "USD", "served").passed
    failed = task_cost_check(2.5, 2.0, "USD", "served")
    assert not failed.passed and "2.5 > 2 USD/row" in failed.detail
