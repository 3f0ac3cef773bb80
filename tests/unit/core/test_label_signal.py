"""A label feed that carries no signal is refused; a changed concept, which is learnable, is not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perennial.config import Bootstrap
from perennial.core.label_signal import RULE, WindowInputs, check_label_signal, signal_rows
from perennial.core.validation_report import ValidationReport

BOOT = Bootstrap(resamples=200)
STILL = WindowInputs(drift_share=0.0, drift_threshold=0.5, prediction_drifted=False)


def window(seed: int = 0, rows: int = 1000) -> pd.DataFrame:
    """The champion's scores follow x1 (p = sigmoid(2 x1)); the labels are drawn from those scores."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=rows), rng.normal(size=rows)
    score = 1 / (1 + np.exp(-2 * x1))
    label = (rng.random(rows) < score).astype(int)
    region = rng.choice(["north", "south"], rows)
    return pd.DataFrame({"id": range(rows), "x1": x1, "x2": x2, "region": region, "prediction": score, "label": label})


def check(joined: pd.DataFrame, inputs: WindowInputs = STILL, features: tuple[str, ...] = ("x1", "x2", "region")):
    return check_label_signal(joined, features, inputs, "churned", BOOT)


def test_labels_shuffled_within_the_window_are_refused_naming_the_evidence() -> None:
    # given a window whose labels were shuffled among its rows (a broken feed), nothing else changed
    joined = window()
    joined["label"] = np.random.default_rng(1).permutation(joined["label"].to_numpy())
    # when checked
    rule = check(joined)
    # then a blocking labels rule names the champion's chance-level figure, what its scores predict,
    # the still inputs and the window's own unlearnable labels
    assert rule is not None and not rule.passed and rule.blocking and rule.kind == "label_signal" and rule.rule == RULE
    assert rule.column == "churned" and "a broken label feed" in rule.observed
    assert "where its own scores predict 0.8" in rule.observed and "feature drift share 0.00" in rule.observed
    assert "out-of-fold roc_auc 0.4" in rule.observed or "out-of-fold roc_auc 0.5" in rule.observed


def test_labels_as_the_scores_predict_pass() -> None:
    assert check(window()) is None


def test_a_changed_concept_the_window_can_learn_is_not_refused() -> None:
    # given the same inputs and scores, but labels that now follow x2, a feature the champion ignores:
    # the champion is at chance, its scores still predict 0.8, and nothing drifted
    joined = window()
    rng = np.random.default_rng(2)
    joined["label"] = (rng.random(len(joined)) < 1 / (1 + np.exp(-3 * joined["x2"]))).astype(int)
    # when checked / then not refused: a model on the window's own rows learns it (the retrain's job)
    assert check(joined) is None


@pytest.mark.parametrize(
    "inputs",
    [
        WindowInputs(drift_share=0.6, drift_threshold=0.5, prediction_drifted=False),
        WindowInputs(drift_share=0.0, drift_threshold=0.5, prediction_drifted=True),
    ],
)
def test_shuffled_looking_labels_on_moved_inputs_are_left_to_the_policy(inputs: WindowInputs) -> None:
    joined = window()
    joined["label"] = np.random.default_rng(1).permutation(joined["label"].to_numpy())
    assert check(joined, inputs) is None


def test_without_the_features_nothing_is_refused_on_a_guess() -> None:
    joined = window()
    joined["label"] = np.random.default_rng(1).permutation(joined["label"].to_numpy())
    assert check(joined.drop(columns=["x1", "x2", "region"])) is None
    assert check(joined, features=()) is None


def test_a_window_whose_drift_was_not_judged_is_not_refused() -> None:
    joined = window()
    joined["label"] = np.random.default_rng(1).permutation(joined["label"].to_numpy())
    assert check(joined, WindowInputs(drift_share=None, drift_threshold=0.5, prediction_drifted=None)) is None


def test_a_team_whose_labels_really_carry_so_little_can_record_it_without_blocking() -> None:
    # given shuffled-looking labels and validation.warnings listing label_signal
    joined = window()
    joined["label"] = np.random.default_rng(1).permutation(joined["label"].to_numpy())
    # when checked as a warning / then the rule is recorded, failed, and blocks nothing
    rule = check_label_signal(joined, ("x1", "x2", "region"), STILL, "churned", BOOT, blocking=False)
    assert rule is not None and not rule.passed and not rule.blocking
    # and, blocking, the report's way forward names the key that makes it a warning
    blocked = ValidationReport("labels.csv", 1000, (check(joined),))  # type: ignore[arg-type]
    assert "list label_signal in validation.warnings" in blocked.summary()


def test_labels_swapped_wholesale_are_refused_though_a_model_could_learn_them() -> None:
    # given a feed that wrote 1 for 0 and 0 for 1 (the inputs and scores unchanged)
    joined = window()
    joined["label"] = 1 - joined["label"]
    # when checked / then refused: the champion ranks them backwards, where its scores predict 0.8
    rule = check(joined)
    assert rule is not None and rule.blocking and "rank the labels backwards" in rule.observed
    assert "polarity flipped" in rule.observed and "feature drift share 0.00" in rule.observed
    # and not when the inputs moved (a changed world may explain it: the policy's to judge)
    moved = WindowInputs(drift_share=0.7, drift_threshold=0.5, prediction_drifted=True)
    assert check(joined, moved) is None


def test_past_the_limit_the_tests_judge_a_seeded_sample_of_the_labelled_rows_picked_by_position() -> None:
    # given 1,000 labelled rows, and the same rows under another index (as another engine may hold them)
    joined = pd.DataFrame({"id": [f"r{i}" for i in range(1000)], "label": np.arange(1000) % 2})
    reindexed = joined.set_axis(np.arange(1000) * 7 + 3)
    # when at most 100 are judged
    picked, again, other = signal_rows(joined, 100), signal_rows(joined, 100), signal_rows(reindexed, 100)
    # then 100 distinct rows in the window's order, the same ones every time and under either index
    assert len(picked) == 100 and picked["id"].is_unique
    assert picked.index.is_monotonic_increasing and picked["id"].tolist() == again["id"].tolist()
    assert other["id"].tolist() == picked["id"].tolist()
    assert picked["id"].tolist() != joined["id"].head(100).tolist()  # a sample, not the first rows
    # and a window within the limit is judged whole
    assert signal_rows(joined, 1000) is joined
