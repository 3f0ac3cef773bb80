"""`perennial check`: a config against its data's header and target, before anything heavy starts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest
import yaml

from perennial.config import FileSource, load_config
from perennial.errors import ConfigError
from perennial.io.preflight import check_config, check_new_rows
from perennial.io.sources import read_source
from tests.conftest import config_dict, make_flights


@pytest.fixture
def table(tmp_path: Path) -> pd.DataFrame:
    frame = make_flights(rows=300, days=30)
    frame.assign(time_hour=frame["time_hour"].astype(str)).to_sql("flights", sqlite3.connect(tmp_path / "f.db"))
    frame.to_parquet(tmp_path / "flights.parquet", index=False)
    return frame


def _config(tmp_path: Path, source: dict, **data: object) -> Path:
    raw = config_dict()
    raw["data"] = {**raw["data"], "source": source, **data}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


SQL = {"kind": "sql", "query": "SELECT * FROM flights;"}


@pytest.mark.parametrize("kind", ["parquet", "sql"])
def test_a_column_the_data_lacks_is_named_with_the_closest_one(kind: str, tmp_path: Path, table: pd.DataFrame) -> None:
    # given a config whose categorical list misspells a column, on a file or on a SQL query
    source = (
        {"kind": "parquet", "path": str(tmp_path / "flights.parquet")}
        if kind == "parquet"
        else {**SQL, "url": f"sqlite:///{tmp_path / 'f.db'}"}
    )
    good = _config(tmp_path, source)
    assert check_config(good, tmp_path)[1] is not None  # the binary target's labels, read from the data
    features = {**config_dict()["data"]["features"], "categorical": ["carrier", "orign"]}
    # when it is checked / then the key, the column and the closest column are named
    with pytest.raises(ConfigError, match=r"data.features.categorical\[1\]: .*orign.*did you mean `origin`"):
        check_config(_config(tmp_path, source, features=features), tmp_path)


def test_a_sql_target_that_is_not_binary_is_refused_before_any_flow(tmp_path: Path, table: pd.DataFrame) -> None:
    # given a SQL source whose target holds three values
    connection = sqlite3.connect(tmp_path / "f.db")
    connection.execute("UPDATE flights SET delayed = 2 WHERE rowid % 7 = 0")
    connection.commit()
    # when checked / then the target's values are named
    with pytest.raises(ConfigError, match="data.target: .*'delayed' must hold exactly two values, found 3"):
        check_config(_config(tmp_path, {**SQL, "url": f"sqlite:///{tmp_path / 'f.db'}"}), tmp_path)


def test_a_multiclass_target_spelt_several_ways_is_refused_before_training(tmp_path: Path, table: pd.DataFrame) -> None:
    # given a multiclass config whose classes were typed by hand: 'late' and 'Late ' are one class
    frame = table.assign(delay_class=["late", "Late ", "early", "on time"] * (len(table) // 4))
    frame.to_parquet(tmp_path / "classes.parquet", index=False)
    path = _config(tmp_path, {"kind": "parquet", "path": str(tmp_path / "classes.parquet")}, target="delay_class")
    raw = yaml.safe_load(path.read_text())
    raw["task"] = "multiclass"
    raw["gate"] = {"min_lift_over_baseline": 0.0}
    raw["training"]["candidates"] = [{"name": "hgb", "family": "hist_gradient_boosting"}]
    path.write_text(yaml.safe_dump(raw))
    # when it is checked / then the file, the key and the two spellings are named
    with pytest.raises(ConfigError, match=r"c.yaml: data.target: .*'late' = 'Late '"):
        check_config(path, tmp_path)
    # and with one spelling per class it passes
    frame.assign(delay_class=frame["delay_class"].str.strip().str.lower()).to_parquet(tmp_path / "classes.parquet")
    assert check_config(path, tmp_path)[0].task == "multiclass"


def test_a_multiclass_target_of_one_row_per_class_is_refused_before_training(
    tmp_path: Path, table: pd.DataFrame
) -> None:
    # given a hand-written multiclass config whose target is an amount written as text: a class per row
    frame = table.assign(fare=[f"${100 + i * 1.5:,.2f}" for i in range(len(table))])
    frame.to_parquet(tmp_path / "fares.parquet", index=False)
    path = _config(tmp_path, {"kind": "parquet", "path": str(tmp_path / "fares.parquet")}, target="fare")
    raw = yaml.safe_load(path.read_text())
    raw["task"] = "multiclass"
    raw["gate"] = {"min_lift_over_baseline": 0.0}
    raw["training"]["candidates"] = [{"name": "hgb", "family": "hist_gradient_boosting"}]
    path.write_text(yaml.safe_dump(raw))
    # when it is checked / then the file, the key, the class counts and what to do are named
    with pytest.raises(ConfigError, match=r"c.yaml: data.target: .*'fare' holds 300 classes, 300 of them on 2 rows"):
        check_config(path, tmp_path)


def test_new_rows_to_score_need_every_feature_but_not_the_target(tmp_path: Path, table: pd.DataFrame) -> None:
    # given a config on a Parquet file, and new rows as a gzipped semicolon CSV: one without labels,
    # one that lost a feature too
    config = load_config(_config(tmp_path, {"kind": "parquet", "path": str(tmp_path / "flights.parquet")}))
    unlabelled, short = tmp_path / "new.csv.gz", tmp_path / "short.csv"
    table.drop(columns=["delayed"]).to_csv(unlabelled, index=False, sep=";")
    table.drop(columns=["delayed", "carrier"]).to_csv(short, index=False)
    # when each is checked for scoring
    scoring = check_new_rows(config, unlabelled)
    # then the unlabelled file is read as what it is, and scoring reads it instead of the config's source
    source = scoring.data.source
    assert isinstance(source, FileSource) and (source.kind, source.delimiter, source.path) == (
        "csv",
        ";",
        str(unlabelled),
    )
    assert read_source(source, None)[["flight_id", "carrier"]].equals(table[["flight_id", "carrier"]])
    # and the file without carrier is refused naming the key and the column, before anything starts
    with pytest.raises(ConfigError, match=r"--data .*short.csv: data.features.categorical\[0\]: column `carrier`"):
        check_new_rows(config, short)


def test_new_rows_labels_are_checked_before_anything_starts(tmp_path: Path, table: pd.DataFrame) -> None:
    # given a config whose positive label is "late", and new rows labelled three ways, or "Late " for "late"
    raw = config_dict()
    raw["data"] = {**raw["data"], "source": {"kind": "parquet", "path": str(tmp_path / "flights.parquet")}}
    raw["data"]["target"] = {"column": "delayed", "positive_label": "late"}
    path = tmp_path / "words.yaml"
    path.write_text(yaml.safe_dump(raw))
    config = load_config(path)
    words = table.assign(delayed=table["delayed"].map({1: "late", 0: "on time"}))
    three, cased, fine = tmp_path / "three.csv", tmp_path / "cased.csv", tmp_path / "fine.csv"
    words.assign(delayed=["late", "on time", "cancelled"] * 100).to_csv(three, index=False)
    words.assign(delayed=words["delayed"].replace({"late": "Late "})).to_csv(cased, index=False)
    words.to_csv(fine, index=False)
    # when each is checked / then the third value and the other spelling are named; the right labels pass
    with pytest.raises(
        ConfigError, match=r"three.csv: target 'delayed' holds 3 values \('late', 'on time', 'cancelled'\)"
    ):
        check_new_rows(config, three)
    with pytest.raises(ConfigError, match=r"writes the positive label 'late' as 'Late ' \(case or spaces\)"):
        check_new_rows(config, cased)
    assert check_new_rows(config, fine).data.target.positive_label == "late"


def test_a_label_feed_already_there_is_checked_with_the_config_and_one_not_written_yet_is_not(
    tmp_path: Path, table: pd.DataFrame
) -> None:
    # given a config whose delayed labels come from a CSV of ids and labels
    raw = config_dict()
    raw["data"]["source"] = {"kind": "parquet", "path": str(tmp_path / "flights.parquet")}
    raw["monitoring"] = {"labels": {"kind": "csv", "path": str(tmp_path / "labels.csv")}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw))
    # when the file is not written yet / then the config is valid: labels arrive later
    assert check_config(path, tmp_path)[1] is not None
    # when it holds the two labels / then it is valid too
    labels = table[["flight_id", "delayed"]]
    labels.to_csv(tmp_path / "labels.csv", index=False)
    assert check_config(path, tmp_path)[1] is not None
    # when it spells a label anew (as adult.test writes ' >50K.') / then check names the key, the file and the value
    labels.assign(delayed=labels["delayed"].map({0: "0", 1: "1 (late)"})).to_csv(tmp_path / "labels.csv", index=False)
    with pytest.raises(ConfigError, match=r"monitoring.labels: .*labels.csv.*'1 \(late\)'"):
        check_config(path, tmp_path)
    # and a feed without the id column is named as such
    labels.drop(columns="flight_id").to_csv(tmp_path / "labels.csv", index=False)
    with pytest.raises(ConfigError, match=r"monitoring.labels: .*labels need columns \['flight_id'\]"):
        check_config(path, tmp_path)


@pytest.mark.parametrize("kind", ["parquet", "sql"])
def test_an_id_column_that_names_rows_twice_is_refused_by_check(kind: str, tmp_path: Path, table: pd.DataFrame) -> None:
    # given the table with an id column in which rows 0-2 and 3-5 share two values, as a file and as a SQL table
    ids = [100, 100, 100, 101, 101, *range(102, 102 + len(table) - 5)]
    table.assign(txn_id=ids).to_parquet(tmp_path / "flights.parquet", index=False)
    table.assign(txn_id=ids, time_hour=table["time_hour"].astype(str)).to_sql(
        "flights", sqlite3.connect(tmp_path / "f.db"), if_exists="replace"
    )
    source = (
        {"kind": "parquet", "path": str(tmp_path / "flights.parquet")}
        if kind == "parquet"
        else {**SQL, "url": f"sqlite:///{tmp_path / 'f.db'}"}
    )
    # when checked with it as data.id_column (`check` said valid; only train refused it, after the read)
    # then the column, the rows, the values they share and examples are named
    with pytest.raises(
        ConfigError, match=r"data.id_column: column 'txn_id' is not unique: 5 rows share 2 values \(e.g. 100, 101\)"
    ):
        check_config(_config(tmp_path, source, id_column="txn_id"), tmp_path)
    # and a unique id passes
    table.assign(txn_id=range(len(table))).to_parquet(tmp_path / "flights.parquet", index=False)
    if kind == "parquet":
        assert check_config(_config(tmp_path, source, id_column="txn_id"), tmp_path)[1] is not None


def test_new_rows_are_read_with_their_own_thousands_mark_and_date_order(tmp_path: Path) -> None:
    # given a config on a European export (';', decimal comma, 39.915,77, dates written 31/01/2013)
    table = make_flights(rows=300, days=30).assign(distance=lambda f: f["distance"].round(2) * 20)
    european = table.assign(
        distance=table["distance"].map(lambda v: f"{v:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")),
        time_hour=table["time_hour"].dt.strftime("%d/%m/%Y %H:%M"),
    )
    european.to_csv(tmp_path / "eu.csv", sep=";", index=False)
    source = {"kind": "csv", "path": str(tmp_path / "eu.csv"), "delimiter": ";", "decimal": ","}
    config = load_config(_config(tmp_path, {**source, "thousands": ".", "dayfirst_columns": ["time_hour"]}))
    expected = table[["distance", "time_hour"]].assign(time_hour=table["time_hour"].dt.tz_localize(None))
    # when new rows come as the same export, and as a plain one (39915.77, ISO dates)
    plain = tmp_path / "plain.csv"
    table.assign(time_hour=table["time_hour"].dt.strftime("%Y-%m-%d %H:%M")).to_csv(plain, index=False)
    for path in (tmp_path / "eu.csv", plain):
        read = read_source(check_new_rows(config, path).data.source, None)[["distance", "time_hour"]]
        # then each is read as what it writes: the same numbers and the same times
        # (the plain file read with the config's marks gave 3991577 for 39915.77 and swapped day and month)
        assert read["distance"].to_numpy() == pytest.approx(expected["distance"].to_numpy())
        assert pd.to_datetime(read["time_hour"]).equals(expected["time_hour"]), path.name
