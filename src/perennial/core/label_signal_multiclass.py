"""A multiclass window's labels that carry no signal: the broken feed of core/label_signal.py, told by
the same three tests in classes (pure).

With the inputs and the served probabilities unchanged (no drift):

- the champion's accuracy on the window is surely below what its own probabilities expect (CBPE,
  calibrated on its holdout: core/label_free.py);
- it is no better than chance: the accuracy of answering each row's class independently of its label,
  the sum over classes of the share served times the share labelled (its Wilson interval reaches it);
- a model fit on the window's own rows does no better than its own chance either (out of fold).

A new concept is learnable from its labels; noise is not. Classes swapped in the feed (a relabelling)
are learnable, so a champion surely below chance by ``BACKWARDS_MARGIN`` while its probabilities expect
more is refused on the first test alone, as the binary check refuses a flipped polarity.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.ensemble import HistGradientBoostingClassifier

from perennial.core.estimate import Estimate
from perennial.core.label_free import ClassReference
from perennial.core.label_signal import FOLDS, KIND, RULE, WindowInputs, interval_text, moved, out_of_fold
from perennial.core.scoring import stored_probabilities
from perennial.core.target import class_names
from perennial.core.validation_report import RuleResult

# the window's own rows count as learnable only when their out-of-fold accuracy's low end clears their
# chance by this much; the champion is taken as answering backwards when its accuracy's high end lies
# this far below chance
LEARNABLE_MARGIN = 0.02
BACKWARDS_MARGIN = 0.05


def check_multiclass_label_signal(
    joined: pd.DataFrame,
    features: Sequence[str],
    inputs: WindowInputs,
    reference: ClassReference | None,
    target: str,
    blocking: bool = True,
) -> RuleResult | None:
    """A failed ``label_signal`` rule when the window's classes carry no signal its unchanged inputs
    predict (see the module's tests); None when they do, or when it cannot be told.

    ``joined``: the labelled rows, their ``label``, the champion's stored class probabilities
    (``proba__<class>``) and the ``features`` it was scored on. ``reference``: its holdout calibration
    (None: a champion trained before it was recorded). ``blocking``: as in core/label_signal.py."""
    if moved(inputs) or reference is None or not features or not set(features) <= set(joined.columns):
        return None
    labelled = joined.loc[joined["label"].notna()]
    proba, classes = stored_probabilities(labelled)
    labels = class_names(labelled["label"]).to_numpy(dtype=object)
    if len(labels) < 2 or len(set(labels)) < 2 or not classes:
        return None
    served = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
    window, chance = _accuracy(served, labels), _chance(served, labels)
    if window.low > chance:
        return None  # surely above chance (every healthy window ends here): a changed concept at worst
    found = reference.estimates(proba, classes, "accuracy")
    if found is None or "estimated_accuracy_low" not in found:
        return None
    expected = Estimate(found["estimated_accuracy"], found["estimated_accuracy_low"], found["estimated_accuracy_high"])
    if window.high >= expected.low:
        return None  # as its own probabilities expect
    evidence = (
        f"accuracy {interval_text(window)} on {len(labels):,} labelled rows where its own probabilities expect "
        f"{interval_text(expected)} (label-free) and answering regardless of the labels would score {chance:.3f}, "
        f"the inputs did not move (feature drift share {inputs.drift_share:.2f})"
    )
    if window.high < chance - BACKWARDS_MARGIN:  # learnable, but backwards: a relabelled feed
        observed = (
            f"the champion answers the classes backwards: {evidence}: a label feed whose classes were swapped "
            f"(relabelled?); fix '{target}' and monitor the window again"
        )
        return RuleResult(target, RULE, False, observed, kind=KIND, blocking=blocking)
    learnt, learnt_chance = _learnt(labelled.loc[:, list(features)], labels)
    if learnt is None or learnt.low > learnt_chance + LEARNABLE_MARGIN:
        return None  # learnable from the window itself
    observed = (
        f"the champion scores {evidence}, and a model fit on the window's own rows does no better than its "
        f"chance either (out-of-fold accuracy {interval_text(learnt)} against {learnt_chance:.3f}): a broken label "
        f"feed (shuffled, or joined to the wrong rows?); fix '{target}' and monitor the window again"
    )
    return RuleResult(target, RULE, False, observed, kind=KIND, blocking=blocking)


def _accuracy(served: np.ndarray, labels: np.ndarray) -> Estimate:
    """The share of rows answered right, with its 95% Wilson interval."""
    hits = int((served == labels).sum())
    interval = stats.binomtest(hits, len(labels)).proportion_ci(method="wilson")
    return Estimate(hits / len(labels), float(interval.low), float(interval.high))


def _chance(served: np.ndarray, labels: np.ndarray) -> float:
    """The accuracy of these answers were they independent of the labels: sum of served share x labelled share."""
    answered = pd.Series(served).value_counts(normalize=True)
    truth = pd.Series(labels).value_counts(normalize=True)
    return float(sum(share * truth.get(c, 0.0) for c, share in answered.items()))


def _learnt(frame: pd.DataFrame, labels: np.ndarray) -> tuple[Estimate | None, float]:
    """Out-of-fold accuracy of a small gradient-boosted model fit on the window's own rows, and its chance."""
    text = labels.astype(str)
    if pd.Series(text).value_counts().min() < FOLDS:
        return None, 0.0
    model = HistGradientBoostingClassifier(max_iter=50, categorical_features="from_dtype", random_state=0)
    answered = out_of_fold(model, frame, text)
    return _accuracy(answered, text), _chance(answered, text)
