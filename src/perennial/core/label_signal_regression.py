"""A regression's labels that carry no signal: the same broken feed as core/label_signal.py's, told
by three tests of its own (pure).

Numbers shuffled within a window, or joined to the wrong rows, read as a rise of the error: the policy
asks for a retrain and the rows stay in every later training set. With the inputs and the predictions
unchanged (no drift), three things together tell such a feed from a real change:

- the champion's errors on the window are surely larger than its own inputs and predictions say they
  should be (the label-free estimate, direct loss estimation fitted on its holdout);
- its predictions no longer rank the labels (their rank correlation's interval reaches 0): a level
  that moved, a target that grew, keeps the ranking; noise does not;
- a model fit on the window's own rows finds no signal either (out-of-fold rank correlation whose
  interval reaches ``LEARNABLE_MARGIN``). A changed concept is learnable from the new labels; noise is not.

A weak champion is guarded by the first test: where its inputs say little, its expected error is already
near what noise gives, and real labels are never surely worse than expected. Without the estimate (a
champion trained before it was recorded), the features, or a drift verdict, nothing is refused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.ensemble import HistGradientBoostingRegressor

from perennial.config import Bootstrap
from perennial.core import task_metrics as tm
from perennial.core.estimate import Estimate
from perennial.core.label_free import LossReference
from perennial.core.label_signal import FOLDS, KIND, RULE, WindowInputs, interval_text, moved, out_of_fold
from perennial.core.validation_report import RuleResult

Z = 1.96
# the window's own rows count as learnable only when their out-of-fold rank correlation's low end clears
# this: truly shuffled labels give an interval about 0 (±0.06 on 1,000 rows), a concept worth learning far more
LEARNABLE_MARGIN = 0.05
# a champion whose predictions rank the window's labels at least this well carries signal on any window
# monitoring judges (200 labelled rows or more: the interval there is about ±0.14 at most)
CLEARLY_SIGNAL = 0.3


def check_regression_label_signal(
    joined: pd.DataFrame,
    features: Sequence[str],
    inputs: WindowInputs,
    reference: LossReference | None,
    target: str,
    bootstrap: Bootstrap,
    blocking: bool = True,
) -> RuleResult | None:
    """A failed ``label_signal`` rule when the window's numeric labels carry no signal its unchanged
    inputs predict (see the module's three tests); None when they do, or when it cannot be told.

    ``joined``: the labelled rows, numeric ``label``, the champion's ``prediction`` and the ``features`` it
    was scored on. ``reference``: the champion's loss estimator, fitted on its holdout (None: a champion
    trained before it was recorded). ``blocking``: as in core/label_signal.py.
    """
    labels = pd.to_numeric(joined["label"], errors="coerce")
    predicted = pd.to_numeric(joined["prediction"], errors="coerce")
    usable = labels.notna() & predicted.notna()
    if labels[usable].nunique() < 2 or not features or not set(features) <= set(joined.columns):
        return None
    if moved(inputs) or reference is None or not set(reference.estimator.columns) <= set(joined.columns):
        return None
    rows = joined.loc[usable]
    y, p = labels[usable].to_numpy(dtype=np.float64), predicted[usable].to_numpy(dtype=np.float64)
    # the ranking first: a sort, where the estimate runs two models over the rows
    ranking = rank_signal(pd.Series(p), pd.Series(y))
    if ranking is None or ranking.value >= CLEARLY_SIGNAL or ranking.low > 0:
        return None  # still ranked (every healthy window ends here): or a level that moved, the retrain's to learn
    expected = _expected(reference, rows, p)
    if expected is None or float(np.abs(y - p).mean()) <= expected.high:
        return None  # the errors are what the champion's own inputs predict
    measured = tm.estimate(tm.RegressionRows(y, p), ["mae"], bootstrap)["mae"]
    if measured.low <= expected.high:
        return None
    learnt = _learnt(rows.loc[:, list(features)], pd.Series(y))
    if learnt is None or learnt.low > LEARNABLE_MARGIN:
        return None  # learnable from the window itself: a changed concept
    observed = (
        f"the champion's mae {interval_text(measured, '.4g')} on {len(y):,} labelled rows where its own inputs predict "
        f"{interval_text(expected, '.4g')} (label-free), its predictions no longer rank the labels (rank correlation "
        f"{interval_text(ranking, '.3f')}), the inputs did not move (feature drift share {inputs.drift_share:.2f}), and a "
        f"model fit on the window's own rows finds no signal either (out-of-fold rank correlation "
        f"{interval_text(learnt, '.3f')}): a broken label feed (shuffled, or joined to the wrong rows?); fix '{target}' "
        "and monitor the window again"
    )
    return RuleResult(target, RULE, False, observed, kind=KIND, blocking=blocking)


def _expected(reference: LossReference, rows: pd.DataFrame, predicted: np.ndarray) -> Estimate | None:
    """The MAE the champion's loss estimator expects of these rows, with its interval."""
    found = reference.estimator.estimate(rows.reset_index(drop=True), predicted).metrics()
    low, high = found.get("estimated_mae_low"), found.get("estimated_mae_high")
    if low is None or high is None or not math.isfinite(found["estimated_mae"]):
        return None
    return Estimate(found["estimated_mae"], low, high)


def rank_signal(x: pd.Series, y: pd.Series) -> Estimate | None:
    """Spearman's rank correlation with its Fisher interval (standard error 1.03/sqrt(n-3)); None when
    fewer than 10 rows or a constant side."""
    if len(x) < 10 or x.nunique() < 2 or y.nunique() < 2:
        return None
    rho = float(spearmanr(x, y).statistic)
    if not math.isfinite(rho):
        return None
    centre, spread = math.atanh(max(min(rho, 0.999999), -0.999999)), Z * 1.03 / math.sqrt(len(x) - 3)
    return Estimate(rho, math.tanh(centre - spread), math.tanh(centre + spread))


def _learnt(frame: pd.DataFrame, labels: pd.Series) -> Estimate | None:
    """Out-of-fold rank correlation of a small gradient-boosted model fit on the window's own rows."""
    if len(labels) < 10 * FOLDS:
        return None
    model = HistGradientBoostingRegressor(max_iter=50, categorical_features="from_dtype", random_state=0)
    return rank_signal(pd.Series(out_of_fold(model, frame, labels.to_numpy(dtype=np.float64))), labels)
