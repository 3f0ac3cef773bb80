from __future__ import annotations

import datetime as dt

import pytest

from perennial.core.windows import Window, retrain_start

AUGUST = Window(dt.date(2024, 8, 1), dt.date(2024, 9, 1), "2024-08")


@pytest.mark.parametrize(
    ("retry_from", "champion_from", "start"),
    [
        (None, None, None),  # a first retrain after a champion that learnt from every row: all history
        ("2024-07", None, dt.date(2024, 7, 1)),  # a retry: its episode's first window
        (None, dt.date(2024, 5, 1), dt.date(2024, 5, 1)),  # never before the champion's own cut
        ("2024-07", dt.date(2024, 5, 1), dt.date(2024, 7, 1)),  # the later of the two
        ("2024-04", dt.date(2024, 5, 1), dt.date(2024, 5, 1)),
        ("2024-08", None, None),  # a start that is not before the window teaches nothing: all history
        (None, dt.date(2024, 8, 15), None),
        ("batch-20240801-120000", None, None),  # a scoring batch has no span
    ],
)
def test_a_loop_retrain_learns_from_its_retry_start_and_never_before_the_champion_cut(
    retry_from, champion_from, start
) -> None:
    assert retrain_start(retry_from, champion_from, AUGUST) == start
