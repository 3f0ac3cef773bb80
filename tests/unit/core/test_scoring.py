from __future__ import annotations

from perennial.core.data import features_of, labels_of
from perennial.core.scoring import score_frame
from perennial.core.training import train_candidate


def test_scored_rows_carry_identity_probability_and_features(flights, tiny_config) -> None:
    # given a fitted model / when a window is scored
    model = train_candidate(
        tiny_config.training.candidates[0],
        features_of(flights, tiny_config),
        labels_of(flights, tiny_config),
        tiny_config,
    ).model
    window = flights.iloc[100:400]
    rows = score_frame(model, window, tiny_config, "tiny-delay", "3")
    # then one row per input, in order, with the model's identity and the raw features
    assert rows["id"].tolist() == window["flight_id"].tolist()
    assert (rows["model_version"] == "3").all() and rows["prediction"].between(0, 1).all()
    assert ((rows["prediction"] >= 0.5).astype(int) == rows["predicted_label"]).all()
    assert {"distance", "temp", "carrier", "origin"} <= set(rows.columns)
    assert str(rows["event_time"].dt.tz) == "UTC"
