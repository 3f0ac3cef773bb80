from __future__ import annotations

import pandas as pd
import pytest

from perennial.core.data import features_of, fingerprint, labels_of, parse_times, split_by_time
from perennial.errors import DataSourceError


def test_split_is_by_time_and_never_overlaps(flights, tiny_config) -> None:
    # given three months of flights / when split at March 1st
    train, holdout = split_by_time(flights, tiny_config)
    # then every training row is earlier than every holdout row
    assert train["time_hour"].max() < pd.Timestamp("2013-03-01", tz="UTC") <= holdout["time_hour"].min()
    assert len(train) + len(holdout) == len(flights)


def test_max_train_rows_keeps_the_most_recent(flights, tiny_config) -> None:
    capped = tiny_config.model_copy(update={"training": tiny_config.training.model_copy(update={"max_train_rows": 100})})
    train, _ = split_by_time(flights, capped)
    assert len(train) == 100
    assert train["time_hour"].min() > pd.Timestamp("2013-02-15", tz="UTC")


def test_an_empty_window_is_an_error_naming_it(flights, tiny_config) -> None:
    early = flights[flights["time_hour"] < pd.Timestamp("2013-03-01", tz="UTC")]
    with pytest.raises(DataSourceError, match="holdout window"):
        split_by_time(early, tiny_config)


def test_fingerprint_changes_with_any_value(flights) -> None:
    changed = flights.copy()
    changed.loc[5, "temp"] += 0.001
    assert fingerprint(flights) == fingerprint(flights.copy())
    assert fingerprint(flights) != fingerprint(changed)


def test_unparseable_times_name_the_column_and_examples() -> None:
    frame = pd.DataFrame({"t": ["2013-01-01 10:00", "yesterday", None]})
    with pytest.raises(DataSourceError, match=r"src.csv: column 't' has 1 values that are not timestamps, e.g. \['yesterday'\]"):
        parse_times(frame, "t", "src.csv")
    assert parse_times(frame.iloc[[0, 2]], "t", "src.csv").dt.tz is not None


def test_features_and_labels_follow_the_config(flights, tiny_config) -> None:
    X = features_of(flights, tiny_config)
    assert list(X.columns) == ["distance", "temp", "carrier", "origin", "time_hour"]
    assert set(labels_of(flights, tiny_config)) == {0, 1}
