"""simulate's line for a refused window reaches the log: the CLI's filter drops lines naming an expected error."""

from __future__ import annotations

import logging

from flows.simulate import failure_text
from perennial.cli.errors import _OncePerError


def _kept(text: str) -> bool:
    record = logging.LogRecord("prefect.flow_runs", logging.INFO, __file__, 1, text, None, None)
    return _OncePerError().filter(record)


def test_a_refused_windows_line_survives_the_clis_filter_and_still_says_why() -> None:
    # given the message Prefect gives a monitoring run that refused its window
    message = (
        "Flow run encountered an exception: DataValidationFailed: s5.csv: 1 of 34 checks failed: "
        "column 'x2' null share < 100% (not all null)"
    )
    line = f"window: 2024-04-08 | decision: monitoring FAILED: {failure_text(message)} | event: perennial.data.invalid"
    # then the line is kept by the filter that hides Prefect's repeats of the error, and names the rule
    assert _kept(line) and "column 'x2' null share < 100%" in line
    # where the raw message made the whole line vanish from the log
    assert not _kept(f"window: 2024-04-08 | decision: monitoring FAILED: {message}")
    # and a message without Prefect's lead, or none at all, is kept as it is
    assert failure_text("timed out") == "timed out" and failure_text(None) == "flow failed"
