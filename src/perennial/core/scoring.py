"""Batch scoring: one model over a window of rows, into prediction-log rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from perennial.config import Config
from perennial.core.data import model_inputs


def score_frame(model: Any, frame: pd.DataFrame, config: Config, model_name: str, version: str) -> pd.DataFrame:
    """Prediction rows: id, event time, model identity, probability, label, and the raw features.

    The features ride along so monitoring can compare what was scored with what was trained on.
    """
    X = model_inputs(model, frame, config)
    proba = np.asarray(model.predict_proba(X))[:, 1]
    features = frame.loc[:, [c for c in config.data.features.columns if c != config.data.time_column]]
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "id": frame[config.data.id_column].astype(str).reset_index(drop=True),
                    "event_time": pd.to_datetime(frame[config.data.time_column], utc=True).reset_index(drop=True),
                    "scored_at": pd.Timestamp(dt.datetime.now(dt.UTC)),
                    "model_name": model_name,
                    "model_version": str(version),
                    "prediction": proba,
                    "predicted_label": (proba >= config.evaluation.threshold).astype("int64"),
                },
            ),
            features.reset_index(drop=True),
        ],
        axis=1,
    )
