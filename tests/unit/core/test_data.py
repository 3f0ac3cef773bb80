from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from perennial.core.data import (
    check_classes_learnable,
    check_finite,
    features_of,
    id_text,
    labelled,
    labels_of,
    parse_times,
    rows_in_window,
    split_by_time,
)
from perennial.errors import DataSourceError
from tests.conftest import make_flights


def test_split_is_by_time_and_never_overlaps(flights, tiny_config) -> None:
    # given three months of flights / when split at March 1st
    train, holdout = split_by_time(flights, tiny_config)
    # then every training row is earlier than every holdout row
    assert train["time_hour"].max() < pd.Timestamp("2013-03-01", tz="UTC") <= holdout["time_hour"].min()
    assert len(train) + len(holdout) == len(flights)


def test_max_train_rows_keeps_the_most_recent(flights, tiny_config) -> None:
    capped = tiny_config.model_copy(
        update={"training": tiny_config.training.model_copy(update={"max_train_rows": 100})}
    )
    train, _ = split_by_time(flights, capped)
    assert len(train) == 100
    assert train["time_hour"].min() > pd.Timestamp("2013-02-15", tz="UTC")


def test_an_empty_window_is_an_error_naming_it(flights, tiny_config) -> None:
    early = flights[flights["time_hour"] < pd.Timestamp("2013-03-01", tz="UTC")]
    with pytest.raises(DataSourceError, match="holdout window"):
        split_by_time(early, tiny_config)


def test_unparseable_times_name_the_column_and_examples() -> None:
    frame = pd.DataFrame({"t": ["2013-01-01 10:00", "yesterday", None]})
    with pytest.raises(
        DataSourceError, match=r"src.csv: column 't' has 1 values that are not timestamps, e.g. \['yesterday'\]"
    ):
        parse_times(frame, "t", "src.csv")
    assert parse_times(frame.iloc[[0, 2]], "t", "src.csv").dt.tz is not None


def test_unix_times_are_read_by_magnitude_and_other_numbers_are_refused_by_name() -> None:
    from perennial.core.contract import utc_times

    # given one instant as Unix seconds, as milliseconds and as text, and numbers that are years or counts
    seconds = pd.DataFrame({"t": [1672567260, None]})
    millis = pd.DataFrame({"t": [1672567260123.0]})
    # when read as the time column / then each is that instant (not nanoseconds after 1970), as validation reads it
    assert parse_times(seconds, "t", "src.csv")[0] == pd.Timestamp("2023-01-01 10:01:00", tz="UTC")
    assert parse_times(millis, "t", "src.csv")[0] == pd.Timestamp("2023-01-01 10:01:00.123", tz="UTC")
    assert utc_times(seconds["t"]).tolist()[0] == parse_times(seconds, "t", "src.csv")[0]
    assert parse_times(seconds.assign(t=[1672567261, None]), "t", "src.csv")[0] != parse_times(seconds, "t", "x")[0]
    # and years or other numbers are refused, naming the column, what it holds and what to do
    with pytest.raises(DataSourceError, match=r"src.csv: time column 'year' holds years \(2022, 2019.*write the times"):
        parse_times(pd.DataFrame({"year": [2022, 2019]}), "year", "src.csv")
    with pytest.raises(DataSourceError, match=r"'n' holds numbers \(3.5, 10...; 3.5 to 10\), neither Unix"):
        parse_times(pd.DataFrame({"n": [3.5, 10]}), "n", "src.csv")


def test_features_and_labels_follow_the_config(flights, tiny_config) -> None:
    X = features_of(flights, tiny_config)
    assert list(X.columns) == ["distance", "temp", "carrier", "origin", "time_hour"]
    assert set(labels_of(flights, tiny_config)) == {0, 1}


def _hash_config(tiny_config, **split):
    raw = tiny_config.model_dump(mode="json")
    raw["split"] = {"kind": "hash", **split}
    raw["data"]["time_column"] = None
    raw["data"]["id_column"] = None
    raw["validation"]["freshness"] = None
    from perennial.config import parse_config

    return parse_config(raw, "hash.yaml")


def test_hash_split_keeps_each_rows_side_when_rows_are_added(flights, tiny_config) -> None:
    # given a hash split and the same rows with more rows appended and shuffled
    config = _hash_config(tiny_config, holdout_share=0.25, seed=3)
    from perennial.core.data import row_keys, split_frame

    train, holdout = split_frame(flights, config)
    grown = pd.concat([flights, make_flights(500, seed=9)]).sample(frac=1.0, random_state=1)
    _, holdout_later = split_frame(grown, config)
    # then no row trained on earlier is held out later, and the share is near the configured one
    assert set(row_keys(holdout, config)) <= set(row_keys(holdout_later, config))
    assert not set(row_keys(train, config)) & set(row_keys(holdout_later, config))
    assert 0.2 < len(holdout) / len(flights) < 0.3
    # and another seed holds out other rows
    _, other = split_frame(flights, _hash_config(tiny_config, holdout_share=0.25, seed=4))
    assert set(row_keys(other, config)) != set(row_keys(holdout, config))


def test_identical_rows_fall_on_one_side_of_the_hash_split(flights, tiny_config) -> None:
    # given a table where 300 rows appear twice (an export run twice), its unique rows as they were
    config = _hash_config(tiny_config, holdout_share=0.3, seed=3)
    from perennial.core.data import row_keys, split_frame

    doubled = pd.concat([flights, flights.head(300)], ignore_index=True)
    # when it is split
    train, holdout = split_frame(doubled, config)
    # then no row of the holdout has a copy in training (the holdout never scores a seen row)
    features = list(config.data.features.columns)
    seen = set(map(tuple, train[features].astype(str).to_numpy()))
    assert not [row for row in map(tuple, holdout[features].astype(str).to_numpy()) if row in seen]
    # and every unique row keeps the side it had before copies existed
    _, before = split_frame(flights, config)
    assert set(row_keys(before, config)) == set(row_keys(holdout, config)) - {
        k for k in row_keys(holdout, config) if not k.endswith("-0")
    }


def test_content_keys_agree_across_dtypes_and_keep_duplicates_apart(tiny_config) -> None:
    from perennial.core.data import content_keys

    # given the same rows read once with ints and once with floats, and a duplicated row
    ints = pd.DataFrame({"a": [1, 1, 2], "b": ["x", "x", "y"]})
    floats = ints.astype({"a": "float64"})
    keys = content_keys(ints, ["a", "b"])
    # then the keys agree, duplicates differ by their count, and a changed value changes the key
    assert keys.tolist() == content_keys(floats, ["b", "a"]).tolist()
    assert keys[0] != keys[1] and keys[0].split("-")[0] == keys[1].split("-")[0]
    assert content_keys(ints.assign(b=["x", "x", "z"]), ["a", "b"])[2] != keys[2]


def test_a_boolean_keys_the_same_however_it_arrives() -> None:
    from perennial.core.data import content_keys

    # given one column of booleans held as numpy bools, pandas' nullable boolean, and objects with a gap
    plain = pd.DataFrame({"vip": [False, True], "x": [1.0, 2.0]})
    nullable = pd.DataFrame({"vip": pd.array([False, True, None], dtype="boolean"), "x": [1.0, 2.0, 3.0]})
    gapped = nullable.astype({"vip": object}).where(nullable.notna(), np.nan)
    # when keyed / then a row's key is the same in each, and its null agrees with a number column's null
    keys = content_keys(plain, ["vip", "x"]).tolist()
    assert content_keys(nullable, ["vip", "x"]).tolist()[:2] == keys == content_keys(gapped, ["vip", "x"]).tolist()[:2]
    assert content_keys(gapped, ["vip", "x"])[2] == content_keys(nullable.astype({"vip": "float64"}), ["vip", "x"])[2]
    # and the text 'False' is another value (a text column keys as text), as is the other boolean
    assert content_keys(plain.astype({"vip": str}), ["vip", "x"]).tolist() != keys
    assert content_keys(plain.assign(vip=[True, True]), ["vip", "x"])[0] != keys[0]


def test_rows_without_a_target_are_counted_and_left_out(tiny_config) -> None:
    # given rows of which two carry no label
    rows = pd.DataFrame({"delayed": [1.0, None, 0.0, None, 1.0], "x": range(5)})
    # when the labelled rows are taken / then three remain, in order, and two are counted
    kept, missing = labelled(rows, tiny_config)
    assert kept["x"].tolist() == [0, 2, 4] and missing == 2
    # and a fully labelled frame is returned as it is
    full = rows.fillna(0.0)
    kept_full, none = labelled(full, tiny_config)
    assert kept_full is full and none == 0


def test_a_window_cut_from_a_part_keeps_its_rows_in_order_with_utc_times() -> None:
    # given rows whose times are text, out of order, around the window's bounds
    part = pd.DataFrame({"t": ["2013-03-02 10:00", "2013-02-28 23:00", "2013-03-01 00:00", "2013-03-15 00:00"]})
    # when the window [Mar 1, Mar 15) is cut from it
    window = rows_in_window(part, "t", dt.date(2013, 3, 1), dt.date(2013, 3, 15), "part")
    # then the rows inside stay in their order, their times parsed to UTC; an open end keeps the last row
    assert window.index.tolist() == [0, 2] and str(window["t"].dt.tz) == "UTC"
    assert rows_in_window(part, "t", dt.date(2013, 3, 1), None, "part").index.tolist() == [0, 2, 3]
    # and an unparseable time is the in-memory path's error
    with pytest.raises(DataSourceError, match="column 't' has 1 values that are not timestamps"):
        rows_in_window(pd.DataFrame({"t": ["2013-03-02", "soon"]}), "t", None, None, "part")


def test_a_class_no_training_row_holds_is_named_before_training(flights, tiny_config) -> None:
    # given a time split where the flights of March are the only 'late' ones (as a table sorted by
    # its label, wine's cultivars, splits by time)
    from tests.conftest import multiclass_config

    config = multiclass_config("status")
    march = flights["time_hour"] >= pd.Timestamp("2013-03-01", tz="UTC")
    frame = flights.assign(status=["early", "on time"] * (len(flights) // 2) + ["early"] * (len(flights) % 2))
    frame.loc[march & (frame.index % 3 == 0), "status"] = "late"
    train, holdout = split_by_time(frame, config)
    # when checked / then the class, its holdout rows and the way out are named
    late = int((holdout["status"] == "late").sum())
    with pytest.raises(
        DataSourceError,
        match=rf"holds classes of 'status' that no training row has: 'late' \({late:,} rows\).*train_end later",
    ):
        check_classes_learnable(train, holdout, config)
    # and with every class on both sides it passes; with one class in training it is named too
    shuffled = frame.sample(frac=1.0, random_state=0)
    check_classes_learnable(shuffled.iloc[: len(frame) // 2], shuffled.iloc[len(frame) // 2 :], config)
    with pytest.raises(DataSourceError, match=r"hold one class of 'status' only \('early'\)"):
        check_classes_learnable(train.assign(status="early"), holdout, config)


def test_infinite_numbers_in_a_feature_are_refused_naming_the_column_and_count() -> None:
    # given a ratio divided by zero twice, and a whole-number column (which cannot hold infinity)
    frame = pd.DataFrame({"ratio": [0.5, float("inf"), 1.0, -float("inf")], "count": [1, 2, 3, 4], "x": 1.0})
    # when checked / then the column and its rows are named, and what to write instead
    with pytest.raises(
        DataSourceError, match=r"the training window: infinite or outsized .* in 'ratio' \(2 rows\).*missing"
    ):
        check_finite(frame, ["ratio", "count", "x"], "the training window")
    # and a sentinel like 1e300, whose square overflows the scaler, is named the same way
    with pytest.raises(DataSourceError, match=r"in 'x' \(1 rows\)"):
        check_finite(frame.assign(ratio=0.5, x=[1.0, 1e300, 2.0, 3.0]), ["ratio", "x"])
    # while finite numbers and missing values pass
    check_finite(frame.replace([float("inf"), -float("inf")], float("nan")), ["ratio", "count", "x"])


def test_whole_number_ids_read_as_floats_key_as_the_service_and_a_gapless_file_write_them() -> None:
    # given ids read as floats because one is missing, and the same ids as integers (a labels file without a gap)
    with_gap = pd.Series([1001.0, None, 12345678901234.0], name="order_id", index=[0, 1, 0])  # concatenated: repeats
    gapless = pd.Series([1001, 7, 12345678901234], name="order_id")
    # when keyed
    keys = id_text(with_gap)
    # then the whole numbers read as the integers do (astype(str) wrote 1001.0: they never met), the gap stays a gap
    assert keys.tolist()[0::2] == id_text(gapless).tolist()[0::2] == ["1001", "12345678901234"]
    assert with_gap.astype(str).tolist()[0] == "1001.0"
    assert keys.tolist()[1] == "nan"
    # and fractional ids keep their own text
    assert id_text(pd.Series([1.5, 2.0])).tolist() == ["1.5", "2.0"]


def test_ids_past_2_to_the_53_read_as_floats_are_refused_with_the_way_to_read_them_as_text() -> None:
    # given 17-digit ids read as floats (one missing): two distinct ids became one float
    ids = pd.Series([12345678901234567.0, 12345678901234568.0, None], name="order_id")
    assert ids[0] == ids[1]
    # when keyed, then refused, naming the column and the config key that reads it as text
    with pytest.raises(DataSourceError, match=r"order_id.*2\*\*53.*text_columns: \[order_id\]"):
        id_text(ids)
