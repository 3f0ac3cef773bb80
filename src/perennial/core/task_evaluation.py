"""Score a regressor's or a multiclass model's holdout predictions into the gate's ``Scores``.

The same frozen ``Scores`` as the binary path (``evaluation.score_predictions``), so the gate's
floor, lift, champion, slice, latency and size checks judge every task alike; what differs is the
metrics (``task_metrics``), the per-class scores of a multiclass model, and the per-class recall
checks below (one ``Check`` per class, kept apart so the gate's evidence rules can apply to each).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from perennial.config import Bootstrap, Evaluation, Gate
from perennial.core import task_metrics as tm
from perennial.core.evaluation import MISSING, ClassScore, MetricEstimate, Scores, SliceScore
from perennial.core.gates import Check
from perennial.core.task import Task


def as_rows(task: Task, y: object, predicted: object, classes: Sequence[object], ev: Evaluation) -> tm.Rows:
    """The task's per-row terms for ``predicted`` (values, or a rows x classes probability matrix)."""
    if task == "regression":
        return tm.RegressionRows(y, predicted, ev.quantile)
    if task == "multiclass":
        return tm.MulticlassRows(y, predicted, classes, ev.top_k)
    raise ValueError("binary predictions are scored by evaluation.score_predictions")


def _subset(task: Task, rows: tm.Rows, mask: np.ndarray, classes: Sequence[object], ev: Evaluation) -> tm.Rows:
    if isinstance(rows, tm.RegressionRows):
        return tm.RegressionRows(rows.y[mask], rows.pred[mask], ev.quantile)
    return tm.MulticlassRows(np.asarray(classes, dtype=object)[rows.index[mask]], rows.proba[mask], classes, ev.top_k)


def score_task_predictions(
    label: str,
    task: Task,
    y: object,
    predicted: object,
    classes: Sequence[object],
    slices: pd.DataFrame | None,
    ev: Evaluation,
) -> Scores:
    """Everything the gate and the report need about one model's holdout predictions."""
    rows = as_rows(task, y, predicted, classes, ev)
    if slices is not None and len(slices) != len(rows):
        raise ValueError(f"slices has {len(slices)} rows but there are {len(rows)} predictions")
    names = list(dict.fromkeys((ev.primary_metric, *ev.secondary_metrics)))
    found = tm.estimate(rows, names, ev.bootstrap)
    est = [MetricEstimate(n, *found[n]) for n in names]
    return Scores(
        label=label,
        rows=len(rows),
        primary=est[0],
        secondary=tuple(est[1:]),
        slices=_slices(task, rows, slices, classes, ev) if slices is not None else (),
        calibration=(),
        confusion=((0, 0), (0, 0)),
        task=task,
        classes=class_scores(rows, classes, ev.bootstrap) if isinstance(rows, tm.MulticlassRows) else (),
    )


def class_scores(rows: tm.MulticlassRows, classes: Sequence[object], bootstrap: Bootstrap) -> tuple[ClassScore, ...]:
    found = tm.class_estimates(rows, classes, bootstrap)
    support = np.bincount(rows.index, minlength=len(classes))
    return tuple(
        ClassScore(
            str(c),
            int(support[i]),
            MetricEstimate("recall", *found["recall"][str(c)]),
            MetricEstimate("precision", *found["precision"][str(c)]),
        )
        for i, c in enumerate(classes)
    )


def _slices(
    task: Task, rows: tm.Rows, slices: pd.DataFrame, classes: Sequence[object], ev: Evaluation
) -> tuple[SliceScore, ...]:
    """The primary metric per value of each slice column (rows matched by position); ``positives`` is 0."""
    out = []
    for column in slices.columns:
        values = np.array(
            [MISSING if pd.isna(v) else str(v) for v in slices[column].to_numpy(dtype=object)], dtype=object
        )
        for value in sorted(set(values)):
            mask = values == value
            if int(mask.sum()) < ev.min_slice_rows:
                continue
            found = tm.estimate(_subset(task, rows, mask, classes, ev), [ev.primary_metric], ev.bootstrap)
            estimate = MetricEstimate(ev.primary_metric, *found[ev.primary_metric])
            metric = estimate if np.isfinite(estimate.value) else None  # R² of a constant slice is undefined
            out.append(SliceScore(str(column), value, int(mask.sum()), 0, metric))
    return tuple(out)


def task_paired_difference(
    task: Task, y: object, predicted_a: object, predicted_b: object, classes: Sequence[object], ev: Evaluation
) -> MetricEstimate:
    """Model a minus model b on the primary metric, same rows, paired bootstrap; named ``<metric>_diff``."""
    a, b = as_rows(task, y, predicted_a, classes, ev), as_rows(task, y, predicted_b, classes, ev)
    return MetricEstimate(f"{ev.primary_metric}_diff", *tm.estimate_difference(a, b, ev.primary_metric, ev.bootstrap))


def class_recall_differences(
    y: object, proba_candidate: object, proba_champion: object, classes: Sequence[object], ev: Evaluation
) -> dict[str, MetricEstimate]:
    """Each class's recall, candidate minus champion on the same rows (paired bootstrap)."""
    a, b = tm.MulticlassRows(y, proba_candidate, classes), tm.MulticlassRows(y, proba_champion, classes)
    return {
        c: MetricEstimate("recall_diff", *e)
        for c, e in tm.class_recall_differences(a, b, classes, ev.bootstrap).items()
    }


def class_recall_checks(diffs: Mapping[str, MetricEstimate] | None, policy: Gate) -> list[Check]:
    """One check per class: its recall may trail the champion's by at most its tolerance.

    Judged as the binary champion check is: failed only when confidently worse (the interval's
    upper bound below -tolerance). A class without a tolerance (no default, no override) is not checked.
    """
    if policy.max_class_recall_drop is None and not policy.class_recall_drop:
        return []
    if diffs is None:
        return [Check("class recall vs champion", None, None, True, "no champion yet")]
    unknown = sorted(set(policy.class_recall_drop) - set(diffs))
    checks = [
        Check(
            f"class {c} recall vs champion",
            None,
            None,
            False,
            f"gate.class_recall_drop names a class the model does not know; classes: {sorted(diffs)}",
        )
        for c in unknown
    ]
    for name, diff in diffs.items():
        tolerance = policy.class_recall_drop.get(name, policy.max_class_recall_drop)
        if tolerance is None:
            continue
        if not np.isfinite(diff.high):  # a class absent from the holdout: nothing to judge
            checks.append(
                Check(f"class {name} recall vs champion", None, -tolerance, True, "no holdout rows of this class")
            )
            continue
        passed = diff.high >= -tolerance
        detail = f"recall diff {diff.value:+.4f} [{diff.low:+.4f}, {diff.high:+.4f}]; may trail by <={tolerance:g}"
        checks.append(Check(f"class {name} recall vs champion", diff.high, -tolerance, passed, detail))
    return checks
