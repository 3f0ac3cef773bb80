"""Every case of the bad-input corpus on the core path: read, parse times, validate.

The same steps as the training flow's first tasks (``load_data_task`` is called through
``.fn``, outside any flow), so a case that passes here cannot slip through there.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from perennial.config import load_config
from perennial.core.data import split_by_time
from perennial.core.validation import SuiteSpec, ValidationReport, derive_suite, validate_frame
from perennial.errors import PerennialError
from tasks.data import load_data_task
from tests.reliability.corpus import CASES, EXTRA_COLUMN, Case, good_frame


@pytest.fixture(scope="module")
def good() -> pd.DataFrame:
    return good_frame()


@pytest.fixture(scope="module")
def suite(good: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> SuiteSpec:
    """The champion's contract: derived from the good data's training window."""
    config = load_config(EXTRA_COLUMN(tmp_path_factory.mktemp("reference"), good))
    return derive_suite(config, split_by_time(good, config)[0])


def load_and_validate(config_path: Path, suite: SuiteSpec) -> ValidationReport:
    config = load_config(config_path)
    frame, source = load_data_task.fn(config, config_path.parent)
    freshness = config.validation.freshness
    report = validate_frame(
        frame,
        suite,
        source=source,
        as_of=dt.datetime.combine(config.split.holdout_end, dt.time(), tzinfo=dt.UTC),
        freshness_hours=freshness.max_age_hours if freshness else None,
        volume=config.validation.volume,
    )
    return report.raise_if_failed()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_fails_with_a_message_naming_input_column_and_rule(
    case: Case, good: pd.DataFrame, suite: SuiteSpec, tmp_path: Path
) -> None:
    # given one fault written into an otherwise good source or config
    config_path = case.build(tmp_path, good)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    # when it is read and validated as the training flow does
    with pytest.raises(PerennialError) as raised:
        load_and_validate(config_path, suite)
    # then the error is the expected kind and names the input, the column or key, and the rule
    message = str(raised.value)
    assert type(raised.value).__name__ == case.error, message
    assert (case.names or str(tmp_path / "data.")) in message, message
    for needle in case.needles:
        assert needle in message, f"{needle!r} not in: {message}"
    # and only the rule that was broken fails (the fault is the one reported, not noise)
    if case.validation_applies:
        failures = raised.value.report.failures
        assert failures and all(f.column in message or f.column is None for f in failures)
        assert not any("freshness" in f.rule or "volume" in f.rule for f in failures), message
    # and reading left nothing behind
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_a_good_source_passes_so_the_corpus_cases_fail_for_their_fault(
    good: pd.DataFrame, suite: SuiteSpec, tmp_path: Path
) -> None:
    # given the good frame with only an extra column / when it is validated
    report = load_and_validate(EXTRA_COLUMN(tmp_path, good), suite)
    # then it passes; the extra column is noted by name, and the model will not read it
    assert report.passed
    noted = [r for r in report.results if r.rule == "extra columns allowed"]
    assert len(noted) == 1 and "'gate_number'" in noted[0].observed


def test_the_corpus_covers_every_case_the_issue_lists() -> None:
    listed = {
        "missing-column",
        "renamed-column",
        "type-flip",
        "all-null-column",
        "out-of-range",
        "unseen-category",
        "duplicate-ids",
        "missing-labels",
        "future-timestamps",
        "unparseable-timestamps",
        "empty-file",
        "header-only",
        "truncated-csv",
        "corrupt-parquet",
        "wrong-delimiter",
        "non-utf8-bytes",
        "config-unknown-key",
        "config-wrong-type",
        "config-data-path-missing",
        "sql-cannot-connect",
    }
    assert listed <= {c.id for c in CASES}


def test_a_complete_csv_without_a_final_newline_is_not_taken_for_truncated(good: pd.DataFrame, tmp_path: Path) -> None:
    # given a CSV whose last row is whole but has no newline after it (hand-written files often end so)
    from perennial.config import FileSource
    from perennial.io.sources import read_source

    (tmp_path / "f.csv").write_bytes(good.head(50).to_csv(index=False).encode().rstrip(b"\n"))
    # when it is read / then every row is there
    assert len(read_source(FileSource(kind="csv", path="f.csv"), tmp_path)) == 50


def test_timestamps_up_to_now_pass_and_the_future_is_measured_from_now() -> None:
    # given events at 11:30 and "now" at 11:00 (within the hour of tolerated clock skew)
    from perennial.core.data import parse_times
    from perennial.errors import DataSourceError

    frame = pd.DataFrame({"t": ["2030-01-01 11:30", "2030-01-01 09:00"]})
    now = dt.datetime(2030, 1, 1, 11, tzinfo=dt.UTC)
    # when parsed / then they pass; two hours later they would not
    assert parse_times(frame, "t", "x.csv", now=now).notna().all()
    with pytest.raises(DataSourceError, match="x.csv: column 't' has 1 timestamps in the future"):
        parse_times(frame, "t", "x.csv", now=now - dt.timedelta(hours=2))
