"""Business cost: the decision threshold that minimises expected cost, chosen on validation data.

Cost per row = (false positives x cost of one + false negatives x cost of one - true positives x
value of one) / rows. The threshold is picked on a validation slice that the holdout never sees;
the holdout then reports the cost at that threshold next to the ML metric, and the gate may
bound it. Pure: arrays in, a frozen report out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from perennial.config import CostMatrix
from perennial.core import metrics as m
from perennial.core.gates import Check


def expected_cost(y_true: np.ndarray, proba: np.ndarray, threshold: float, cost: CostMatrix) -> float:
    """Mean cost per row of flagging rows with ``proba >= threshold``."""
    y, p = m.as_arrays(y_true, proba)
    return float(_costs(y, p, np.array([threshold]), cost)[0])


def _costs(y: np.ndarray, p: np.ndarray, thresholds: np.ndarray, cost: CostMatrix) -> np.ndarray:
    """Cost per row at each threshold, in one pass over the sorted scores."""
    if len(y) == 0:
        return np.full(len(thresholds), np.nan)
    order = np.argsort(p, kind="stable")
    scores, labels = p[order], y[order]
    # rows at or above a threshold are flagged: counts from the top
    pos_above = np.concatenate((np.cumsum(labels[::-1])[::-1], [0]))
    first = np.searchsorted(scores, thresholds, side="left")
    flagged = len(y) - first
    tp = pos_above[first]
    fp = flagged - tp
    fn = int(labels.sum()) - tp
    return (fp * cost.false_positive + fn * cost.false_negative - tp * cost.true_positive_value) / len(y)


def choose_threshold(y_true: np.ndarray, proba: np.ndarray, cost: CostMatrix) -> tuple[float, float]:
    """(threshold, cost per row) minimising the expected cost on these (validation) rows.

    Candidates are every distinct score, 0.5, and just above the highest score (flag nothing);
    ties go to the threshold nearest 0.5, the least surprising decision.
    """
    y, p = m.as_arrays(y_true, proba)
    if len(y) == 0:
        raise ValueError("choosing a threshold needs at least one validation row")
    candidates = np.unique(np.concatenate((p, [0.5, np.nextafter(p.max(), np.inf)])))
    costs = _costs(y, p, candidates, cost)
    best = np.flatnonzero(np.isclose(costs, costs.min(), rtol=0, atol=1e-12))
    pick = best[np.argmin(np.abs(candidates[best] - 0.5))]
    return float(candidates[pick]), float(costs[pick])


@dataclass(frozen=True, slots=True)
class CostReport:
    unit: str
    threshold: float  # chosen on validation rows
    validation_rows: int
    validation_cost: float  # per row, at the chosen threshold
    holdout_cost: float  # per row, at the chosen threshold
    holdout_cost_default: float  # per row, at the evaluation threshold
    default_threshold: float
    flag_none_cost: float  # per holdout row: never flag
    flag_all_cost: float  # per holdout row: flag everything
    holdout_rows: int

    def metrics(self) -> dict[str, float]:
        return {
            "decision_threshold": self.threshold,
            "expected_cost": self.holdout_cost,
            "expected_cost_total": self.holdout_cost * self.holdout_rows,
            "expected_cost_default_threshold": self.holdout_cost_default,
            "expected_cost_validation": self.validation_cost,
            "expected_cost_flag_none": self.flag_none_cost,
            "expected_cost_flag_all": self.flag_all_cost,
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_markdown(self, metric: str, value: float) -> str:
        return (
            "\n".join(
                [
                    f"## Business cost ({self.unit} per holdout row)",
                    "",
                    "| decision | threshold | expected cost / row | total | " + metric + " |",
                    "|---|---|---|---|---|",
                    f"| chosen on validation ({self.validation_rows:,} rows) | {self.threshold:.4f} | {self.holdout_cost:.4f} "
                    f"| {self.holdout_cost * self.holdout_rows:,.0f} | {value:.4f} |",
                    f"| evaluation threshold | {self.default_threshold:g} | {self.holdout_cost_default:.4f} "
                    f"| {self.holdout_cost_default * self.holdout_rows:,.0f} | {value:.4f} |",
                    f"| flag nothing | - | {self.flag_none_cost:.4f} | {self.flag_none_cost * self.holdout_rows:,.0f} | |",
                    f"| flag everything | - | {self.flag_all_cost:.4f} | {self.flag_all_cost * self.holdout_rows:,.0f} | |",
                ]
            )
            + "\n"
        )


def cost_report(
    y_val: np.ndarray,
    proba_val: np.ndarray,
    y_holdout: np.ndarray,
    proba_holdout: np.ndarray,
    cost: CostMatrix,
    default_threshold: float,
) -> CostReport:
    """Choose the threshold on validation rows; report its cost (and the alternatives') on the holdout."""
    threshold, validation_cost = choose_threshold(y_val, proba_val, cost)
    y, p = m.as_arrays(y_holdout, proba_holdout)
    at = _costs(y, p, np.array([threshold, default_threshold, np.inf, 0.0]), cost)
    return CostReport(
        cost.unit,
        threshold,
        len(y_val),
        validation_cost,
        float(at[0]),
        float(at[1]),
        default_threshold,
        float(at[2]),
        float(at[3]),
        len(y),
    )


def validation_split(
    frame: pd.DataFrame, time_column: str | None, share: float, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(earlier rows, latest ``share`` of rows) of a training window, by time: validation never precedes fitting.

    Without a time column the validation rows are a seeded random ``share``.
    """
    if time_column is None:
        ordered = frame.sample(frac=1.0, random_state=seed)
    else:
        ordered = frame.sort_values(time_column, kind="stable")
    cut = len(ordered) - max(1, int(round(len(ordered) * share)))
    if cut < 1:
        raise ValueError(f"the training window has {len(frame)} rows: too few to keep a validation share of {share}")
    return ordered.iloc[:cut], ordered.iloc[cut:]


def validation_probabilities(
    fit: Callable[[pd.DataFrame], Any],
    predict: Callable[[Any, pd.DataFrame], np.ndarray],
    train: pd.DataFrame,
    time_column: str | None,
    share: float,
    seed: int = 0,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Fit on the earlier rows, score the latest ones: honest validation scores for a threshold."""
    earlier, later = validation_split(train, time_column, share, seed)
    return later, predict(fit(earlier), later)


def cost_check(report: CostReport, ceiling: float) -> Check:
    """The gate check on expected cost per holdout row at the chosen threshold."""
    passed = bool(np.isfinite(report.holdout_cost) and report.holdout_cost <= ceiling)
    detail = (
        f"{report.holdout_cost:.4g} {'<=' if passed else '>'} {ceiling:.4g} {report.unit}/row "
        f"at threshold {report.threshold:.3f} (chosen on validation)"
    )
    return Check("expected cost", report.holdout_cost, ceiling, passed, detail)
