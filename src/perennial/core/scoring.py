"""Batch scoring: one model over a window of rows, into prediction-log rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from perennial.config import Config
from perennial.core.data import model_inputs, row_keys
from perennial.core.names import PREDICTED_CLASS, PROBA_PREFIX
from perennial.core.predict import classes_of, predict, predicted_labels, scalar_prediction


def score_frame(
    model: Any,
    frame: pd.DataFrame,
    config: Config,
    model_name: str,
    version: str,
    scored_at: pd.Timestamp | None = None,
    threshold: float | None = None,
) -> pd.DataFrame:
    """Prediction rows: id, event time, model identity, prediction, label, and the raw features.

    ``scored_at`` (default: now) is one time for the whole batch, also when it is scored a partition at a time.
    ``threshold``: the version's decision threshold (``predict.decision_threshold``; default: the config's).
    An empty frame gives no rows with the columns and types of a scored one (a Dask partition's meta).

    Multiclass rows also carry ``predicted_class`` (text) and ``proba__<class>`` for each class.

    ``id`` is the row key (core/data.row_keys): the id column, else a key from the row's content.

    The features ride along so monitoring can compare what was scored with what was trained on.
    """
    X, task = model_inputs(model, frame, config), config.task
    predicted, classes = predict(model, X, task), classes_of(model, task)
    decide_at = config.evaluation.threshold if threshold is None else threshold
    labels = predicted_labels(predicted, task, classes, decide_at)
    features = frame.loc[:, [c for c in config.data.features.columns if c != config.data.time_column]]
    scored_at = scored_at if scored_at is not None else pd.Timestamp(dt.datetime.now(dt.UTC))
    # without a time column a row's event is its scoring: the batch is the monitoring window
    time_column = config.data.time_column
    event_time = (
        pd.to_datetime(frame[time_column], utc=True) if time_column else pd.Series(scored_at, index=frame.index)
    )
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "id": row_keys(frame, config).reset_index(drop=True),
                    "event_time": event_time.reset_index(drop=True),
                    "scored_at": scored_at,
                    "model_name": model_name,
                    "model_version": str(version),
                    "prediction": scalar_prediction(predicted, task),
                    # 0/1 (binary), the class's index in the model's classes (multiclass), none (regression)
                    "predicted_label": label_column(labels, task, classes),
                },
            ),
            class_columns(predicted, task, classes, len(frame)),
            features.reset_index(drop=True),
        ],
        axis=1,
    )


def stored_probabilities(rows: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Stored multiclass rows' class probabilities (proba__<class>) and their classes, in column order.

    A class's column is empty on the rows of a version that never learnt it (a canary's champion, a
    store read across a retrain that learnt a new class): that version gave it probability 0.
    """
    columns = [c for c in rows.columns if c.startswith(PROBA_PREFIX)]
    return rows[columns].fillna(0.0).to_numpy(dtype="float64"), [c.removeprefix(PROBA_PREFIX) for c in columns]


def label_column(labels: np.ndarray, task: str, classes: tuple[str, ...]) -> Any:
    if task == "binary":
        return labels
    if task == "multiclass":
        position = {c: i for i, c in enumerate(classes)}
        return np.array([position[c] for c in labels], dtype="int64")
    return pd.array([pd.NA] * len(labels), dtype="Int64")


def class_columns(predicted: np.ndarray, task: str, classes: tuple[str, ...], rows: int) -> pd.DataFrame:
    """Multiclass: the predicted class as text and each class's probability; nothing for other tasks."""
    if task != "multiclass":
        return pd.DataFrame(index=range(rows))
    frame = pd.DataFrame(predicted, columns=[f"{PROBA_PREFIX}{c}" for c in classes])
    frame.insert(0, PREDICTED_CLASS, np.asarray(classes, dtype=object)[predicted.argmax(axis=1)])
    return frame
