"""Error analysis per task: residuals and worst rows; confusions per class."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perennial.config import Evaluation
from perennial.core.task_errors import (
    analyze_multiclass_errors,
    analyze_regression_errors,
    multiclass_confusion_figure,
    residual_figure,
)

EV = Evaluation(primary_metric="mae", secondary_metrics=(), slices=("shop",), min_slice_rows=2, top_loss_rows=2)


def test_residuals_per_slice_worst_first_and_the_worst_rows() -> None:
    # given a model exact in shop a and 10 too low in shop b, except one row 50 too high
    rows = pd.DataFrame({"id": [1, 2, 3, 4, 5], "shop": ["a", "a", "b", "b", "b"]})
    y = np.array([1.0, 2.0, 30.0, 40.0, 50.0])
    predicted = np.array([1.0, 2.0, 20.0, 30.0, 100.0])
    # when analysed
    errors = analyze_regression_errors("candidate:hgb", y, predicted, rows, EV)
    # then shop b comes first with its bias and MAE, and the worst rows lead with the 50-unit miss
    assert [(s.value, s.rows, s.bias, s.mae) for s in errors.slices] == [
        ("b", 3, pytest.approx(-10.0), pytest.approx(70 / 3)),
        ("a", 2, 0.0, 0.0),
    ]
    assert errors.worst_rows["id"].tolist() == [5, 3]
    assert errors.worst_rows["residual"].tolist() == [-50.0, 10.0]
    assert "| shop=b | 3 | -10 |" in errors.to_markdown()
    assert errors.to_dict()["worst_rows"] == 2


def test_confusions_per_class_name_what_each_class_is_mistaken_for() -> None:
    # given three classes where every wrong "late" row was predicted "on_time"
    classes = ["cancelled", "late", "on_time"]
    y = ["late", "late", "late", "on_time", "on_time", "cancelled"]
    proba = np.array(
        [[0.1, 0.8, 0.1], [0.1, 0.3, 0.6], [0.0, 0.1, 0.9], [0.0, 0.2, 0.8], [0.1, 0.1, 0.8], [0.6, 0.2, 0.2]]
    )
    rows = pd.DataFrame({"id": range(6)})
    # when analysed
    errors = analyze_multiclass_errors("candidate:hgb", y, proba, classes, rows, EV)
    # then the matrix counts each (true, predicted) pair, late's recall is 1/3 and it is mistaken for on_time
    assert errors.confusion == ((1, 0, 0), (0, 1, 2), (0, 0, 2))
    late = errors.per_class[1]
    assert (late.support, late.predicted, late.recall, late.precision, late.mistaken_for) == (
        3,
        1,
        1 / 3,
        1.0,
        "on_time",
    )
    assert errors.per_class[0].mistaken_for is None
    # and the worst rows are the late flight given 0.1, then the one given 0.3
    assert errors.worst_rows["id"].tolist() == [2, 1]
    assert errors.worst_rows["predicted"].tolist() == ["on_time", "on_time"]


def test_figures_draw_for_both_tasks() -> None:
    fig = residual_figure("m", [1.0, 2.0, 3.0], [1.5, 2.0, 2.0])
    assert len(fig.axes) == 2
    errors = analyze_multiclass_errors(
        "m", ["a", "b"], np.array([[0.9, 0.1], [0.4, 0.6]]), ["a", "b"], pd.DataFrame({"id": [1, 2]}), EV
    )
    assert len(multiclass_confusion_figure(errors).axes) == 1
