"""Bring your own data: scikit-learn's bundled breast cancer table, as users ship it, through
`perennial init`, the training flow, batch scoring and one served request (no network)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from flows.batch_scoring import batch_scoring_flow
from flows.monitoring import monitoring_flow
from flows.training import training_flow
from perennial.cli import app
from perennial.config import load_config
from perennial.core.windows import BATCH_HAS_NO_DATES
from perennial.io.prediction_store import open_store
from perennial.io.registry import Registry
from perennial.io.starter import starter_config
from perennial.serving.app import create_app
from perennial.settings import load_settings


def cancer() -> pd.DataFrame:
    """569 rows, ten measurements, the diagnosis as text (sklearn codes malignant as 0), no time, no id."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.iloc[:, :10].rename(columns=lambda c: c.replace(" ", "_"))
    return frame.assign(diagnosis=bunch.frame["target"].map({0: "M", 1: "B"}))


def _csv(path: Path) -> tuple[Path, str]:
    cancer().to_csv(path.with_suffix(".csv"), index=False)
    return path.with_suffix(".csv"), "M"


def _compressed(suffix: str) -> Callable[[Path], tuple[Path, str]]:
    def write(path: Path) -> tuple[Path, str]:
        target = path.with_suffix(f".csv{suffix}")
        cancer().to_csv(target, index=False)
        return target, "M"

    return write


def _partitioned(path: Path) -> tuple[Path, str]:
    frame = cancer()
    frame["site"] = np.where(np.arange(len(frame)) % 3 == 0, "north", "south")
    frame.to_parquet(path, partition_cols=["site"], index=False)
    return path, "M"


def _odd_columns(path: Path) -> tuple[Path, str]:
    """Booleans (a feature and the target), an all-null column and a constant one."""
    frame = cancer()
    frame = frame.assign(
        large=frame["mean_radius"] > 14, empty=np.nan, clinic="one", malignant=frame.pop("diagnosis") == "M"
    )
    frame.to_csv(path.with_suffix(".csv"), index=False)
    return path.with_suffix(".csv"), None  # True/False: the positive label is inferred


def _semicolon_latin1(path: Path) -> tuple[Path, str]:
    frame = cancer()
    frame["diagnosis"] = frame["diagnosis"].map({"M": "malin", "B": "bénin"})
    frame.to_csv(path.with_suffix(".csv"), index=False, sep=";", encoding="latin-1", decimal=".")
    return path.with_suffix(".csv"), "malin"


CASES = {
    "csv-text-labels": (_csv, "diagnosis"),
    "gzip": (_compressed(".gz"), "diagnosis"),
    "zip": (_compressed(".zip"), "diagnosis"),
    "partitioned-parquet": (_partitioned, "diagnosis"),
    "booleans-null-constant": (_odd_columns, "malignant"),
    "semicolon-latin1": (_semicolon_latin1, "diagnosis"),
}


def _fast(text: str, store: Path, keep: str = "logistic") -> dict:
    """The starter config as written, with one small candidate and few resamples (a test budget)."""
    raw = yaml.safe_load(text)
    raw["training"]["candidates"] = [c for c in raw["training"]["candidates"] if c["name"] == keep]
    assert raw["training"]["candidates"], f"the starter has no candidate '{keep}'"
    raw["evaluation"]["bootstrap"]["resamples"] = 50
    raw["predictions"] = {"kind": "parquet", "path": str(store)}
    return raw


@pytest.mark.parametrize("case", list(CASES))
def test_init_train_score_and_serve_a_table_as_users_bring_it(case: str, tmp_path: Path, state: Path) -> None:
    # given the table written as users ship it
    write, target = CASES[case]
    data, positive = write(tmp_path / "cancer")
    # when `perennial init` profiles it (as the CLI does) and the starter config is trained as written
    text = starter_config(data, target, positive)
    config_path = tmp_path / "cancer.yaml"
    config_path.write_text(yaml.safe_dump(_fast(text, tmp_path / "predictions")))
    outcome = training_flow(config_path=str(config_path))
    # then a gated champion is registered with its labels
    config = load_config(config_path)
    assert outcome.promoted and Registry(config.tracking.registered_model).alias_version("champion") == "1"
    assert config.data.time_column is None and config.data.id_column is None and config.split.kind == "hash"
    if case == "booleans-null-constant":
        assert "empty" not in config.data.features.columns and "clinic" not in config.data.features.columns
        assert "large" in config.data.features.categorical and "# left out: empty: all values are missing" in text

    # when the champion scores the whole table (no time column: every row, keyed by content)
    rows = batch_scoring_flow(config_path=str(config_path))
    stored = open_store(config, load_settings().root).read("batch")
    assert rows == len(stored) > 500 and stored["id"].is_unique

    # when one record is served
    record = (
        {
            c: _plain(v)
            for c, v in pd.read_csv(
                data, sep=config.data.source.delimiter, encoding=config.data.source.encoding, nrows=1
            )
            .iloc[0]
            .items()
            if c in config.data.features.columns
        }
        if config.data.source.kind == "csv"
        else {c: _plain(v) for c, v in pd.read_parquet(data).iloc[0].items() if c in config.data.features.columns}
    )
    with TestClient(create_app(config, load_settings())) as client:
        answer = client.post("/predict", json=record)
    # then it answers with the probability of the positive label and the label itself, in the data's own text
    assert answer.status_code == 200, answer.text
    body = answer.json()
    expected_positive = positive if positive is not None else True
    assert body["positive_label"] == expected_positive and 0 <= body["prediction"] <= 1
    assert body["label"] == (expected_positive if body["prediction"] >= 0.5 else _other(case))


def test_without_a_time_column_each_scoring_is_a_monitoring_window_of_its_own(tmp_path: Path, state: Path) -> None:
    # given the starter config of a table with no time column: each `perennial score` is a window
    table, data = cancer(), tmp_path / "cancer.csv"
    table.to_csv(data, index=False)
    text = starter_config(data, "diagnosis", "M")
    assert "window: batch" in text
    raw = _fast(text, tmp_path / "predictions")
    raw["monitoring"]["min_labelled_rows"] = 50
    config_path = tmp_path / "cancer.yaml"
    config_path.write_text(yaml.safe_dump(raw))
    assert training_flow(config_path=str(config_path)).promoted
    # and the table scored twice, the team's file holding other rows the second time (with their labels)
    first, second = table.iloc[:300], table.iloc[300:]
    first.to_csv(data, index=False)
    assert batch_scoring_flow(config_path=str(config_path)) == len(first)
    second.to_csv(data, index=False)
    assert batch_scoring_flow(config_path=str(config_path)) == len(second)
    # when monitoring runs with no dates
    result = monitoring_flow(config_path=str(config_path))
    # then the window is the last scoring alone: its rows, joined with their labels by content
    stamps = sorted(open_store(load_config(config_path), load_settings().root).read("batch")["scored_at"].unique())
    assert len(stamps) == 2 and result["window"] == f"batch-{pd.Timestamp(stamps[1]):%Y%m%d-%H%M%S}"
    assert result["rows"] == len(second) and result["performance"]["rows"] == len(second)
    # when a window is asked for by dates, then the flow says a batch window has none, and what to do
    state_ = monitoring_flow(config_path=str(config_path), window_start=dt.date(2026, 1, 1), return_state=True)
    assert state_.is_failed() and BATCH_HAS_NO_DATES in state_.message
    # when the same rows are scored again (the same row keys in a second batch of the day)
    assert batch_scoring_flow(config_path=str(config_path)) == len(second)
    doctor = CliRunner().invoke(app, ["doctor", "-c", str(config_path)])
    # then the doctor finds the state consistent: a new batch is not a duplicate
    assert doctor.exit_code == 0 and "consistent" in doctor.output, doctor.output

    # when new rows with no labels yet, shipped gzipped, are scored from their own file
    unlabelled = tmp_path / "incoming.csv.gz"
    second.drop(columns=["diagnosis"]).to_csv(unlabelled, index=False)
    assert batch_scoring_flow(config_path=str(config_path), data=str(unlabelled)) == len(second)
    # then they are stored as a batch of their own, each row under the key its labelled copy had
    stored = open_store(load_config(config_path), load_settings().root).read("batch")
    batches = [set(rows["id"]) for _, rows in stored.groupby("scored_at")]
    assert len(batches) == 4 and batches[-1] == batches[1] and batches[-1] != batches[0]
    # when that batch is monitored with no dates: its own file is read, not the config's source
    result = monitoring_flow(config_path=str(config_path))
    # then it has no labels yet, though the source holds labelled rows with the very same keys
    assert result["rows"] == len(second) and result["performance"] is None, result

    # when later labelled rows are scored from a file of their own, then the earlier one is monitored again
    later = tmp_path / "later.csv"
    first.iloc[:100].to_csv(later, index=False)
    assert batch_scoring_flow(config_path=str(config_path), data=str(later)) == 100
    latest = monitoring_flow(config_path=str(config_path))
    again = monitoring_flow(config_path=str(config_path), data=str(unlabelled))
    # then the latest batch is judged on the labels in its file, and --data picks the batch scored from it
    assert latest["rows"] == 100 and latest["performance"]["rows"] == 100, latest
    assert again["window"] == result["window"] and again["performance"] is None, again

    # when the team writes the labels into that file (the same rows), then the batch is judged on them
    second.to_csv(unlabelled, index=False)
    labelled = monitoring_flow(config_path=str(config_path), data=str(unlabelled))
    assert labelled["window"] == result["window"] and labelled["performance"]["rows"] == len(second), labelled
    # when the file is re-exported with other rows under the same name
    first.iloc[:150].to_csv(unlabelled, index=False)
    changed = monitoring_flow(config_path=str(config_path), data=str(unlabelled), return_state=True)
    # then the batch is not judged on labels of rows it never scored: the flow fails saying to score it again
    assert changed.is_failed() and "its rows are not the ones batch-" in changed.message, changed.message
    assert f"score it again (perennial score -c {config_path} --data {unlabelled.resolve()})" in changed.message


def _other(case: str) -> object:
    return {"booleans-null-constant": False, "semicolon-latin1": "bénin"}.get(case, "B")


def _plain(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    return value


def diabetes() -> pd.DataFrame:
    """442 rows, ten standardised measurements, a disease-progression score (25-346): a quantity."""
    from sklearn.datasets import load_diabetes

    return load_diabetes(as_frame=True).frame.rename(columns={"target": "progression"})


def iris() -> pd.DataFrame:
    """150 rows, three species as text."""
    from sklearn.datasets import load_iris

    bunch = load_iris(as_frame=True)
    frame = bunch.frame.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    return frame.assign(species=np.asarray(bunch.target_names)[frame.pop("target")])


def wine() -> pd.DataFrame:
    """178 rows, thirteen measurements, the cultivar as 0, 1 or 2 (whole numbers that are classes),
    the last row not labelled yet: the column reads back as floats (2.0), its classes must still be '2'."""
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame.rename(columns={"target": "cultivar"})
    return frame.assign(cultivar=frame["cultivar"].astype("Int64").mask(frame.index == len(frame) - 1))


TASK_CASES = {
    # name: (table, file suffix, target, inferred task, the candidate kept for the test budget)
    "diabetes-regression-gzip": (diabetes, ".csv.gz", "progression", "regression", "ridge"),
    "iris-multiclass-text": (iris, ".csv", "species", "multiclass", "logistic"),
    "wine-multiclass-numbers-bz2": (wine, ".csv.bz2", "cultivar", "multiclass", "logistic"),
}


@pytest.mark.parametrize("case", list(TASK_CASES))
def test_init_infers_the_task_then_trains_scores_and_serves_it(case: str, tmp_path: Path, state: Path) -> None:
    # given a regression or multiclass table, shipped as users ship it
    make, suffix, target, task, keep = TASK_CASES[case]
    table = make()
    data = tmp_path / f"{case}{suffix}"
    table.to_csv(data, index=False)
    # when `perennial init` profiles it and the starter config is trained as written (one candidate)
    text = starter_config(data, target)
    raw = _fast(text, tmp_path / "predictions", keep=keep)
    config_path = tmp_path / f"{case}.yaml"
    config_path.write_text(yaml.safe_dump(raw))
    outcome = training_flow(config_path=str(config_path))
    # then the task was inferred from the values and a gated champion registered
    config = load_config(config_path)
    assert f"task: {task}   # inferred" in text and config.task == task
    assert outcome.promoted, outcome.summary
    assert Registry(config.tracking.registered_model).alias_version("champion") == "1"

    # when the champion scores the whole table
    rows = batch_scoring_flow(config_path=str(config_path))
    assert rows == len(open_store(config, load_settings().root).read("batch")) == len(table)

    # when one record is served
    record = {c: _plain(v) for c, v in table.iloc[0].items() if c in config.data.features.columns}
    with TestClient(create_app(config, load_settings())) as client:
        body = client.post("/predict", json=record).json()
    # then a quantity is answered as a number, a class with every class's probability
    truth = table[target].iloc[0]
    if task == "regression":
        assert isinstance(body["prediction"], float) and "probabilities" not in body
        assert table[target].min() <= body["prediction"] <= table[target].max()
    else:
        classes = {str(c) for c in table[target].dropna().unique()}
        assert set(body["probabilities"]) == classes and abs(sum(body["probabilities"].values()) - 1) < 1e-6
        # the first row of each table is an easy one; a class coded as a whole number comes back as it
        assert body["label"] == (int(truth) if pd.api.types.is_integer_dtype(table[target]) else str(truth))


def test_a_table_read_through_a_sql_query_trains_and_its_lineage_names_the_query_source(
    tmp_path: Path, state: Path
) -> None:
    # given breast cancer in a SQLite table, and the starter config pointed at a query of it
    import sqlite3

    from mlflow.tracking import MlflowClient

    table, database = cancer(), tmp_path / "clinic.db"
    with sqlite3.connect(database) as connection:
        table.to_sql("biopsies", connection, index=False)
    table.to_csv(tmp_path / "cancer.csv", index=False)
    raw = _fast(starter_config(tmp_path / "cancer.csv", "diagnosis", "M"), tmp_path / "predictions")
    raw["data"]["source"] = {"kind": "sql", "url": f"sqlite:///{database}", "query": "SELECT * FROM biopsies"}
    config_path = tmp_path / "clinic.yaml"
    config_path.write_text(yaml.safe_dump(raw))
    # when it is trained (MLflow has no dataset resolver for a database URL: the run crashed logging it)
    outcome = training_flow(config_path=str(config_path))
    # then it reaches a verdict, and its datasets name the query's database as a sql source
    assert outcome.verdict in ("passed", "inconclusive"), outcome.summary
    inputs = MlflowClient().get_run(outcome.run_id).inputs.dataset_inputs
    assert {i.dataset.source_type for i in inputs} == {"sql"}
    assert all(str(database) in i.dataset.source for i in inputs)


def test_a_class_new_since_the_champion_is_learnt_by_a_retrain(tmp_path: Path, state: Path) -> None:
    # given an iris champion that learnt three species
    table = iris()
    data = tmp_path / "iris.csv"
    table.to_csv(data, index=False)
    config_path = tmp_path / "iris.yaml"
    config_path.write_text(yaml.safe_dump(_fast(starter_config(data, "species"), tmp_path / "predictions")))
    assert training_flow(config_path=str(config_path)).promoted
    # when the data gains a fourth, 'hybrid' (50 rows between versicolor and virginica), and it is retrained
    rng = np.random.default_rng(0)
    middle = table[table["species"] != "setosa"].sample(50, random_state=0)
    hybrid = middle.assign(species="hybrid", petal_length=middle["petal_length"] + 3 + rng.normal(0, 0.1, 50))
    pd.concat([table, hybrid], ignore_index=True).to_csv(data, index=False)
    outcome = training_flow(config_path=str(config_path))
    # then the champion's contract did not refuse the new class: the retrain learnt it and, judged
    # against a champion that calls every hybrid something else, was promoted
    model = Registry(load_config(config_path).tracking.registered_model).load(outcome.version)
    assert "hybrid" in [str(c) for c in model.classes_] and outcome.promoted, outcome.summary
