"""A cost-minimising threshold chosen in training decides the labels that are stored and served."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient

from flows.batch_scoring import batch_scoring_flow
from flows.training import training_flow
from perennial.config import load_config
from perennial.core.names import Tag
from perennial.io.prediction_store import open_store
from perennial.io.registry import Registry
from perennial.serving.app import create_app
from perennial.settings import load_settings

# a missed delay costs five times a false alarm: the cheapest threshold is well below 0.5
COST = {"false_positive": 1.0, "false_negative": 5.0, "unit": "EUR"}
WINDOW = {"start": dt.date(2013, 3, 1), "end": dt.date(2013, 3, 15)}


def test_the_cost_threshold_decides_stored_and_served_labels(project: Any) -> None:
    # given a champion trained with a cost block, its chosen threshold tagged on the version
    config_path = project.write_config(evaluation={"bootstrap": {"resamples": 50}, "latency_rows": 100, "cost": COST})
    assert training_flow(config_path=config_path).version == "1"
    threshold = float(Registry("tiny-delay").info("1").tags[Tag.DECISION_THRESHOLD])
    assert threshold < 0.5
    # when a window is batch-scored
    batch_scoring_flow(config_path=config_path, **WINDOW)
    config = load_config(config_path)
    stored = open_store(config, load_settings().root).read("batch")
    # then each stored label is the decision at that threshold, which differs from 0.5's on some rows
    assert (stored["predicted_label"] == (stored["prediction"] >= threshold).astype(int)).all()
    between = stored[(stored["prediction"] >= threshold) & (stored["prediction"] < 0.5)]
    assert len(between) > 0
    # and the service answers one of those rows with the positive label
    frame = pd.read_parquet(project.data).set_index("flight_id")
    row = frame.loc[between["id"].iloc[0]]
    record = {"flight_id": str(between["id"].iloc[0])} | {
        c: (
            row[c].isoformat()
            if isinstance(row[c], pd.Timestamp)
            else row[c].item()
            if isinstance(row[c], np.generic)
            else row[c]
        )
        for c in config.data.features.columns
    }
    with TestClient(create_app(config, load_settings())) as client:
        body = client.post("/predict", json=record).json()
        metadata = client.get("/metadata").json()
    assert body["prediction"] < 0.5 and body["label"] == 1, body
    assert metadata["threshold"] == threshold
    # and the prediction log stores the same decision for the served row
    logged = open_store(config, load_settings().root).read("service")
    assert logged["predicted_label"].tolist() == [1]
