"""What kind of target a model predicts, and the facts that follow from it (one home for each).

``binary``: two labels, the model gives the positive label's probability. ``multiclass``: three or
more labels, one probability per class. ``regression``: a number. The metric names, their
direction, each task's default metrics, baselines and sklearn scorers live here; the values are
computed in ``metrics`` (binary) and ``task_metrics`` (multiclass, regression).
"""

from __future__ import annotations

from typing import Literal

Task = Literal["binary", "multiclass", "regression"]
TASKS: tuple[Task, ...] = ("binary", "multiclass", "regression")

METRICS_BY_TASK: dict[Task, tuple[str, ...]] = {
    "binary": ("roc_auc", "average_precision", "log_loss", "brier", "f1", "accuracy"),
    "multiclass": ("macro_f1", "balanced_accuracy", "log_loss", "accuracy", "top_k_accuracy"),
    "regression": ("mae", "rmse", "r2", "mape", "pinball"),
}
LOWER_IS_BETTER = frozenset({"log_loss", "brier", "mae", "rmse", "mape", "pinball"})
DEFAULT_METRICS: dict[Task, tuple[str, tuple[str, ...]]] = {
    "binary": ("roc_auc", ("average_precision", "log_loss", "brier")),
    "multiclass": ("macro_f1", ("balanced_accuracy", "log_loss", "accuracy")),
    "regression": ("mae", ("rmse", "r2")),
}
BASELINES: dict[Task, tuple[str, ...]] = {
    "binary": ("prior", "stratified"),
    "multiclass": ("prior", "stratified"),
    # last_value and seasonal_naive read data.time_column
    "regression": ("mean", "median", "last_value", "seasonal_naive"),
}
DEFAULT_BASELINE: dict[Task, str] = {"binary": "prior", "multiclass": "prior", "regression": "mean"}
FAMILIES: dict[Task, tuple[str, ...]] = {
    "binary": ("hist_gradient_boosting", "logistic_regression", "random_forest"),
    "multiclass": ("hist_gradient_boosting", "logistic_regression", "random_forest"),
    "regression": ("hist_gradient_boosting", "ridge", "linear_regression", "random_forest"),
}
ALL_METRICS: tuple[str, ...] = tuple(dict.fromkeys(n for names in METRICS_BY_TASK.values() for n in names))


def higher_is_better(name: str) -> bool:
    """True for scores (AUC, F1, R²...), False for losses and errors (log loss, MAE, RMSE...)."""
    if name not in ALL_METRICS:
        raise ValueError(f"unknown metric '{name}'; known: {', '.join(ALL_METRICS)}")
    return name not in LOWER_IS_BETTER


def check_metric(task: Task, name: str) -> str:
    """``name`` if it is a metric of ``task``; else an error listing the task's metrics."""
    if name not in METRICS_BY_TASK[task]:
        raise ValueError(
            f"metric '{name}' does not apply to a {task} task; use one of {', '.join(METRICS_BY_TASK[task])}"
        )
    return name


def sklearn_scorer(task: Task, name: str, top_k: int = 2, quantile: float = 0.5) -> object:
    """The sklearn scorer (a name or a scorer object) that ranks candidates by ``name`` in CV.

    Losses are negated, as sklearn maximises.
    """
    from sklearn.metrics import make_scorer, mean_pinball_loss

    check_metric(task, name)
    if task == "binary":
        return {"log_loss": "neg_log_loss", "brier": "neg_brier_score"}.get(name, name)
    if name == "top_k_accuracy":
        from sklearn.metrics import top_k_accuracy_score

        return make_scorer(top_k_accuracy_score, response_method="predict_proba", k=top_k)
    if name == "pinball":
        return make_scorer(mean_pinball_loss, alpha=quantile, greater_is_better=False)
    return {
        "macro_f1": "f1_macro",
        "balanced_accuracy": "balanced_accuracy",
        "log_loss": "neg_log_loss",
        "accuracy": "accuracy",
        "mae": "neg_mean_absolute_error",
        "rmse": "neg_root_mean_squared_error",
        "r2": "r2",
        "mape": "neg_mean_absolute_percentage_error",
    }[name]
