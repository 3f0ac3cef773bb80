"""What a window's labelled figure is judged against: the champion's holdout figure, or its own level on
its first live windows when that holdout surely understated it (pure).

A champion promoted on a shocked month is gated on that month: its holdout figure (AUC 0.54, say) is
the shock's, not the model's. Once the shock passes it scores 0.84 on live windows, and a later real fall
to 0.72 would read "within policy" against 0.54 for ever. Its first labelled windows set its level
instead, but only when they are surely better than its holdout and by more than the tolerance: a holdout
that was merely a little unlucky keeps its say, and a champion that decays from its first windows on is
still judged by its holdout.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from perennial.core.estimate import Estimate
from perennial.core.task import higher_is_better

ESTABLISHING_WINDOWS = 3  # a champion's first labelled windows that set its live level
LEAST_WINDOWS = 2  # one window alone is too easily a lucky one


@dataclass(frozen=True, slots=True)
class ChampionFigure:
    """The judging champion's primary metric on a window's labelled rows, as the monitor store keeps it."""

    champion: str
    metric: str
    estimate: Estimate


@dataclass(frozen=True, slots=True)
class LiveFigure:
    """The champion's primary metric on one earlier labelled window, with its interval."""

    window: str
    estimate: Estimate


@dataclass(frozen=True, slots=True)
class Yardstick:
    estimate: Estimate | None  # None: the champion's training run kept no figure
    name: str = "holdout"  # how the performance line names it: "champion's holdout 0.8412"
    why: str | None = None  # why it is not the holdout figure


def choose_yardstick(holdout: Estimate | None, live: Sequence[LiveFigure], metric: str, tolerance: float) -> Yardstick:
    """The champion's holdout figure, or the median of its first ``ESTABLISHING_WINDOWS`` labelled windows
    (``live``, oldest first) when there are at least ``LEAST_WINDOWS`` and their median is better than the
    holdout figure by more than ``tolerance`` with its interval clear of the holdout's."""
    first = list(live[:ESTABLISHING_WINDOWS])
    if holdout is None or math.isnan(holdout.value) or len(first) < LEAST_WINDOWS:
        return Yardstick(holdout)
    level = Estimate(*(statistics.median(f.estimate[i] for f in first) for i in range(3)))
    higher = higher_is_better(metric)
    gain = level.value - holdout.value if higher else holdout.value - level.value
    end = holdout.high if higher else holdout.low  # an older run kept no interval: its figure, as exact
    end = holdout.value if math.isnan(end) else end
    clear = level.low > end if higher else level.high < end
    if gain <= tolerance or not clear:
        return Yardstick(holdout)
    windows = ", ".join(f.window for f in first)
    why = (
        f"the median of its first labelled windows ({windows}) is {level.value:.4f}, surely "
        f"{'above' if higher else 'below'} its holdout {metric} {holdout.value:.4f} by more than {tolerance}"
    )
    return Yardstick(level, "live level", why)
