"""Permutation importance on a bounded sample, the decay flag, and the history across versions."""

from __future__ import annotations

import math

import pytest

from perennial.config import Candidate, Importance
from perennial.core.data import features_of, labels_of
from perennial.core.importance import (
    ImportanceReport,
    flag_decayed_features,
    importance_history,
    importance_sample,
    permutation_importances,
)
from perennial.core.training import train_candidate
from tests.conftest import make_flights


def test_the_signal_columns_matter_and_the_noise_column_does_not(tiny_config) -> None:
    # given a model trained on flights whose delays depend on temp and carrier, not distance
    frame = make_flights(rows=3000)
    X, y = features_of(frame, tiny_config), labels_of(frame, tiny_config)
    model = train_candidate(Candidate(name="lr", family="logistic_regression"), X, y, tiny_config).model
    # when importance is measured on a sample of 800 rows
    report = permutation_importances(model, X, y, "roc_auc", Importance(max_rows=800, repeats=2), seed=3)
    # then temp and carrier lead, distance is about zero, and the sample bound held
    ranked = [f.feature for f in report.features]
    assert set(ranked[:2]) == {"temp", "carrier"}
    assert abs(report.as_mapping()["distance"]) < 0.02 < report.as_mapping()["temp"]
    assert report.rows == 800 and report.repeats == 2
    assert ImportanceReport.from_dict(report.to_dict()) == report


def test_a_feature_that_lost_more_than_the_share_is_flagged() -> None:
    # given importance at training and now
    before = {"temp": 0.10, "carrier": 0.05, "distance": 0.0001, "origin": 0.02}
    now = {"temp": 0.02, "carrier": 0.04}
    # when compared with a 50% bound
    decays = {d.feature: d for d in flag_decayed_features(before, now, max_drop_share=0.5)}
    # then temp (-80%) and origin (gone) decayed, carrier (-20%) did not, distance never mattered
    assert decays["temp"].decayed and decays["temp"].drop_share == pytest.approx(0.8)
    assert decays["origin"].decayed and decays["origin"].now == 0.0
    assert not decays["carrier"].decayed
    assert "distance" not in decays
    with pytest.raises(ValueError, match="max_drop_share"):
        flag_decayed_features(before, now, 0)


def test_history_is_features_by_version_sorted_by_the_latest() -> None:
    # given two versions, the second without origin
    history = importance_history({"v1": {"temp": 0.1, "origin": 0.02}, "v2": {"temp": 0.05, "carrier": 0.07}})
    # then rows are features, columns versions, the latest's order first, NaN where unused
    assert list(history.columns) == ["v1", "v2"]
    assert list(history.index) == ["carrier", "temp", "origin"]
    assert math.isnan(history.loc["origin", "v2"])


def test_importance_on_the_sampled_rows_alone_equals_importance_on_every_row(tiny_config) -> None:
    # given a model and 600 labelled rows, of which importance shuffles a sample of 100
    frame = make_flights(rows=600)
    X, y = features_of(frame, tiny_config), labels_of(frame, tiny_config)
    model = train_candidate(Candidate(name="lr", family="logistic_regression"), X, y, tiny_config).model
    settings = Importance(max_rows=100, repeats=1)
    # when only the rows importance_sample names are fetched (as a window over partitions does)
    take = importance_sample(len(X), settings, seed=3)
    fetched = permutation_importances(model, X.iloc[take], y[take], "roc_auc", settings, seed=3)
    # then the report is the one on every row; another sample of the same size gives another
    assert len(take) == 100 and (take[1:] > take[:-1]).all()
    assert fetched == permutation_importances(model, X, y, "roc_auc", settings, seed=3)
    other = importance_sample(len(X), settings, seed=4)
    assert fetched != permutation_importances(model, X.iloc[other], y[other], "roc_auc", settings, seed=3)
