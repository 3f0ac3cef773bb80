"""Whether a binary window's scores still match its outcomes: the labelled positive rate beside the mean
score (calibration in the large), pure.

AUC ranks and cannot see a prior shift: with positives falling from 53% to 16% of the rows, the ranking
holds, the window reads "within policy", and every score is about three times too high — a threshold or
a cost decided on them is wrong. Said beside the window's performance, never acted on alone: a retrain
to the new rate is a person's call, and the rate moves with seasons too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

# a gap of less than this between the mean score and the rate is not worth a word, however sure
LEAST_GAP = 0.05


@dataclass(frozen=True, slots=True)
class Calibration:
    rate: float  # the labelled rows' positive share
    low: float  # its 95% Wilson interval
    high: float
    mean_score: float  # the champion's mean probability of the positive label on the same rows

    @property
    def off(self) -> bool:
        """The mean score lies outside the rate's interval, and by at least ``LEAST_GAP``."""
        outside = not self.low <= self.mean_score <= self.high
        return outside and abs(self.mean_score - self.rate) >= LEAST_GAP

    def note(self, ranking_held: bool = True) -> str | None:
        """One clause for the window's line when the scores no longer match the rate; None when they do.
        ``ranking_held``: the window's ranking metric shows no sure drop, so only the rate moved (a prior
        shift); otherwise the mismatch is part of a drop already counted, and is not called one."""
        if not self.off:
            return None
        why = "a prior shift the ranking metric cannot see; " if ranking_held else ""
        return (
            f"positives {self.rate:.1%} [{self.low:.1%}, {self.high:.1%}] of the labelled rows, the scores "
            f"average {self.mean_score:.1%}: probabilities no longer match outcomes ({why}thresholds and costs "
            "decided on scores are off)"
        )


def window_calibration(labels: np.ndarray, scores: np.ndarray) -> Calibration | None:
    """The labels' positive rate (0/1 coded) with its interval, and the scores' mean; None without rows."""
    rows = len(labels)
    if rows == 0:
        return None
    positives = int(np.sum(labels))
    interval = stats.binomtest(positives, rows).proportion_ci(method="wilson")
    return Calibration(positives / rows, float(interval.low), float(interval.high), float(np.mean(scores)))
