"""The loop replayed in process (--inline): a drifted window retrains once, gated; its repeat is suppressed;
a shift that persists is one episode with one retrain, then a person is asked."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from flows.simulate import simulate_flow
from flows.training import training_flow
from perennial.config import load_config
from perennial.errors import ConfigError
from perennial.io.monitor_store import MonitorStore
from perennial.io.registry import CHAMPION, Registry
from tests.conftest import config_dict

POLICY = {"window": "week", "retraining": {"k": 1, "n": 1, "drift_share": 0.5, "cooldown_days": 10}}


def _shift_from_april(project: Any) -> None:
    frame = pd.read_parquet(project.data)
    hot = frame["time_hour"] >= pd.Timestamp("2013-04-01", tz="UTC")
    frame.loc[hot, "temp"] += 25.0
    frame.loc[hot, "distance"] += 600.0  # shifted: scaled by one factor it would be a unit change (invalid data)
    frame.to_parquet(project.data, index=False)


def test_the_loop_retrains_a_drifted_week_once_through_the_gate_and_cools_down(project: Any) -> None:
    # given a champion, and from April on a world far from the one it learned
    config = project.write_config(monitoring=POLICY)
    training_flow(config_path=config)
    _shift_from_april(project)
    # when two weekly windows are replayed
    rows = simulate_flow(config_path=config, start=dt.date(2013, 4, 1), windows=2, inline=True)
    # then the first week drifts, asks for a retrain, and the retrain ran through the gate
    first, second = rows
    assert first["window"] == "2013-04-01" and first["drift share"] >= 0.5
    assert first["event"] == "perennial.drift.detected"
    assert first["gate"] in {"passed", "failed", "inconclusive"}  # a week's holdout may be short of evidence
    # and a run the gate stopped reads so, not as a crash ("(Failed)")
    stopped = first["gate"] != "passed"
    assert first["retrain"].endswith(f"(stopped by the gate: {first['gate']})" if stopped else "(Completed)")
    training = MlflowClient().search_runs(
        [MlflowClient().get_experiment_by_name("tiny").experiment_id],
        "tags.`perennial.kind` = 'training' and tags.`perennial.reason` = 'perennial.drift.detected'",
    )
    assert len(training) == 1 and training[0].data.tags["perennial.gate"] == first["gate"]
    # and a second monitor of that week is told the episode is handled
    assert first["repeat"].startswith("no event") and "dedupe" in first["repeat"]
    # and the next week, still drifted, is held back by the cooldown (10 days on the windows' clock)
    assert second["window"] == "2013-04-08" and "cooling down" in second["decision"]
    # and, the retrain judged, the persisting shift is watched, no person asked: the week's labels show
    # the champion within policy on it (an inconclusive retrain may instead be retried later)
    assert second["event"] == "-"
    assert first["gate"] == "inconclusive" or "watched, no person asked" in second["decision"]
    # and the champion column tells the registry's truth
    champion = Registry("tiny-delay").alias_version(CHAMPION)
    assert first["champion"] in {"v1", f"v1 → v{champion}"} and second["champion"] == f"v{champion}"


def test_persistent_drift_is_one_episode_with_one_retrain_then_watched_while_labels_show_no_cost(
    project: Any,
) -> None:
    # given a champion, a shift from April on, and a policy that would retrain on every drifted week (no cooldown)
    eager = {"window": "week", "retraining": {"k": 1, "n": 1, "cooldown_days": 0, "episode_retries": 0}}
    config = project.write_config(monitoring=eager)
    training_flow(config_path=config)
    _shift_from_april(project)
    # when three drifted weeks are replayed
    rows = simulate_flow(config_path=config, start=dt.date(2013, 4, 1), windows=3, inline=True)
    # then the first week retrains, and that is the episode's only retrain
    assert [r["event"] for r in rows] == ["perennial.drift.detected", "-", "-"]
    training = MlflowClient().search_runs(
        [MlflowClient().get_experiment_by_name("tiny").experiment_id],
        "tags.`perennial.kind` = 'training' and tags.`perennial.reason` = 'perennial.drift.detected'",
    )
    assert len(training) == 1
    # and the weeks after it say why not: the episode had its retrain, the shift persists, and the weeks'
    # labels show the champion within policy on it, so no person is paged (a covariate shift that costs nothing)
    assert all(r["drift share"] >= 0.5 for r in rows)
    for week in rows[1:]:
        assert "had its retrain" in week["decision"] and "watched, no person asked" in week["decision"]
    # and the store holds one open episode over the three weeks, its retrain's ending from the training run
    store = MonitorStore(project.settings.ledger_url)
    (episode,) = store.episodes("tiny")
    store.close()
    assert (episode.start, episode.end, episode.windows, episode.retrains, episode.alerted) == (
        "2013-04-01",
        None,
        3,
        1,
        False,
    )
    assert episode.retrain == "2013-04-08" and episode.outcome in {"promoted", "passed", "failed", "inconclusive"}
    assert rows[2]["episodes"] == episode.describe() and rows[0]["episodes"].startswith("drift open since 2013-04-01")


def test_a_table_without_time_is_refused_with_what_to_do_instead(project: Any, tmp_path: Path) -> None:
    # given a config with no time column and a hash split (a table, not a series)
    raw = config_dict(str(project.data))
    raw["split"], raw["data"]["time_column"] = {"kind": "hash"}, None
    for rule in ("freshness", "volume"):
        raw["validation"].pop(rule, None)
    path = tmp_path / "table.yaml"
    path.write_text(yaml.safe_dump(raw))
    # when the loop is replayed on it / then it is refused before anything runs, saying what to do
    with pytest.raises(ConfigError, match="simulate replays the data window by window in time.*perennial score"):
        simulate_flow(config_path=str(path), windows=1, inline=True)
    assert not Registry("tiny-delay").versions()


def test_the_replay_starts_where_the_holdout_ends_by_default(project: Any) -> None:
    # given the tiny config, whose holdout ends on its split.holdout_end
    config = project.write_config()
    training_flow(config_path=config)
    # when the loop is replayed without a start / then its first window starts there
    rows = simulate_flow(config_path=config, windows=1, inline=True)
    assert rows[0]["window"] == load_config(config).split.holdout_end.isoformat() == "2013-04-01"  # weekly windows


def test_a_holdout_reaching_the_data_end_is_replayed_and_the_replay_stops_with_the_data(project: Any) -> None:
    # given a holdout that runs past the last row (as `perennial init` splits a series), monthly windows
    overrides = {"split.holdout_end": "2013-06-01", "monitoring": {"window": "month"}, "validation.freshness": None}
    config = project.write_config(**overrides)
    training_flow(config_path=config)
    # when the loop is replayed without a start, for more windows than the data holds
    rows = simulate_flow(config_path=config, windows=6, inline=True)
    # then it replays the holdout from train_end (rows the champion never trained on), to the data's end
    assert [r["window"] for r in rows] == ["2013-03", "2013-04"]
