"""A regression target on a trend through the monitoring flow: the monitor store remembers each accepted
week's quartiles, so a week that moved far from the reference but little from the week before is learnt
from, and a week in other units is refused, as is the week after it."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

from flows.batch_scoring import batch_scoring_flow
from flows.monitoring import monitoring_flow
from flows.training import training_flow
from perennial.io.monitor_store import MonitorStore

WEEKS = [dt.date(2013, 4, 1) + dt.timedelta(weeks=k) for k in range(4)]
# the flight time grows x1.3 then x1.6 of its level (a trend), then arrives in seconds-ish units (x60)
LEVELS = [1.3, 1.6, 1.6 * 60, 1.7 * 60]


def _with_flight_minutes(path: Any) -> None:
    """A positive target: minutes in the air, from the distance with a little noise, moved in April's weeks."""
    frame = pd.read_parquet(path)
    rng = np.random.default_rng(5)
    minutes = 100 * np.exp(0.15 * (frame["distance"] - 1300) / 700 + rng.normal(0, 0.1, len(frame)))
    times = frame["time_hour"]
    for start, level in zip(WEEKS, LEVELS, strict=True):
        inside = (times >= pd.Timestamp(start, tz="UTC")) & (
            times < pd.Timestamp(start + dt.timedelta(weeks=1), tz="UTC")
        )
        minutes[inside] *= level
    frame["air_minutes"] = minutes.round(2)
    frame.to_parquet(path, index=False)


def _report(run_id: str) -> dict[str, Any]:
    path = MlflowClient().download_artifacts(run_id, "validation/report.json")
    with open(path) as file:
        return dict(json.load(file))


def test_a_target_that_grows_week_by_week_is_judged_and_a_week_in_other_units_is_refused(project: Any) -> None:
    # given a regression champion on minutes in the air, trained on January to March at a steady level
    _with_flight_minutes(project.data)
    path = project.write_config(
        **{
            "task": "regression",
            "data.target": "air_minutes",
            "training.candidates": [{"name": "ridge", "family": "ridge", "params": {"alpha": 1.0}}],
            "gate": {"mode": "off"},
            "validation.window": "week",
            "monitoring": {"window": "week", "min_labelled_rows": 50, "retraining": {"performance_tolerance": 50.0}},
        }
    )
    assert training_flow(config_path=path).promoted
    states = []
    # when each of April's weeks is scored, then monitored with its labels
    for start in WEEKS:
        window = {"window_start": start, "window_end": start + dt.timedelta(weeks=1)}
        assert batch_scoring_flow(config_path=path, start=window["window_start"], end=window["window_end"]) > 0
        states.append(monitoring_flow(config_path=path, **window, return_state=True))
    # then the two weeks of the trend are judged, the second x1.6 of the reference but x1.2 of the first
    assert [s.is_completed() for s in states] == [True, True, False, False], [s.message for s in states]
    second = states[1].result()
    rule = next(
        r
        for r in _report(second["mlflow_run_id"])["results"]
        if r["column"] == "air_minutes" and r["kind"] == "unit_shift"
    )
    assert rule["passed"] and "of 2013-04-01, the last window accepted: a trend, not a unit change" in rule["observed"]
    assert rule["observed"].startswith("every quartile moved by x1."), rule["observed"]
    # and both weeks in other units are refused, measured from the last week accepted (2013-04-08)
    for state in states[2:]:
        assert "no unit shift" in state.message and "of 2013-04-08, the last window accepted" in state.message
    # and the store kept the quartiles of the accepted weeks only, the target's among them
    store = MonitorStore(project.settings.ledger_url)
    try:
        earlier = store.accepted_quartiles("tiny", before="2013-05-01")
    finally:
        store.close()
    assert earlier["air_minutes"].window == "2013-04-08" and earlier["distance"].window == "2013-04-08"
    assert 150 < earlier["air_minutes"].quartiles[1] < 175  # x1.6 of a median near 100
    # and a retrain on the grown week alone (x1.6 of the champion's reference) is validated as the trend
    # monitoring watched, not refused as a unit change
    retrained = training_flow(
        config_path=path,
        train_start=dt.date(2013, 4, 8),
        train_end=dt.date(2013, 4, 13),
        holdout_end=dt.date(2013, 4, 15),
        return_state=True,
    )
    assert retrained.is_completed(), retrained.message
    rule = next(
        r
        for r in _report(retrained.result().run_id)["results"]
        if r["column"] == "air_minutes" and r["kind"] == "unit_shift"
    )
    assert "of 2013-04-08, the last window accepted: a trend, not a unit change" in rule["observed"], rule
