"""A regression's label feed that carries no signal is refused; a moved level or a learnable new concept is not."""

from __future__ import annotations

import numpy as np
import pandas as pd

from perennial.config import Bootstrap
from perennial.core.label_free import LossReference
from perennial.core.label_signal import RULE, WindowInputs
from perennial.core.label_signal_regression import check_regression_label_signal

BOOT = Bootstrap(resamples=200)
STILL = WindowInputs(drift_share=0.0, drift_threshold=0.5, prediction_drifted=False)
FEATURES = ("x1", "x2", "region")


def rows(seed: int, n: int = 1000, strength: float = 3.0) -> pd.DataFrame:
    """The champion predicts ``strength`` * x1 (+2 in the north); the labels add unit noise to that."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    region = rng.choice(["north", "south"], n)
    prediction = strength * x1 + np.where(region == "north", 2.0, 0.0)
    label = prediction + rng.normal(size=n)
    return pd.DataFrame(
        {"id": range(n), "x1": x1, "x2": x2, "region": region, "prediction": prediction, "label": label}
    )


def reference(strength: float = 3.0) -> LossReference:
    holdout = rows(99, strength=strength)
    return LossReference.fit(holdout.loc[:, list(FEATURES)], holdout["label"], holdout["prediction"])


def check(joined: pd.DataFrame, ref: LossReference | None, inputs: WindowInputs = STILL):
    return check_regression_label_signal(joined, FEATURES, inputs, ref, "price", BOOT)


def test_numbers_shuffled_within_the_window_are_refused_naming_the_evidence() -> None:
    # given a window whose labels were shuffled among its rows, the inputs unchanged
    window = rows(1)
    shuffled = window.assign(label=np.random.default_rng(2).permutation(window["label"].to_numpy()))
    # when checked against the champion's loss estimator / then refused, blocking, with the three tests' figures
    rule = check(shuffled, reference())
    assert rule is not None and not rule.passed and rule.blocking and rule.rule == RULE and rule.column == "price"
    assert "where its own inputs predict" in rule.observed and "no longer rank the labels" in rule.observed
    assert "finds no signal either" in rule.observed and "fix 'price'" in rule.observed
    # and the same labels in their rows pass
    assert check(window, reference()) is None


def test_a_moved_level_and_a_new_concept_are_the_retrain_s_to_learn_not_refused() -> None:
    window, ref = rows(1), reference()
    # given every label 10 higher (a target that grew): the errors rise, the ranking holds
    assert check(window.assign(label=window["label"] + 10), ref) is None
    # given labels that follow x2 now, not x1: the champion ranks nothing, but the window's rows learn it
    rng = np.random.default_rng(3)
    assert check(window.assign(label=4 * window["x2"] + rng.normal(size=len(window))), ref) is None


def test_nothing_is_refused_on_a_guess() -> None:
    window = rows(1)
    shuffled = window.assign(label=np.random.default_rng(2).permutation(window["label"].to_numpy()))
    ref = reference()
    # the inputs drifted, or their drift was not judged, or the champion has no loss estimator, or no features
    assert check(shuffled, ref, WindowInputs(0.8, 0.5, False)) is None
    assert check(shuffled, ref, WindowInputs(None, 0.5, None)) is None
    assert check(shuffled, None) is None
    assert check_regression_label_signal(shuffled.drop(columns=["x2"]), FEATURES, STILL, ref, "price", BOOT) is None


def test_a_weak_champion_s_real_labels_pass() -> None:
    # given a champion whose inputs say little (a 0.3 slope under unit noise), on its real labels
    weak = reference(strength=0.3)
    for seed in range(5):
        assert check(rows(seed, strength=0.3), weak) is None
