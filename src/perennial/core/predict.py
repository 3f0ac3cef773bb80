"""What a model's prediction is, per task: one home for "probability, class probabilities or value".

Binary: the positive class's probability (1-D). Multiclass: a rows x classes probability matrix,
columns in ``model.classes_`` order. Regression: the predicted value (1-D). Every stage (evaluation,
insights, scoring, the service, monitoring) asks here instead of calling ``predict_proba`` itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from perennial.config import Config
from perennial.core.data import labels_of
from perennial.core.names import Tag
from perennial.core.target import class_names
from perennial.core.task import Task


def predict_method(task: Task) -> str:
    """The model method whose output is the task's prediction (MLflow's pyfunc predict function too)."""
    return "predict" if task == "regression" else "predict_proba"


def predict(model: Any, X: pd.DataFrame, task: Task) -> np.ndarray:
    """The task's prediction for each row of ``X``."""
    if len(X) == 0:  # an empty partition (a window's filter empties many): no rows, the right shape
        return np.empty((0, len(classes_of(model, task))) if task == "multiclass" else 0, dtype=np.float64)
    if task == "regression":
        return np.asarray(model.predict(X), dtype=np.float64).ravel()
    proba = np.asarray(model.predict_proba(X), dtype=np.float64)
    return proba[:, 1] if task == "binary" else proba


def classes_of(model: Any, task: Task) -> tuple[str, ...]:
    """A multiclass model's classes as text, in its probability columns' order; () otherwise."""
    if task != "multiclass":
        return ()
    return tuple(str(c) for c in getattr(model, "classes_", ()))


def class_union(*class_sets: tuple[str, ...]) -> tuple[str, ...]:
    """Every class of several models, the first's order kept and each later one's new classes after."""
    return tuple(dict.fromkeys(c for classes in class_sets for c in classes))


def aligned_probabilities(scores: np.ndarray, classes: tuple[str, ...], to: tuple[str, ...]) -> np.ndarray:
    """Multiclass probabilities with their columns in ``to``'s classes.

    A class the model never learnt gets probability 0: it can only miss it. Two versions disagree on
    their classes when a retrain learnt a new one; their rows are compared and stored by class name,
    never by column position (the third column is not the same class in both).
    """
    if classes == to:
        return scores
    where = {c: i for i, c in enumerate(classes)}
    out = np.zeros((len(scores), len(to)), dtype=np.float64)
    for j, c in enumerate(to):
        if c in where:
            out[:, j] = scores[:, where[c]]
    return out


def targets_of(frame: pd.DataFrame, config: Config) -> np.ndarray:
    """The target as the task fits on it: 0/1 labels, class names as text, or floats."""
    if config.task == "binary":
        return labels_of(frame, config)
    values = frame[config.data.target.column]
    if config.task == "regression":
        return pd.to_numeric(values, errors="raise").astype("float64").to_numpy()
    return class_names(values).to_numpy(dtype=object)


def scalar_prediction(predicted: np.ndarray, task: Task) -> np.ndarray:
    """One number per row for the prediction log and drift: the probability (binary), the value
    (regression), or the predicted class's probability, the model's confidence (multiclass)."""
    return predicted.max(axis=1) if task == "multiclass" else predicted


def predicted_labels(
    predicted: np.ndarray, task: Task, classes: tuple[str, ...], threshold: float | np.ndarray
) -> np.ndarray:
    """The decision per row: 0/1 at the threshold (binary; one, or one per row), the most probable
    class (multiclass), or the value itself (regression)."""
    if task == "binary":
        return (predicted >= threshold).astype("int64")
    if task == "multiclass":
        labels: np.ndarray = np.asarray(classes, dtype=object)[predicted.argmax(axis=1)]
        return labels
    return predicted


SHIFT_TAG = Tag.PREDICTION_SHIFT  # on a model version: what the served value adds (regression cost)


class ShiftedRegressor:
    """A regressor whose served value is moved by a constant: the quantile its business cost asks for."""

    def __init__(self, model: Any, shift: float) -> None:
        self.model, self.shift = model, shift

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model.predict(X), dtype=np.float64) + self.shift

    def __getattr__(self, name: str) -> Any:  # feature_names_in_, named_steps...: the wrapped pipeline's
        if name in ("model", "shift"):
            raise AttributeError(name)
        return getattr(self.model, name)


def decision_threshold(tags: dict[str, str], configured: float) -> float:
    """The probability a version decides 'positive' at: the expected-cost minimum its training chose
    (evaluation.cost, tagged on the version), else the configured threshold. Chosen and not applied,
    the cost block changed reports only: its 0.075 served and stored labels at 0.5."""
    chosen = tags.get(Tag.DECISION_THRESHOLD)
    return float(chosen) if chosen else configured


def served_model(model: Any, tags: dict[str, str]) -> Any:
    """The model as served: shifted when its version carries a non-zero prediction shift."""
    shift = float(tags.get(SHIFT_TAG) or 0.0)
    return ShiftedRegressor(model, shift) if shift else model
