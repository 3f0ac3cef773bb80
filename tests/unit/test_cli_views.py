"""What `perennial status` shows of the loop's memory."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from perennial.cli.views import episodes_table, window_line
from perennial.core.episode_records import Episode
from perennial.core.monitoring import Performance, WindowResult
from perennial.core.retraining import RetrainDecision
from perennial.io.monitor_store import MonitorStore


def test_status_lists_the_drift_episodes_with_their_retrain_and_ending(tmp_path: Path) -> None:
    # given a closed episode whose retrain was promoted, and an open one of another dataset
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    store = MonitorStore(url)
    store.save_episode(
        Episode(
            "tiny",
            "2013-07",
            "2013-09",
            end="2013-09",
            windows=3,
            retrains=1,
            retrain="2013-08-01",
            closed_by="absorbed by the promoted v3",
        )
    )
    store.record_outcome("tiny", "2013-08-01", "promoted", "3", dt.datetime(2013, 8, 2, tzinfo=dt.UTC))
    store.save_episode(Episode("other", "2013-10", "2013-10"))
    store.close()
    # when the table is printed
    console = Console(width=250, record=True)
    console.print(episodes_table(url, "tiny"))
    text = console.export_text()
    # then it shows the dataset's episode, its retrain and the ending the training run recorded
    row = next(line for line in text.splitlines() if "2013-07" in line)
    for cell in ("2013-09", "drift", "holdout to 2013-08-01", "promoted, v3", "absorbed by the promoted v3"):
        assert cell in row, (cell, row)
    assert "2013-10" not in text


def test_status_tables_piped_into_a_log_are_not_cut_to_80_columns(tmp_path: Path) -> None:
    # given an episode whose cells need about 150 columns
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    store = MonitorStore(url)
    closed_by = "2 of the last 3 windows within policy after the retrain from 2024-09-02"
    store.save_episode(Episode("tiny", "2024-08-26", "2024-09-30", end="2024-09-30", windows=6, closed_by=closed_by))
    store.close()
    script = f"from perennial.cli.views import console, episodes_table; console.print(episodes_table({url!r}, 'tiny'))"
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    # when printed by a process whose stdout is a pipe (a log, CI), with no COLUMNS set
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True).stdout
    # then each cell reads whole, where rich's 80 columns would have cut it
    assert "2024-08-26" in out and "2024-09-30" in out and closed_by in out, out
    narrow = Console(width=80, record=True)
    narrow.print(episodes_table(url, "tiny"))
    assert closed_by not in narrow.export_text()  # the cut the pipe used to get


def _window(rows: int, drift_share: float | None, performance: Performance | None, note: str | None) -> WindowResult:
    decision = RetrainDecision(False, None, None, "not decided")
    return WindowResult("d", "2023-10", rows, True, drift_share, ("age",), None, performance, decision, "1", note)


def test_monitor_says_why_drift_was_not_judged_apart_from_why_performance_was_not_measured() -> None:
    # given a window of 48 rows (under min_drift_rows 200) of which 45 are labelled (under 200 too)
    small = _window(48, None, None, "too few labels (45 < 200)").to_dict()
    # when monitor's line is written / then each clause carries its own reason, not one read as the other's cause
    assert window_line(small, 200) == (
        "window 2023-10: drift not judged: 48 rows < 200 (monitoring.min_drift_rows); too few labels (45 < 200)"
    )
    # and a judged window still reads its drift and its figure
    figure = Performance("roc_auc", 0.81, 0.78, 0.84, 900, 0.83, 0.02)
    judged = _window(1_000, 0.25, figure, None).to_dict()
    assert window_line(judged, 200) == "window 2023-10: feature drift share 0.25 (age); roc_auc 0.8100 [0.7800, 0.8400]"


def test_a_window_named_by_its_first_day_says_the_days_it_spans() -> None:
    # given new rows of October to December written at +02:00: their first UTC day is September 30
    result = {
        "window": "2023-09-30",
        "days": ["2023-09-30", "2023-12-31"],
        "rows": 736,
        "drift_share": 0.0,
        "drifted_columns": [],
        "performance": None,
        "label_note": "no labels",
    }
    # when the monitor's line is written / then it names the days judged, not a lone September date
    assert window_line(result, 200).startswith("window 2023-09-30 (2023-09-30 to 2023-12-31, UTC days): ")
    # and a month, or a single day, is left as its label says
    assert window_line({**result, "window": "2023-10", "days": ["2023-10-01", "2023-10-31"]}, 200).startswith(
        "window 2023-10: "
    )
    assert window_line({**result, "window": "2023-10-01", "days": ["2023-10-01", "2023-10-01"]}, 200).startswith(
        "window 2023-10-01: "
    )
