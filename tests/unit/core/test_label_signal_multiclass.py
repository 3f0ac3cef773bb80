"""A multiclass label feed that carries no signal is refused; a new concept the window can learn is not."""

from __future__ import annotations

import numpy as np
import pandas as pd

from perennial.core.label_free import ClassReference
from perennial.core.label_signal import RULE, WindowInputs
from perennial.core.label_signal_multiclass import check_multiclass_label_signal

STILL = WindowInputs(drift_share=0.0, drift_threshold=0.5, prediction_drifted=False)
FEATURES = ("x1", "x2", "region")
CLASSES = ("low", "mid", "high")


def rows(seed: int, n: int = 1000) -> pd.DataFrame:
    """The champion's probabilities follow x1 through a softmax; the labels are drawn from them."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    logits = np.column_stack([-2 * x1, np.zeros(n), 2 * x1])
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    drawn = (rng.random((n, 1)) > proba.cumsum(axis=1)).sum(axis=1)
    frame = pd.DataFrame({"id": range(n), "x1": x1, "x2": x2, "region": rng.choice(["north", "south"], n)})
    frame["label"] = np.asarray(CLASSES, dtype=object)[np.minimum(drawn, 2)]
    frame["prediction"] = proba.max(axis=1)
    for i, c in enumerate(CLASSES):
        frame[f"proba__{c}"] = proba[:, i]
    return frame


def reference() -> ClassReference:
    holdout = rows(99)
    return ClassReference.fit(holdout["label"], holdout[[f"proba__{c}" for c in CLASSES]].to_numpy(), CLASSES)


def check(joined: pd.DataFrame, inputs: WindowInputs = STILL, ref: ClassReference | None = None):
    return check_multiclass_label_signal(joined, FEATURES, inputs, ref or reference(), "tier")


def shuffled(window: pd.DataFrame, seed: int = 2) -> pd.DataFrame:
    return window.assign(label=np.random.default_rng(seed).permutation(window["label"].to_numpy()))


def test_classes_shuffled_within_the_window_are_refused_naming_the_evidence() -> None:
    window = rows(1)
    rule = check(shuffled(window))
    assert rule is not None and not rule.passed and rule.blocking and rule.rule == RULE and rule.column == "tier"
    assert "where its own probabilities expect" in rule.observed and "a broken label feed" in rule.observed
    # and the same labels in their rows pass
    assert check(window) is None


def test_swapped_classes_are_refused_as_a_relabelled_feed_and_a_new_concept_is_learnt_not_refused() -> None:
    window = rows(1)
    # given 'low' and 'high' swapped in the feed: learnable, but the champion answers them backwards
    swapped = window.assign(label=window["label"].map({"low": "high", "high": "low", "mid": "mid"}))
    rule = check(swapped)
    assert rule is not None and "answers the classes backwards" in rule.observed
    # given classes that follow x2 now: the champion is at chance, the window's own rows learn them
    concept = window.assign(label=np.where(window["x2"] > 0.4, "high", np.where(window["x2"] < -0.4, "low", "mid")))
    assert check(concept) is None


def test_nothing_is_refused_on_a_guess() -> None:
    noise = shuffled(rows(1))
    assert check(noise, WindowInputs(0.8, 0.5, False)) is None
    assert check(noise, WindowInputs(None, 0.5, None)) is None
    assert check_multiclass_label_signal(noise, FEATURES, STILL, None, "tier") is None
    assert check_multiclass_label_signal(noise.drop(columns=["x2"]), FEATURES, STILL, reference(), "tier") is None
