"""The prediction store on real files and a real SQLite: replace, append, read, concurrent writers."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy

from perennial.config import parse_config
from perennial.io.prediction_store import (
    ParquetPredictionStore,
    PredictionStore,
    SqlPredictionStore,
    open_store,
)
from tests.conftest import config_dict

DAY = dt.date(2013, 7, 1)


def rows(ids: list[str], day: dt.date = DAY, version: str = "1", hour: int = 9) -> pd.DataFrame:
    """Prediction rows as the scorers write them: identity, score, label and two raw features."""
    n = len(ids)
    return pd.DataFrame(
        {
            "id": ids,
            "event_time": pd.Timestamp(day, tz="UTC") + pd.Timedelta(hours=hour),
            "scored_at": pd.Timestamp("2013-07-02", tz="UTC"),
            "model_name": "m",
            "model_version": version,
            "prediction": [0.1 * (i % 10) for i in range(n)],
            "predicted_label": [int(i % 10 >= 5) for i in range(n)],
            "carrier": ["AA"] * n,
            "temp": [float(i) for i in range(n)],
        }
    )


@pytest.fixture(params=["parquet", "sql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> PredictionStore:
    if request.param == "parquet":
        return ParquetPredictionStore(tmp_path / "predictions")
    return SqlPredictionStore(f"sqlite:///{tmp_path / 'predictions.db'}")


def test_replacing_a_partition_never_duplicates_and_keeps_other_sources(store: PredictionStore) -> None:
    # given a day scored by batch (twice: a re-run) and logged by the service
    store.write_partition("batch", DAY, rows(["a", "b", "c"], version="1"))
    store.append("service", rows(["s1", "s2"], version="1"))
    store.write_partition("batch", DAY, rows(["a", "b"], version="2"))
    # when it is read back
    batch, service = store.read("batch"), store.read("service")
    # then the batch partition holds only the re-run, and the service rows are untouched
    assert sorted(batch["id"]) == ["a", "b"] and set(batch["model_version"]) == {"2"}
    assert sorted(service["id"]) == ["s1", "s2"] and set(service["source"]) == {"service"}
    assert len(store.read()) == 4


def test_rows_come_back_with_the_row_schema_in_utc(store: PredictionStore) -> None:
    store.write_partition("batch", DAY, rows(["a", "b"]))
    frame = store.read("batch")
    assert list(frame.columns[:8]) == [
        "id",
        "event_time",
        "scored_at",
        "model_name",
        "model_version",
        "prediction",
        "predicted_label",
        "source",
    ]
    assert str(frame["event_time"].dt.tz) == "UTC" and frame["event_time"].iloc[0].hour == 9
    assert set(frame.columns[8:]) == {"carrier", "temp"}
    assert frame["prediction"].tolist() == [0.0, 0.1]


def test_appends_accumulate_and_split_by_event_day(store: PredictionStore) -> None:
    # given two appends, the second spanning two days
    store.append("service", rows(["a"]))
    two_days = pd.concat([rows(["b"]), rows(["c"], day=DAY + dt.timedelta(days=1))], ignore_index=True)
    assert store.append("service", two_days) == 2
    # then reads filter by day (start inclusive, end exclusive)
    assert sorted(store.read("service")["id"]) == ["a", "b", "c"]
    assert sorted(store.read("service", start=DAY, end=DAY + dt.timedelta(days=1))["id"]) == ["a", "b"]
    assert store.read("service", start=DAY + dt.timedelta(days=1))["id"].tolist() == ["c"]
    assert store.read("shadow").empty


def test_bad_rows_are_refused_with_the_reason(store: PredictionStore) -> None:
    with pytest.raises(ValueError, match="other days"):
        store.write_partition("batch", DAY + dt.timedelta(days=3), rows(["a"]))
    with pytest.raises(ValueError, match="lack the columns"):
        store.append("service", rows(["a"]).drop(columns=["prediction"]))
    with pytest.raises(ValueError, match="source must be one of"):
        store.append("somewhere", rows(["a"]))


def test_parquet_layout_is_a_plain_hive_dataset_with_nothing_half_written(tmp_path: Path) -> None:
    root = tmp_path / "p"
    store = ParquetPredictionStore(root)
    store.write_partition("batch", DAY, rows(["a"]))
    store.write_partition("batch", DAY, rows(["a", "b"]))
    store.append("service", rows(["s"]))
    # then one file per write in its partition, and nothing hidden left but the lock files
    parts = sorted(str(p.parent.relative_to(root)) for p in root.rglob("part-*.parquet"))
    assert parts == ["source=batch/date=2013-07-01", "source=service/date=2013-07-01"]
    assert [p.name for p in root.rglob(".*") if not p.name.endswith(".lock")] == []
    # and pandas reads the whole folder as one dataset (source and date from the path)
    whole = pd.read_parquet(tmp_path / "p")
    assert sorted(whole["id"]) == ["a", "b", "s"] and set(whole["source"].astype(str)) == {"batch", "service"}


def test_concurrent_writers_of_one_partition_end_with_one_consistent_partition(tmp_path: Path) -> None:
    # given four writers, each replacing the same partition with its own rows, and a reader
    store = ParquetPredictionStore(tmp_path / "p")
    store.write_partition("batch", DAY, rows([f"w0-{i}" for i in range(50)], version="0"))
    seen, errors, stop = [], [], threading.Event()

    def write(writer: int) -> None:
        for _ in range(8):
            store.write_partition("batch", DAY, rows([f"w{writer}-{i}" for i in range(50)], version=str(writer)))

    def read() -> None:
        while not stop.is_set():
            try:
                seen.append(ParquetPredictionStore(tmp_path / "p").read("batch"))
            except Exception as exc:  # a reader must never fail mid-swap
                errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=write, args=(w,)) for w in range(1, 5)]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    reader.join()
    # then every read saw exactly one writer's complete partition, and so does the end state
    assert errors == []
    for frame in [*seen, store.read("batch")]:
        assert len(frame) == 50 and frame["id"].is_unique and frame["model_version"].nunique() == 1
    assert not [p for p in (tmp_path / "p" / "source=batch").iterdir() if ".tmp-" in p.name or ".old-" in p.name]


def test_open_store_follows_the_config(tmp_path: Path) -> None:
    raw = config_dict()
    parquet = open_store(parse_config({**raw, "predictions": {"kind": "parquet", "path": "preds"}}), tmp_path)
    assert isinstance(parquet, ParquetPredictionStore) and parquet.path == tmp_path / "preds"
    url = f"sqlite:///{tmp_path / 'p.db'}"
    sql = open_store(parse_config({**raw, "predictions": {"kind": "sql", "url": url, "table": "preds"}}), tmp_path)
    sql.append("service", rows(["a"]))
    assert isinstance(sql, SqlPredictionStore) and sql.read()["id"].tolist() == ["a"]


def test_the_default_store_lives_in_the_state_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # given a config without a `predictions` section (its default path reads the environment)
    config = parse_config(config_dict())
    # when the state folder is set, and then when it is not
    monkeypatch.setenv("PERENNIAL_STATE_DIR", str(tmp_path / "state"))
    in_state = open_store(config, tmp_path)
    monkeypatch.delenv("PERENNIAL_STATE_DIR")
    fallback = open_store(config, tmp_path)
    # then the path is expanded, never taken literally, and the folder is the model's own
    assert in_state.path == tmp_path / "state" / "predictions" / "tiny-delay"
    assert fallback.path == tmp_path / ".perennial" / "predictions" / "tiny-delay"


def test_two_models_never_share_a_default_store(tmp_path: Path) -> None:
    # given two models' configs without a `predictions` section, one scoring the same day as the other
    first = parse_config(config_dict())
    raw = config_dict()
    second = parse_config({**raw, "tracking": {**raw["tracking"], "registered_model": "other.model"}})
    open_store(first, tmp_path).write_partition("batch", dt.date(2013, 3, 2), rows(["a"], day=dt.date(2013, 3, 2)))
    # when the second model re-scores that day
    open_store(second, tmp_path).write_partition("batch", dt.date(2013, 3, 2), rows(["b"], day=dt.date(2013, 3, 2)))
    # then the first model's rows are still there: each has its own folder (SQL: its own table)
    assert open_store(first, tmp_path).read("batch")["id"].tolist() == ["a"]
    assert open_store(second, tmp_path).read("batch")["id"].tolist() == ["b"]
    # and in one SQL database, each model writes its own table
    sql = parse_config({**raw, "predictions": {"kind": "sql", "url": f"sqlite:///{tmp_path / 'p.db'}"}}).predictions
    first_sql, second_sql = (open_store(c.model_copy(update={"predictions": sql}), tmp_path) for c in (first, second))
    first_sql.write_partition("batch", dt.date(2013, 3, 2), rows(["a"], day=dt.date(2013, 3, 2)))
    second_sql.write_partition("batch", dt.date(2013, 3, 2), rows(["b"], day=dt.date(2013, 3, 2)))
    assert first_sql.read("batch")["id"].tolist() == ["a"] and second_sql.read("batch")["id"].tolist() == ["b"]


def test_sql_store_adds_a_new_feature_column(tmp_path: Path) -> None:
    store = SqlPredictionStore(f"sqlite:///{tmp_path / 'p.db'}")
    store.append("service", rows(["a"]))
    store.append("service", rows(["b"]).assign(dest="BOS"))
    frame = store.read("service")
    assert frame.set_index("id")["dest"].to_dict() == {"a": None, "b": "BOS"}


def test_compaction_merges_many_small_appends_into_one_file(tmp_path: Path) -> None:
    # given a partition that got a file per flush
    store = ParquetPredictionStore(tmp_path / "p")
    for i in range(5):
        store.append("service", rows([f"s{i}"]))
    partition = tmp_path / "p" / "source=service" / "date=2013-07-01"
    # when compaction is asked below and then at its threshold
    assert store.compact("service", DAY, min_files=6) == 0
    merged = store.compact("service", DAY, min_files=5)
    # then the rows are all there, once, in one file
    assert merged == 5 and len(list(partition.glob("part-*.parquet"))) == 1
    assert sorted(store.read("service")["id"]) == [f"s{i}" for i in range(5)]
    assert SqlPredictionStore(f"sqlite:///{tmp_path / 'p.db'}").compact("service", DAY) == 0


def test_replacing_days_splits_rows_by_utc_event_date_and_keeps_other_days(store: PredictionStore) -> None:
    # given three scored days, one partition of which a re-run will not touch
    day2, day3 = DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2)
    first = pd.concat([rows(["a", "b"]), rows(["c"], day=day2), rows(["d"], day=day3)], ignore_index=True)
    assert store.replace_days("batch", first) == [DAY, day2, day3]
    # when a re-run scores the first two days again, with stamps in New York time (23:30 there is the next UTC day)
    late = rows(["e"], day=DAY, version="2", hour=3).assign(
        event_time=pd.Timestamp("2013-07-01 23:30", tz="America/New_York")
    )
    written = store.replace_days("batch", pd.concat([rows(["a"], version="2"), late], ignore_index=True))
    # then each row lands in its UTC date's partition, the re-run days are replaced whole, the third kept
    assert written == [DAY, day2]
    batch = store.read("batch").sort_values("id")
    assert batch["id"].tolist() == ["a", "d", "e"]
    assert batch["model_version"].tolist() == ["2", "1", "2"]
    assert [t.date() for t in batch["event_time"]] == [DAY, day3, day2]
    assert store.read("batch", start=day2, end=day3)["id"].tolist() == ["e"]


def test_writing_rows_leaves_the_callers_frame_as_it_was(store: PredictionStore) -> None:
    # given scored rows as a flow holds them: whole-number ids, local times, an index that is not 0..n
    day2 = DAY + dt.timedelta(days=1)
    frame = pd.concat([rows(["a", "b"]), rows(["c"], day=day2)], ignore_index=True)
    frame = frame.assign(id=[7, 8, 9], event_time=frame["event_time"].dt.tz_convert("America/New_York"))
    frame.index = pd.Index([30, 10, 20])
    before = frame.copy()
    # when the store keeps them
    store.replace_days("batch", frame)
    # then what it stored is text and UTC, and the frame the caller still holds is unchanged
    stored = store.read("batch").sort_values("id")
    assert stored["id"].tolist() == ["7", "8", "9"]
    assert str(stored["event_time"].dt.tz) == "UTC"
    pd.testing.assert_frame_equal(frame, before)
    assert frame["id"].tolist() == [7, 8, 9] and frame.index.tolist() == [30, 10, 20]


def test_sql_names_from_config_and_data_are_quoted_not_pasted(tmp_path: Path) -> None:
    # given a table name from config and a new feature whose names hold quotes and SQL
    table, feature = 'preds "2013"', 'dew"point; DROP TABLE x; --'
    store = SqlPredictionStore(f"sqlite:///{tmp_path / 'p.db'}", table)
    store.replace_days("batch", rows(["a"]))
    # when the next rows carry the new feature, then it is added under exactly that name
    store.replace_days("batch", rows(["b"], DAY + dt.timedelta(days=1)).assign(**{feature: 7.5}))
    got = store.read("batch").set_index("id")
    assert got.loc["b", feature] == 7.5 and pd.isna(got.loc["a", feature])
    with sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'p.db'}").connect() as conn:
        assert sqlalchemy.inspect(conn).get_table_names() == [table]


def test_staged_parts_replace_each_of_their_days_whole_and_only_those(tmp_path: Path) -> None:
    # given a store holding two days of a first run
    store = ParquetPredictionStore(tmp_path / "predictions")
    store.replace_days("batch", pd.concat([rows(["a", "b"]), rows(["c"], DAY + dt.timedelta(days=1))]))
    # when a re-run stages its rows a part at a time (the second day's rows in two parts) and installs them
    staging = store.stage("batch")
    written = [
        staging.write(rows(["a", "b"], version="2")),
        staging.write(rows(["c", "d"], DAY + dt.timedelta(days=1), version="2").iloc[:1]),
        staging.write(rows(["c", "d"], DAY + dt.timedelta(days=1), version="2").iloc[1:]),
        staging.write(rows([]).iloc[:0]),  # an empty partition stages nothing
    ]
    days = store.install("batch", staging)
    # then each staged day holds exactly the re-run's rows, nothing of the first run, and the staging is gone
    assert written == [2, 1, 1, 0] and days == [DAY, DAY + dt.timedelta(days=1)]
    after = store.read("batch").sort_values("id")
    assert after["id"].tolist() == ["a", "b", "c", "d"] and set(after["model_version"]) == {"2"}
    assert not staging.folder.exists()
    # when a third run stages only the first day, then is discarded without installing
    third = store.stage("batch")
    third.write(rows(["x"], version="3"))
    third.discard()
    fourth = store.stage("batch")
    fourth.write(rows(["y"], version="4"))
    store.install("batch", fourth)
    # then the discarded rows never show; the installed day changed and the other day is as it was
    final = store.read("batch").sort_values("id")
    assert final["id"].tolist() == ["c", "d", "y"]
    assert final.set_index("id")["model_version"].to_dict() == {"c": "2", "d": "2", "y": "4"}
