from __future__ import annotations

import pandas as pd
import pytest

from perennial.core.data import features_of, labels_of
from perennial.core.partitions import split_frame
from perennial.core.scoring import score_frame
from perennial.core.training import train_candidate


@pytest.fixture
def model(flights, tiny_config):
    """The tiny config's first candidate fitted on the flights."""
    return train_candidate(
        tiny_config.training.candidates[0],
        features_of(flights, tiny_config),
        labels_of(flights, tiny_config),
        tiny_config,
    ).model


def test_scored_rows_carry_identity_probability_and_features(flights, tiny_config, model) -> None:
    # given a fitted model / when a window is scored
    window = flights.iloc[100:400]
    rows = score_frame(model, window, tiny_config, "tiny-delay", "3")
    # then one row per input, in order, with the model's identity and the raw features
    assert rows["id"].tolist() == window["flight_id"].tolist()
    assert (rows["model_version"] == "3").all() and rows["prediction"].between(0, 1).all()
    assert ((rows["prediction"] >= 0.5).astype(int) == rows["predicted_label"]).all()
    assert {"distance", "temp", "carrier", "origin"} <= set(rows.columns)
    assert str(rows["event_time"].dt.tz) == "UTC"


def test_scoring_a_window_part_by_part_gives_the_whole_windows_rows(flights, tiny_config, model) -> None:
    # given a fitted model and a window in three parts, one of them empty
    window = flights.iloc[100:400]
    at = pd.Timestamp("2013-07-02", tz="UTC")
    parts = [*split_frame(window, 2), window.iloc[:0]]
    # when each part is scored with one scoring time, and the whole window at once
    scored = [score_frame(model, part, tiny_config, "tiny-delay", "3", scored_at=at) for part in parts]
    whole = score_frame(model, window, tiny_config, "tiny-delay", "3", scored_at=at)
    # then the parts together are the whole window's rows, and the empty part has its columns and types
    pd.testing.assert_frame_equal(pd.concat(scored, ignore_index=True), whole, check_exact=True)
    assert len(scored[-1]) == 0 and scored[-1].dtypes.equals(whole.dtypes)
    # and another version's rows differ
    other = score_frame(model, window, tiny_config, "tiny-delay", "4", scored_at=at)
    assert not other.equals(whole)
