"""Which figure a window is judged against: the champion's holdout, or its level on its first live windows."""

from __future__ import annotations

import pytest

from perennial.core.estimate import Estimate
from perennial.core.yardstick import LiveFigure, choose_yardstick

SHOCKED = Estimate(0.544, 0.52, 0.57)  # a champion gated on a shocked month


def _live(*values: float, width: float = 0.01) -> list[LiveFigure]:
    return [LiveFigure(f"2013-{8 + i:02d}", Estimate(v, v - width, v + width)) for i, v in enumerate(values)]


def test_a_holdout_its_first_live_windows_surely_beat_gives_way_to_their_median() -> None:
    # given a champion gated at 0.544 that scored 0.84, 0.85 and 0.83 on its first labelled windows
    chosen = choose_yardstick(SHOCKED, _live(0.84, 0.85, 0.83, 0.60), "roc_auc", tolerance=0.02)
    # then later windows are judged against the median of those three (the fourth, 0.60, has no say)
    assert chosen.name == "live level" and chosen.estimate == Estimate(0.84, 0.83, 0.85)
    assert chosen.why is not None and "2013-08, 2013-09, 2013-10" in chosen.why and "0.5440" in chosen.why


@pytest.mark.parametrize(
    ("live", "why"),
    [
        (_live(0.84), "one window alone"),
        (_live(0.555, 0.56), "better by less than the tolerance"),
        (_live(0.60, 0.61, width=0.06), "intervals still reach the holdout's"),
        (_live(0.50, 0.52), "worse than the holdout: a decay is judged by the holdout"),
        ([], "no live window yet"),
    ],
)
def test_the_holdout_keeps_its_say_unless_the_live_level_is_surely_and_clearly_better(
    live: list[LiveFigure], why: str
) -> None:
    assert choose_yardstick(SHOCKED, live, "roc_auc", tolerance=0.02).estimate == SHOCKED, why


def test_for_a_loss_the_live_level_must_be_surely_lower() -> None:
    # given an MAE holdout of 12 (interval 11-13) and live windows at 8: surely better for a loss
    holdout = Estimate(12.0, 11.0, 13.0)
    better = choose_yardstick(holdout, _live(8.0, 8.2, width=0.5), "mae", tolerance=0.5)
    worse = choose_yardstick(holdout, _live(16.0, 16.2, width=0.5), "mae", tolerance=0.5)
    # then the lower live level is the yardstick, and a higher (worse) one is not
    assert (
        better.estimate == pytest.approx(Estimate(8.1, 7.6, 8.6)) and better.why is not None and "below" in better.why
    )
    assert worse.estimate == holdout


def test_a_holdout_figure_kept_without_its_interval_is_taken_as_exact() -> None:
    nan = float("nan")
    chosen = choose_yardstick(Estimate(0.70, nan, nan), _live(0.80, 0.81), "roc_auc", tolerance=0.02)
    assert chosen.name == "live level"
    assert choose_yardstick(None, _live(0.80, 0.81), "roc_auc", tolerance=0.02).estimate is None
