"""Labels that carry no signal: a broken label feed, refused before the loop learns from it (pure).

Labels shuffled within a window, or joined to the wrong rows, read as a performance drop: the
champion scores at chance, the policy asks for a retrain, and the rows stay in every later training
set. Three things together tell such a feed from a real change of concept:

- the champion's scores say what they should earn (the label-free estimate, CBPE), and the labels
  disagree beyond both intervals, while the inputs and the scores did not move (no drift);
- the champion's ROC AUC on the window cannot be told from a coin (its interval reaches 0.5);
- a model fit on the window's own rows finds no signal either (out-of-fold ROC AUC whose interval
  reaches 0.5). A changed concept is learnable from the new labels; noise is not.

Labels swapped wholesale (1 for 0) are learnable, so the last test would let them through: a champion
whose window AUC lies wholly below 0.5 while its scores predict far more and nothing drifted is
ranking the labels backwards, and is refused on the first test alone.

Binary tasks here: there chance is 0.5 whatever the class balance (regression and multiclass:
core/label_signal_regression.py, core/label_signal_multiclass.py). Past ``SIGNAL_ROWS`` labelled rows the
tests run on a seeded sample of them (``signal_rows``), the same rows on either engine: a window read over
partitions fetches those rows' features alone. Without the features the third test cannot run, and
without a drift verdict (too few rows) the first cannot: then the window is not refused, since a
feed is never blocked on a guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import is_classifier
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict

from perennial.config import Bootstrap
from perennial.core.estimate import Estimate
from perennial.core.label_free import estimate_roc_auc
from perennial.core.label_free_interval import binary_interval
from perennial.core.metrics import estimate_metrics
from perennial.core.threads import openmp_for
from perennial.core.validation_report import RuleResult

RULE = "labels carry the signal the inputs predict"
KIND = "label_signal"  # validation.warnings may list it: a window whose labels really carry so little
CHANCE = 0.5
# the window's own rows count as learnable only when their out-of-fold AUC's low end clears chance by
# this: on 1,015 truly shuffled labels it came out 0.543 [0.511, 0.580] (a replay), and a concept worth
# learning is far clearer than that
LEARNABLE_MARGIN = 0.02
FOLDS = 3
# the champion's window AUC wholly below 0.5 by this: its scores rank the labels backwards. Such labels
# are learnable (a retry on them was promoted and served inverted scores), so they are refused before
# the learnability test: a polarity flip in the feed, not a changed concept
BACKWARDS_MARGIN = 0.05
# a champion scoring at least this on the window's labels is far from chance on any window monitoring
# judges (200 labelled rows or more: an AUC interval there is about +/-0.08 at most)
CLEARLY_SIGNAL = 0.6
# the tests, the third of which fits a model on the window's own rows, run on at most this many labelled
# rows: an AUC interval of 200,000 rows is about +/-0.003, and the fit stays seconds, not minutes
SIGNAL_ROWS = 200_000
SIGNAL_SEED = 0


def signal_rows(joined: pd.DataFrame, limit: int = SIGNAL_ROWS) -> pd.DataFrame:
    """The labelled rows the tests judge: all of them, or past ``limit`` a seeded sample chosen by position,
    kept in order (joined alike, either engine picks the same rows)."""
    if len(joined) <= limit:
        return joined
    keep = np.sort(np.random.default_rng(SIGNAL_SEED).choice(len(joined), size=limit, replace=False))
    return joined.iloc[keep]


@dataclass(frozen=True, slots=True)
class WindowInputs:
    """What the check weighs besides the labels: the inputs' drift as monitoring measured it."""

    drift_share: float | None  # the features' drift share (None: not judged, too few rows)
    drift_threshold: float  # monitoring.retraining.drift_share
    prediction_drifted: bool | None  # the champion's scores drifted (None: not judged)


def check_label_signal(
    joined: pd.DataFrame,
    features: Sequence[str],
    inputs: WindowInputs,
    target: str,
    bootstrap: Bootstrap,
    blocking: bool = True,
) -> RuleResult | None:
    """A failed ``label_signal`` rule when the window's labels carry no signal that its unchanged inputs
    predict (see the module's three tests); None when they do, or when it cannot be told.

    ``joined``: the window's labelled rows, 0/1 ``label``, the champion's ``prediction`` (the positive
    class's probability) and the ``features`` it was scored on. ``blocking``: False when
    ``validation.warnings`` lists ``label_signal`` (recorded and shown, nothing refused).
    """
    labels = pd.to_numeric(joined["label"], errors="coerce")
    if labels.nunique() < 2 or not set(features) <= set(joined.columns) or not features:
        return None
    if moved(inputs):
        return None  # the inputs moved: a real change may explain the labels
    if roc_auc_score(labels, joined["prediction"]) >= CLEARLY_SIGNAL:
        return None  # every healthy window ends here, before any resampling (a window can be millions of rows)
    window = estimate_metrics(labels, joined["prediction"], ["roc_auc"], bootstrap)["roc_auc"]
    expected = _expected(joined["prediction"])
    if expected is None or window.high >= expected.low:
        return None
    if window.high < CHANCE - BACKWARDS_MARGIN:  # learnable, but backwards: a swapped feed, not a new world
        return RuleResult(
            target, RULE, False, _backwards(window, expected, inputs, target, len(labels)), KIND, blocking
        )
    if window.low > CHANCE:
        return None
    learnt = _learnt(joined.loc[:, list(features)], labels, bootstrap)
    if learnt is None or learnt.low > CHANCE + LEARNABLE_MARGIN:
        return None  # learnable from the window itself: a changed concept, the retrain's to learn
    observed = (
        f"the champion scores {_evidence(window, expected, inputs, len(labels))}, and a model fit on the window's own rows finds "
        f"no signal either (out-of-fold roc_auc {interval_text(learnt)}): a broken label feed (shuffled, or joined to "
        f"the wrong rows?); fix '{target}' and monitor the window again"
    )
    return RuleResult(target, RULE, False, observed, kind=KIND, blocking=blocking)


def _backwards(window: Estimate, expected: Estimate, inputs: WindowInputs, target: str, rows: int) -> str:
    return (
        f"the champion's scores rank the labels backwards: {_evidence(window, expected, inputs, rows)}: a label feed "
        f"whose classes were swapped (polarity flipped?); fix '{target}' and monitor the window again"
    )


def _evidence(window: Estimate, expected: Estimate, inputs: WindowInputs, rows: int) -> str:
    """What both refusals rest on: the window's AUC, what the scores predict, the still inputs."""
    return (
        f"roc_auc {interval_text(window)} on {rows:,} labelled rows where its own scores predict {interval_text(expected)} (label-free), the "
        f"inputs did not move (feature drift share {inputs.drift_share:.2f})"
    )


def interval_text(estimate: Estimate, digits: str = ".3f") -> str:
    return f"{estimate.value:{digits}} [{estimate.low:{digits}}, {estimate.high:{digits}}]"


def moved(inputs: WindowInputs) -> bool:
    """The inputs or the scores drifted, or nobody knows (drift not judged): then no refusal."""
    share = inputs.drift_share
    return share is None or share >= inputs.drift_threshold or inputs.prediction_drifted is not False


def with_features(joined: pd.DataFrame, predictions: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    """The labelled rows with the feature values they were scored on (from the window's predictions)."""
    present = [f for f in features if f in predictions.columns and f not in joined.columns]
    rows = predictions.loc[:, ["id", *present]].drop_duplicates("id", keep="last")
    return joined.merge(rows, on="id", how="left")


def _expected(scores: pd.Series) -> Estimate | None:
    """The ROC AUC the champion's scores expect of their labels, with its interval (CBPE)."""
    p = np.clip(pd.to_numeric(scores, errors="coerce").dropna().to_numpy(dtype=np.float64), 0.0, 1.0)
    value = estimate_roc_auc(p)
    interval = binary_interval(p, value) if np.isfinite(value) else None
    return None if interval is None else Estimate(value, interval[0], interval[1])


def _learnt(frame: pd.DataFrame, labels: pd.Series, bootstrap: Bootstrap) -> Estimate | None:
    """Out-of-fold ROC AUC of a small gradient-boosted model fit on the window's own rows."""
    if labels.value_counts().min() < FOLDS:
        return None
    model = HistGradientBoostingClassifier(max_iter=50, categorical_features="from_dtype", random_state=0)
    proba = out_of_fold(model, frame, labels.astype(int).to_numpy(), "predict_proba")[:, 1]
    return estimate_metrics(labels, proba, ["roc_auc"], bootstrap)["roc_auc"]


def out_of_fold(model: Any, frame: pd.DataFrame, target: np.ndarray, method: str = "predict") -> np.ndarray:
    """``model``'s out-of-fold ``method`` on the window's own rows (text columns as categories; folds
    stratified for classes): what the window alone teaches, the learnability test of each task's check."""
    x = frame.reset_index(drop=True).apply(
        lambda c: c.astype("category") if not pd.api.types.is_numeric_dtype(c) else c
    )
    kind = StratifiedKFold if is_classifier(model) else KFold
    with openmp_for(len(x)):
        found: np.ndarray = cross_val_predict(
            model, x, target, cv=kind(FOLDS, shuffle=True, random_state=0), method=method
        )
    return found
