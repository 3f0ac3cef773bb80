"""The loop replayed in process (--inline): a drifted window retrains once, gated; its repeat is suppressed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from mlflow.tracking import MlflowClient

from flows.simulate import simulate_flow
from flows.training import training_flow
from perennial.io.registry import CHAMPION, Registry

POLICY = {"window": "week", "retraining": {"k": 1, "n": 1, "drift_share": 0.5, "cooldown_days": 10}}


def test_the_loop_retrains_a_drifted_week_once_through_the_gate_and_cools_down(project: Any) -> None:
    # given a champion, and from April on a world far from the one it learned
    config = project.write_config(monitoring=POLICY)
    training_flow(config_path=config)
    frame = pd.read_parquet(project.data)
    hot = frame["time_hour"] >= pd.Timestamp("2013-04-01", tz="UTC")
    frame.loc[hot, "temp"] += 25.0
    frame.loc[hot, "distance"] += 600.0  # shifted: scaled by one factor it would be a unit change (invalid data)
    frame.to_parquet(project.data, index=False)
    # when two weekly windows are replayed
    rows = simulate_flow(config_path=config, start=dt.date(2013, 4, 1), windows=2, inline=True)
    # then the first week drifts, asks for a retrain, and the retrain ran through the gate
    first, second = rows
    assert first["window"] == "2013-04-01" and first["drift share"] >= 0.5
    assert first["event"] == "perennial.drift.detected"
    assert first["retrain"].endswith("(Completed)") or first["retrain"].endswith("(Failed)")
    assert first["gate"] in {"passed", "failed", "inconclusive"}  # a week's holdout may be short of evidence
    training = MlflowClient().search_runs(
        [MlflowClient().get_experiment_by_name("tiny").experiment_id],
        "tags.`perennial.kind` = 'training' and tags.`perennial.reason` = 'perennial.drift.detected'",
    )
    assert len(training) == 1 and training[0].data.tags["perennial.gate"] == first["gate"]
    # and a second monitor of that week is told the episode is handled
    assert first["repeat"].startswith("no event") and "dedupe" in first["repeat"]
    # and the next week, still drifted, is held back by the cooldown (10 days on the windows' clock)
    assert second["window"] == "2013-04-08" and second["event"] == "-" and "cooling down" in second["decision"]
    # and the champion column tells the registry's truth
    champion = Registry("tiny-delay").alias_version(CHAMPION)
    assert first["champion"] in {"v1", f"v1 → v{champion}"} and second["champion"] == f"v{champion}"
