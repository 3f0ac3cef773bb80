from __future__ import annotations

import pandas as pd
import pytest

from perennial.config import Config
from perennial.core.data import features_of, labels_of, split_by_time
from perennial.core.gates import check_promotion
from perennial.core.lifecycle import compare_on_holdout
from perennial.core.training import train_baseline, train_candidate
from tests.conftest import make_flights


@pytest.fixture(scope="module")
def setting() -> tuple[Config, pd.DataFrame, object, object]:
    from perennial.config import parse_config
    from tests.conftest import config_dict

    config = parse_config(config_dict(), "tiny.yaml")
    frame = make_flights(rows=4000, days=120)
    train, holdout = split_by_time(frame, config)
    X, y = features_of(train, config), labels_of(train, config)
    model = train_candidate(config.training.candidates[1], X, y, config).model
    baseline = train_baseline(X, y, config).model
    return config, holdout, model, baseline


def test_without_lineage_the_champion_is_scored_on_every_holdout_row(setting) -> None:
    config, holdout, model, baseline = setting
    comparison = compare_on_holdout(("candidate:lr", model), baseline, ("champion:v1", model), holdout, config)
    assert comparison.champion is not None and comparison.champion.rows == len(holdout)
    assert comparison.evidence.champion_rows.rows == len(holdout) and comparison.evidence.champion_note == ""
    assert comparison.versus_champion.value == 0.0


def test_the_champion_is_scored_only_on_rows_after_its_training(setting) -> None:
    # given a champion that trained on rows up to the holdout month's fifth day
    config, holdout, model, baseline = setting
    through = pd.Timestamp("2013-03-05 23:00", tz="UTC")
    later = int((holdout["time_hour"] > through).sum())
    # when compared
    comparison = compare_on_holdout(("candidate:lr", model), baseline, ("champion:v1", model), holdout, config, through)
    # then the candidate is scored on every row, the champion on the later ones alone
    assert comparison.candidate.rows == len(holdout) > comparison.champion.rows == later
    assert comparison.evidence.champion_rows.rows == later
    assert comparison.evidence.champion_note == "champion:v1 trained on rows up to 2013-03-05 23:00"


def test_a_champion_that_trained_on_the_whole_holdout_is_not_scored_and_the_gate_says_why(setting) -> None:
    # given a champion trained through the end of the holdout (the demo's v2 judged on June)
    config, holdout, model, baseline = setting
    through = pd.Timestamp("2013-03-31 23:00", tz="UTC")
    # when compared and gated
    comparison = compare_on_holdout(("candidate:lr", model), baseline, ("champion:v2", model), holdout, config, through)
    report = check_promotion(
        comparison.candidate,
        comparison.baseline,
        comparison.champion,
        comparison.versus_champion,
        config.gate,
        "roc_auc",
        evidence=comparison.evidence,
    )
    # then the champion is not scored, and the verdict is inconclusive naming the missing rows
    assert comparison.champion is None and comparison.evidence.champion_rows.rows == 0
    assert report.verdict == "inconclusive" and report.champion == "champion:v2"
    assert "0 holdout rows the champion never trained on < 500" in report.summary()
    assert "champion:v2 trained on rows up to 2013-03-31 23:00" in report.summary()
