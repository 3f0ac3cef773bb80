from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from perennial.config import FileSource, parse_config
from perennial.errors import ConfigError
from perennial.io import sources
from perennial.io.starter import source_for, starter_config


@pytest.fixture
def table() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.iloc[:, :6].rename(columns=lambda c: c.replace(" ", "_"))
    return frame.assign(diagnosis=bunch.frame["target"].map({0: "malin", 1: "bénin"}))


def test_init_sniffs_delimiter_and_encoding_and_writes_a_config_that_loads(tmp_path: Path, table: pd.DataFrame) -> None:
    # given a semicolon-delimited latin-1 file
    path = tmp_path / "euro.csv"
    table.to_csv(path, sep=";", encoding="latin-1", index=False)
    # when a starter config is written
    text = starter_config(path, "diagnosis", "malin")
    config = parse_config(yaml.safe_load(text), "starter.yaml")
    # then it reads the file as it is, names the positive label, and has no time, id or time split
    assert (config.data.source.delimiter, config.data.source.encoding) == (";", "cp1252")
    assert config.data.target.positive_label == "malin" and config.split.kind == "hash"
    assert config.data.features.numeric == tuple(table.columns[:6])
    assert "# time column: no column holds timestamps" in text and "# cost:" in text


def test_init_errors_name_the_flag_and_the_closest_column(tmp_path: Path, table: pd.DataFrame) -> None:
    path = tmp_path / "t.csv"
    table.to_csv(path, index=False)
    with pytest.raises(ConfigError, match=r"--target diagnsis: no such column, did you mean `diagnosis`\?"):
        starter_config(path, "diagnsis")
    with pytest.raises(ConfigError, match=r"cannot tell which value .* pass --positive-label with one of them"):
        starter_config(path, "diagnosis")


def test_a_time_column_gives_a_time_split_over_its_range(tmp_path: Path, table: pd.DataFrame) -> None:
    path = tmp_path / "t.parquet"
    table.assign(at=pd.date_range("2024-01-01", periods=len(table), freq="h")).to_parquet(path)
    config = parse_config(yaml.safe_load(starter_config(path, "diagnosis", "malin", time="at")), "s.yaml")
    assert config.split.kind == "time" and config.data.time_column == "at"
    assert str(config.split.holdout_end) > str(config.split.train_end) >= "2024-01-02"
    assert source_for(path, "t.parquet").kind == "parquet"


def test_unix_seconds_are_suggested_and_split_as_times_and_years_are_refused_for_time(
    tmp_path: Path, table: pd.DataFrame
) -> None:
    # given a table whose event time is Unix seconds (a day apart from 2023-01-01), and one with a year column
    created = 1672531200 + 86400 * np.arange(len(table))
    table.assign(created=created).to_csv(tmp_path / "epoch.csv", index=False)
    table.assign(year=2000 + np.arange(len(table)) % 20).to_csv(tmp_path / "year.csv", index=False)
    # when init runs without --time / then the comment says the numbers read as a timestamp and suggests --time
    text = starter_config(tmp_path / "epoch.csv", "diagnosis", "malin")
    assert "'created' holds numbers that read as Unix epoch seconds (2023-01-01 to 2024-07-22)" in text
    assert '# time_column: "created"' in text and "pass --time created" in text
    # when init runs with --time / then the split is over those dates, not 1970's first nanoseconds
    config = parse_config(
        yaml.safe_load(starter_config(tmp_path / "epoch.csv", "diagnosis", "malin", time="created")), "s"
    )
    assert config.split.kind == "time" and "2024-01-01" < str(config.split.train_end) < str(config.split.holdout_end)
    # and a year column given as --time is refused, naming the column, what it holds and what to do
    with pytest.raises(ConfigError, match=r"--time year: column 'year' holds years \(2000, 2001.*leave out --time"):
        starter_config(tmp_path / "year.csv", "diagnosis", "malin", time="year")


def test_a_quantity_gets_a_regression_starter_with_margins_in_its_own_units(tmp_path: Path) -> None:
    # given a numeric target in the hundreds (sklearn's diabetes progression score)
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True).frame
    path = tmp_path / "d.csv.gz"
    frame.to_csv(path, index=False)
    # when a starter config is written
    text = starter_config(path, "target")
    config = parse_config(yaml.safe_load(text), "s.yaml")
    # then it is a regression on MAE against the mean, with margins a share of the mean predictor's MAE
    spread = (frame["target"] - frame["target"].mean()).abs().mean()
    assert config.task == "regression" and config.evaluation.primary_metric == "mae"
    assert config.training.baseline == "mean" and "ridge" in [c.name for c in config.training.candidates]
    assert config.gate.min_lift_over_baseline == pytest.approx(0.05 * spread, rel=0.01)
    assert config.gate.max_regression_vs_champion == pytest.approx(0.01 * spread, rel=0.01)
    # and the monitor counts a window as worse by a twentieth of it (confirmed by the window's interval),
    # not by a score's 0.03
    assert config.monitoring.retraining.performance_tolerance == pytest.approx(0.05 * spread, rel=0.01)
    # and a small table asks for the evidence it can give (442 rows, 30% held out)
    assert config.split.holdout_share == 0.3 and 100 <= config.gate.min_evidence.holdout_rows < 132
    # the same target scaled by 1000 scales the margins: they are not constants
    frame.assign(target=frame["target"] * 1000).to_csv(path, index=False)
    scaled = parse_config(yaml.safe_load(starter_config(path, "target")), "s.yaml")
    assert scaled.gate.min_lift_over_baseline == pytest.approx(1000 * config.gate.min_lift_over_baseline, rel=0.01)
    tolerance = config.monitoring.retraining.performance_tolerance
    assert scaled.monitoring.retraining.performance_tolerance == pytest.approx(1000 * tolerance, rel=0.01)


def test_a_few_classes_get_a_multiclass_starter_with_per_class_evidence(tmp_path: Path) -> None:
    # given three text classes, one rare
    from sklearn.datasets import load_iris

    bunch = load_iris(as_frame=True)
    frame = bunch.frame.assign(species=[["a", "b", "c"][t] for t in bunch.frame.pop("target")])
    frame = pd.concat([frame[frame.species != "c"], frame[frame.species == "c"].head(15)])
    path = tmp_path / "iris.csv"
    frame.to_csv(path, index=False)
    # when a starter config is written
    text = starter_config(path, "species")
    config = parse_config(yaml.safe_load(text), "s.yaml")
    # then it is multiclass on macro-F1, lists the classes, and asks for what its rarest class can give
    assert config.task == "multiclass" and config.evaluation.primary_metric == "macro_f1"
    assert '3 classes, rows each: {"a": 50, "b": 50, "c": 15}' in text
    assert config.gate.min_evidence.rows_per_class < 15 * 0.3 and config.gate.min_evidence.max_interval_width > 0.1
    assert config.monitoring.min_labelled_rows < 115 * 0.3  # a window can hold no more than the table
    # and the imbalanced target gets balanced class weights
    assert all(c.params.get("class_weight") == "balanced" for c in config.training.candidates)


def test_the_task_can_be_given_and_a_positive_label_only_fits_a_binary_target(tmp_path: Path) -> None:
    # given whole-number grades 1-5, which read as classes
    path = tmp_path / "grades.csv"
    pd.DataFrame({"x": [v / 2 for v in range(100)], "grade": [1, 2, 3, 4, 5] * 20}).to_csv(path, index=False)
    assert parse_config(yaml.safe_load(starter_config(path, "grade")), "s.yaml").task == "multiclass"
    # when --task regression is given / then it wins, and the file says what the values suggested
    text = starter_config(path, "grade", task="regression")
    assert "task: regression   # given with --task (the values suggest multiclass" in text
    # and a positive label on a multiclass target is refused by name
    with pytest.raises(ConfigError, match="--positive-label applies to a binary target; 'grade' is multiclass"):
        starter_config(path, "grade", positive_label=3)
    # and text cannot be a regression target
    pd.DataFrame({"x": range(6), "grade": list("abcabc")}).to_csv(path, index=False)
    with pytest.raises(ConfigError, match="--task regression needs a numeric target; 'grade' holds text"):
        starter_config(path, "grade", task="regression")


def test_a_european_csv_is_read_with_its_decimal_comma_and_a_dotted_one_is_left_alone(tmp_path: Path) -> None:
    # given a ;-separated latin-1 file whose numbers are written 3,14 (as a French spreadsheet exports)
    frame = pd.DataFrame(
        {
            "prix": [102.51, 97.5, 120.0, 88.25] * 25,
            "pièces": [3, 2, 4, 1] * 25,
            "vendu": ["oui", "non", "non"] * 33 + ["oui"],
        }
    )
    european = tmp_path / "ventes.csv"
    frame.to_csv(european, sep=";", decimal=",", index=False, encoding="latin-1")
    # when init profiles it
    config = parse_config(yaml.safe_load(starter_config(european, "vendu", "oui")), "s.yaml")
    # then the decimal comma is sniffed and written, and the prices are numbers, read as the spreadsheet meant
    source = config.data.source
    assert isinstance(source, FileSource) and (source.delimiter, source.decimal) == (";", ",")
    assert config.data.features.numeric == ("prix", "pièces")
    read = sources.read_source(source, tmp_path)
    assert read["prix"].dtype == "float64" and read["prix"].tolist() == frame["prix"].tolist()
    # and the same table with dotted decimals keeps the default mark (a whole-number column alone says nothing)
    dotted = tmp_path / "sales.csv"
    frame.to_csv(dotted, sep=";", index=False)
    again = parse_config(yaml.safe_load(starter_config(dotted, "vendu", "oui")), "s.yaml").data.source
    assert (
        isinstance(again, FileSource)
        and again.decimal == "."
        and "decimal" not in starter_config(dotted, "vendu", "oui")
    )


def test_a_decimal_mark_that_is_also_the_delimiter_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="decimal and delimiter are both ','"):
        FileSource(kind="csv", path="x.csv", decimal=",")


def test_a_rare_positive_class_asks_for_what_a_draw_of_the_split_assures_not_what_it_expects(tmp_path: Path) -> None:
    # given 5,000 rows with 100 positives: 20% held out expects 20, the default ask, but a draw gives fewer
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"amount": rng.normal(size=5000), "fraud": np.r_[np.ones(100), np.zeros(4900)].astype(int)})
    path = tmp_path / "fraud.csv"
    frame.to_csv(path, index=False)
    # when a starter config is written
    config = parse_config(yaml.safe_load(starter_config(path, "fraud")), "s.yaml")
    # then it asks for the positives that about every draw holds (20 - 2.5 sd), not the 20 it expects
    assert config.gate.min_evidence.rows_per_class == 10
    # while 500 positives keep the default ask
    frame.assign(fraud=np.r_[np.ones(500), np.zeros(4500)].astype(int)).to_csv(path, index=False)
    assert parse_config(yaml.safe_load(starter_config(path, "fraud")), "s.yaml").gate.min_evidence.rows_per_class == 20


def test_init_leaves_out_columns_named_like_the_prediction_stores_and_says_to_rename_them(tmp_path: Path) -> None:
    # given an export that carries an earlier model's 'prediction' and 'model_version' beside real features
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "age": rng.integers(20, 80, 300),
            "prediction": rng.random(300),
            "model_version": rng.choice(["3", "4"], 300),
            "churned": rng.choice(["yes", "no"], 300),
        }
    )
    path = tmp_path / "export.csv"
    frame.to_csv(path, index=False)
    # when init profiles it / then both are left out with the rule, and the config parses as written
    text = starter_config(path, "churned")
    config = parse_config(yaml.safe_load(text), "s.yaml")
    assert "# left out: prediction: named like a column the prediction store writes" in text
    assert "# left out: model_version: named like a column" in text
    assert config.data.features.columns == ("age",)


def test_init_and_the_config_refuse_the_store_s_multiclass_column_names(tmp_path: Path) -> None:
    # given an iris export with an upstream model's 'proba__upstream' and 'predicted_class' beside its features
    from sklearn.datasets import load_iris

    iris = load_iris(as_frame=True).frame.rename(columns={"target": "species"})
    rng = np.random.default_rng(2)
    frame = iris.assign(proba__upstream=rng.random(len(iris)), predicted_class=rng.choice(["a", "b"], len(iris)))
    path = tmp_path / "iris.csv"
    frame.to_csv(path, index=False)
    # when init profiles it / then both are left out: read back they would be a phantom class, or doubled
    text = starter_config(path, "species")
    config = parse_config(yaml.safe_load(text), "s.yaml")
    assert "# left out: proba__upstream: named like a column the prediction store writes" in text
    assert "# left out: predicted_class: named like a column" in text
    assert not {"proba__upstream", "predicted_class"} & set(config.data.features.columns)
    # and a config that lists one as a feature is refused, naming it
    raw = yaml.safe_load(text)
    raw["data"]["features"]["numeric"].append("proba__upstream")
    with pytest.raises(ConfigError, match=r"data.features name \['proba__upstream'\]: named like a column"):
        parse_config(raw, "s.yaml")


def test_a_uci_style_question_mark_is_read_as_a_missing_number(tmp_path: Path) -> None:
    # given diabetes as UCI ships such tables: '?' where a bmi was not measured (26 of 442 rows)
    from sklearn.datasets import load_diabetes

    from perennial.io import sources

    frame = load_diabetes(as_frame=True).frame.round(4)
    frame["bmi"] = frame["bmi"].astype(object).where(frame.index % 17 != 0, "?")
    path = tmp_path / "diabetes.csv"
    frame.to_csv(path, index=False)
    # when init profiles it
    text = starter_config(path, "target")
    config = parse_config(yaml.safe_load(text), "s.yaml")
    # then '?' is a missing mark, bmi a numeric feature, and the source reads it as numbers with gaps
    assert config.data.source.missing_marks == ("?",) and "bmi" in config.data.features.numeric
    read = sources.read_source(config.data.source)
    assert read["bmi"].dtype == "float64" and int(read["bmi"].isna().sum()) == int((frame.index % 17 == 0).sum())
    # while a table without such marks gets none written
    load_diabetes(as_frame=True).frame.to_csv(path, index=False)
    assert "missing_marks" not in starter_config(path, "target")


def test_a_number_column_with_blank_cells_is_read_as_numbers_with_gaps(tmp_path: Path) -> None:
    # given a table whose charges column writes ' ' for customers not yet billed (Telco churn's TotalCharges)
    from sklearn.datasets import load_diabetes

    from perennial.io import sources

    frame = load_diabetes(as_frame=True).frame.round(4)
    frame["charges"] = (frame["bmi"] * 1000 + 100).round(2).astype(object).where(frame.index % 40 != 0, " ")
    path = tmp_path / "telco.csv"
    frame.to_csv(path, index=False)
    # when init profiles it
    config = parse_config(yaml.safe_load(starter_config(path, "target")), "s.yaml")
    # then charges is a numeric feature (it was left out as 'text with 431 distinct values'), its blanks missing
    assert config.data.source.missing_marks == (" ",) and "charges" in config.data.features.numeric
    read = sources.read_source(config.data.source)
    assert read["charges"].dtype == "float64" and int(read["charges"].isna().sum()) == int(
        (frame.index % 40 == 0).sum()
    )


def test_fields_written_after_a_comma_and_a_space_are_read_without_it(tmp_path: Path) -> None:
    # given a table as UCI Adult writes it: ', ' between fields, '?' for a missing value, ' >50K' labels
    from perennial.io import sources

    rows = [
        f"{39 + i % 30}, {['State-gov', 'Private', '?'][i % 3]}, {77516 + i}, {['<=50K', '>50K'][i % 4 == 0]}"
        for i in range(300)
    ]
    path = tmp_path / "adult.csv"
    path.write_text("age, workclass, fnlwgt, income\n" + "\n".join(rows) + "\n")
    # when init profiles it with the label named as a person would say it
    text = starter_config(path, "income", positive_label=">50K")
    config = parse_config(yaml.safe_load(text), "adult.yaml")
    # then the names and values carry no leading space ('?' stays a category of its own)
    assert config.data.source.skip_initial_space and config.data.target.column == "income"
    read = sources.read_source(config.data.source)
    assert list(read.columns) == ["age", "workclass", "fnlwgt", "income"]
    assert set(read["income"]) == {"<=50K", ">50K"} and set(read["workclass"]) == {"State-gov", "Private", "?"}
    # while a plain CSV is read as before
    plain = tmp_path / "plain.csv"
    plain.write_text("age,job,income\n" + "\n".join(f"{i % 40},{' ab'[i % 3]}x,{i % 2}" for i in range(300)) + "\n")
    assert "skip_initial_space" not in starter_config(plain, "income")


def test_missing_marks_are_sniffed_only_where_the_rest_of_a_column_is_numbers() -> None:
    from perennial.io.sniffing import sniff_missing_marks

    frame = pd.DataFrame(
        {
            "bmi": ["21.6", "?", "30.1"],
            "grade": ["A", "-", "B"],
            "gap": [" ?", "1", "2"],
            "charges": ["29.85", " ", "1889.5"],  # Telco churn: a blank for a customer not yet billed
            "note": ["late", " ", "paid"],
            "income": ["52000", "\u2014", "Unknown"],  # an em dash and a word, as exported sheets write them
            "status": ["Unknown", "single", "married"],
        }
    )
    # a category that happens to hold '-', a blank or 'Unknown' is not a number with gaps; marks are kept as written
    assert sniff_missing_marks(frame) == (" ", " ?", "?", "Unknown", "\u2014")
    # and a mark the target holds as a class stays that class
    assert sniff_missing_marks(frame, keep="status") == (" ", " ?", "?", "\u2014")


def test_dates_written_day_first_are_read_as_the_dates_they_are(tmp_path: Path) -> None:
    # given visits written dd/mm/yyyy (from 1 to 28 of each month: a third read month first would be wrong)
    from perennial.io import sources

    days = pd.date_range("2021-01-01", periods=200, freq="D")
    frame = pd.DataFrame(
        {
            "visit": days.strftime("%d/%m/%Y"),
            "logged": days.strftime("%Y-%m-%d"),  # ISO: unambiguous, left to pandas
            "dose": np.arange(200) % 7,
            "outcome": np.where(np.arange(200) % 3 == 0, "worse", "better"),
        }
    )
    path = tmp_path / "visits.csv"
    frame.to_csv(path, index=False)
    # when init profiles it
    text = starter_config(path, "outcome", "worse")
    config = parse_config(yaml.safe_load(text), "s.yaml")
    # then the day-first column is named in the source and read as its real dates, a datetime feature
    assert config.data.source.dayfirst_columns == ("visit",)
    assert "visit" in [d.column for d in config.data.features.datetime]
    read = sources.read_source(config.data.source)
    assert (read["visit"] == days).all()
    # while the same dates written month first (12/31/2021) get no such line
    frame.assign(visit=days.strftime("%m/%d/%Y")).to_csv(path, index=False)
    assert "dayfirst_columns" not in starter_config(path, "outcome", "worse")


def test_names_outside_ascii_are_written_as_they_are(tmp_path: Path) -> None:
    # given a French export: a target and a feature named with accents
    frame = pd.DataFrame({"pétale (cm)": np.arange(60) % 7 + 0.5, "espèce": ["setosa", "versicolor", "virginica"] * 20})
    path = tmp_path / "fleurs.csv"
    frame.to_csv(path, index=False)
    # when init writes the config / then the names read as written, and the file parses to them
    text = starter_config(path, "espèce")
    assert '"espèce"' in text and '"pétale (cm)"' in text and "\\u00e8" not in text
    config = parse_config(yaml.safe_load(text), "s.yaml")
    assert (config.data.target.column, config.data.features.numeric) == ("espèce", ("pétale (cm)",))


def test_a_class_too_rare_to_judge_is_named_in_the_starter(tmp_path: Path) -> None:
    # given wine with a fourth cultivar of three bottles
    from sklearn.datasets import load_wine

    bunch = load_wine(as_frame=True)
    frame = bunch.frame.assign(cultivar=bunch.frame.pop("target").map({0: "barolo", 1: "grignolino", 2: "barbera"}))
    frame.loc[:2, "cultivar"] = "nebbiolo"
    path = tmp_path / "wine.csv"
    frame.to_csv(path, index=False)
    # when init writes the config / then the rare class is named with its rows and what to do
    text = starter_config(path, "cultivar")
    assert '# too few rows to learn or judge: "nebbiolo" (3); their recall is not checked' in text
    assert parse_config(yaml.safe_load(text), "s.yaml").task == "multiclass"
    # while classes of ten rows or more are not named
    frame.assign(cultivar=[["a", "b", "c"][i % 3] for i in range(len(frame))]).to_csv(path, index=False)
    assert "too few rows" not in starter_config(path, "cultivar")


def test_init_leaves_out_a_column_that_gives_the_target_away_and_keeps_strong_honest_ones(tmp_path: Path) -> None:
    # given the breast cancer table with an outcome code copied from the diagnosis, a follow-up time
    # written once the outcome was known (it alone orders the two outcomes), and a regression table
    # with the target in other units
    from tests.integration.test_own_data import cancer, diabetes

    table = cancer()
    malignant = (table["diagnosis"] == "M").to_numpy()
    noise = np.random.default_rng(0).uniform(0, 5, len(table))
    table = table.assign(outcome_code=malignant.astype(int), followup_days=np.where(malignant, 30, 400) + noise)
    # and a note written only for malignant cases (a leak by its gaps alone), beside a measurement
    # missing at random and one missing mostly, not only, for benign cases (both honest)
    gaps = np.random.default_rng(1).uniform(size=len(table))
    table = table.assign(
        surgery_note=np.where(malignant, np.where(gaps < 0.5, "excised", "biopsy"), None),
        lab_value=np.where(gaps < 0.2, np.nan, noise),
        screening=np.where(~malignant & (gaps < 0.5) | (gaps < 0.03), np.nan, noise),
    )
    table.to_csv(tmp_path / "cancer.csv", index=False)
    progression = diabetes().assign(progression_pct=lambda f: f["progression"] / 3.46)
    progression.to_csv(tmp_path / "diabetes.csv", index=False)
    # when init profiles each
    text = starter_config(tmp_path / "cancer.csv", "diagnosis", "M")
    features = parse_config(yaml.safe_load(text), "s.yaml").data.features
    regression = starter_config(tmp_path / "diabetes.csv", "progression")
    # then the leaks are left out, each with why, and the measurements stay (the best alone: AUC ~0.96)
    assert "outcome_code" not in features.numeric and "followup_days" not in features.numeric
    assert "# left out: outcome_code: each of its 2 values goes with one outcome on 569 rows" in text
    assert "# left out: followup_days: alone it separates the two outcomes (AUC 1.0000)" in text
    assert "# left out: surgery_note: it is filled only on rows whose target is 'M' (212 rows)" in text
    assert {"lab_value", "screening"} <= set(features.numeric)
    assert {"mean_radius", "mean_concave_points"} <= set(features.numeric)
    assert "# left out: progression_pct: it moves with the target (correlation 1.0000)" in regression
    assert "bmi" in parse_config(yaml.safe_load(regression), "r.yaml").data.features.numeric


def test_init_leaves_out_columns_that_add_up_to_the_target(tmp_path: Path) -> None:
    # given bike rentals as the UCI table ships them: casual + registered = cnt, each alone only correlated
    rng = np.random.default_rng(0)
    hours, temp = rng.integers(0, 24, 3000), rng.normal(20, 8, 3000)
    casual = rng.poisson(5 + 2 * np.clip(temp, 0, None) / 10 + (hours > 10) * 10)
    registered = rng.poisson(40 + 30 * ((hours == 8) | (hours == 17)) + temp)
    table = pd.DataFrame({"hr": hours, "temp": temp.round(2), "casual": casual, "registered": registered})
    table.assign(cnt=casual + registered).to_csv(tmp_path / "bike.csv", index=False)
    # when init profiles it
    text = starter_config(tmp_path / "bike.csv", "cnt")
    features = parse_config(yaml.safe_load(text), "bike.yaml").data.features
    # then both parts of the count are left out, each naming the other, and the honest features stay
    assert "casual" not in features.numeric and "registered" not in features.numeric
    assert "# left out: casual: with 'registered' it makes the target exactly (R² 1.0000" in text
    assert set(features.numeric) == {"hr", "temp"}


@pytest.mark.parametrize(("per_hour", "window"), [(1, "month"), (10, "day"), (2, "week")])
def test_init_monitors_windows_that_hold_enough_rows_to_judge(tmp_path: Path, per_hour: int, window: str) -> None:
    # given hourly rentals (24 a day: a week holds 168, too few to judge drift on), or 10 or 2 an hour
    rng = np.random.default_rng(0)
    times = pd.date_range("2012-01-01", periods=24 * 120, freq="h").repeat(per_hour)
    table = pd.DataFrame({"dteday": times, "temp": rng.normal(20, 8, len(times))})
    table.assign(cnt=(table["temp"] * 3 + rng.normal(0, 5, len(times))).round()).to_csv(tmp_path / "h.csv", index=False)
    # when init profiles it with its time column
    config = parse_config(yaml.safe_load(starter_config(tmp_path / "h.csv", "cnt", time="dteday")), "h.yaml")
    # then the window is the shortest that holds 200 rows at that pace
    assert config.monitoring.window == window


def test_many_classes_get_evidence_their_holdout_can_give(tmp_path: Path) -> None:
    # given 1,800 rows of 30 classes, the rarest with 8 rows (about 2 held out)
    rng = np.random.default_rng(1)
    classes = [f"c{i}" for i in range(30) for _ in range(8 if i == 7 else 62)][:1800]
    frame = pd.DataFrame({"x": rng.normal(size=len(classes)), "y": rng.normal(size=len(classes)), "cls": classes})
    frame.to_csv(tmp_path / "many.csv", index=False)
    # when init writes its starter
    text = starter_config(tmp_path / "many.csv", "cls")
    evidence = parse_config(yaml.safe_load(text), "m.yaml").gate.min_evidence
    # then it asks for no more per class than the rarest is sure to hold, says why, and widens the interval a
    # macro F1 over 30 classes gets on ~500 rows (a proportion's 0.09 would leave every verdict inconclusive)
    # (one row of 'c7' is not assured: 0.7^8 = 6% of draws hold none, so no class minimum rather than
    # a first training that ends with no model one time in 17)
    assert evidence.rows_per_class == 0
    assert "the rarest class, 'c7', holds ~2: too few to judge its recall, so no class minimum" in text
    assert evidence.max_interval_width is not None and evidence.max_interval_width >= 0.13


def test_a_headerless_csv_a_spreadsheet_and_a_json_array_are_refused_with_what_to_do(tmp_path: Path) -> None:
    # given iris without its header line, a spreadsheet's bytes, and one JSON array of records
    from tests.integration.test_own_data import iris

    table = iris()
    table.to_csv(tmp_path / "iris.csv", index=False, header=False)
    (tmp_path / "iris.xlsx").write_bytes(b"PK\x03\x04" + b"\x00" * 200)
    table.to_json(tmp_path / "iris.json", orient="records")
    # when init profiles each / then each is refused in words that say what to do, naming the file
    with pytest.raises(ConfigError, match=r"iris.csv: its first line \(5.1, 3.5, 1.4, 0.2, setosa\) reads as a row"):
        starter_config(tmp_path / "iris.csv", "setosa")
    with pytest.raises(ConfigError, match=r"iris.xlsx: a spreadsheet is not read; save the sheet as CSV"):
        starter_config(tmp_path / "iris.xlsx", "species")
    with pytest.raises(ConfigError, match=r"iris.json: one JSON array; Perennial reads JSON lines"):
        starter_config(tmp_path / "iris.json", "species")
    # and a wide table whose columns are named by year, and JSON objects one per line named .json, are read
    growth = np.random.default_rng(2).normal(size=(50, 2)).round(3)
    years = pd.DataFrame({"country": list("abcdefghij") * 5, "1990": growth[:, 0], "2000": growth[:, 1]})
    years.assign(grew=[i % 3 == 0 for i in range(50)]).to_csv(tmp_path / "years.csv", index=False)
    assert (
        "1990"
        in parse_config(yaml.safe_load(starter_config(tmp_path / "years.csv", "grew")), "y").data.features.numeric
    )
    table.to_json(tmp_path / "lines.json", orient="records", lines=True)
    assert (
        parse_config(yaml.safe_load(starter_config(tmp_path / "lines.json", "species")), "j").data.source.kind
        == "jsonl"
    )
    # and a headerless file whose first row mixes text and numbers (UCI's adult.data) is refused too
    rows = [
        f"{30 + i % 40}, {['State-gov', 'Private'][i % 2]}, {['Bachelors', 'HS-grad'][i % 3 > 0]}, {i % 5}, "
        f"{['<=50K', '>50K'][i % 4 == 0]}"
        for i in range(200)
    ]
    (tmp_path / "adult.data").write_text("\n".join(rows) + "\n")
    with pytest.raises(ConfigError, match=r"adult.data: its first line \(30, State-gov, Bachelors, 0, >50K\) reads"):
        starter_config(tmp_path / "adult.data", "income")
    # and a sheet saved by Excel with its `sep=;` line above the header is refused, saying which line to delete
    excel = tmp_path / "excel.csv"
    excel.write_bytes(b"\xef\xbb\xbfsep=;\r\n" + table.to_csv(index=False, sep=";").encode())
    with pytest.raises(ConfigError, match=r"excel.csv: its first line `sep=;` is Excel's note of the delimiter"):
        starter_config(excel, "species")


def test_thousands_separators_are_sniffed_and_numbers_with_units_left_out_by_name(tmp_path: Path) -> None:
    # given amounts written 1,001.5 (quoted in a comma CSV), 1.570,0 in a European file, and columns
    # of prices and shares written with their signs
    rng = np.random.default_rng(3)
    amount = rng.uniform(500, 5000, 200).round(1)
    frame = pd.DataFrame(
        {
            "amount": [f"{a:,.1f}" for a in amount],
            "price": [f"${a:,.0f}" for a in amount],
            "share": [f"{a / 100:.1f}%" for a in amount / 50],
            "width": rng.normal(size=200).round(3),
            "sold": ["yes", "no", "no", "yes", "no"] * 40,
        }
    )
    frame.to_csv(tmp_path / "us.csv", index=False)
    european = frame[["width", "sold"]].assign(
        amount=[f"{a:,.1f}".replace(",", "X").replace(".", ",").replace("X", ".") for a in amount]
    )
    european.assign(width=european["width"].astype(str).str.replace(".", ",")).to_csv(
        tmp_path / "eu.csv", sep=";", index=False
    )
    # when init profiles each
    us_text = starter_config(tmp_path / "us.csv", "sold", "yes")
    us = parse_config(yaml.safe_load(us_text), "us.yaml")
    eu = parse_config(yaml.safe_load(starter_config(tmp_path / "eu.csv", "sold", "yes")), "eu.yaml")
    # then the separators are written to the source and the amounts read as the numbers they are
    assert isinstance(us.data.source, FileSource) and us.data.source.thousands == ","
    assert isinstance(eu.data.source, FileSource) and (eu.data.source.decimal, eu.data.source.thousands) == (",", ".")
    for config in (us, eu):
        assert "amount" in config.data.features.numeric
        read = sources.read_source(config.data.source, tmp_path)
        assert read["amount"].tolist() == pytest.approx(amount.tolist())
    # and the prices and shares are left out, each with what it holds and what to do
    assert "# left out: price: numbers written with a unit ('$" in us_text and "# left out: share:" in us_text
    assert "write them as plain numbers to use them" in us_text


@pytest.mark.parametrize(("rows", "rate"), [(600, 0.08), (1500, 0.15), (3000, 0.03), (10000, 0.01)])
def test_an_imbalanced_binary_target_gets_an_auc_interval_width_its_holdout_can_give(
    tmp_path: Path, rows: int, rate: float
) -> None:
    # given a table with few positives, whose first model may be no better than chance
    from perennial.core.data import split_frame
    from perennial.core.evaluation import score_predictions
    from perennial.core.evidence import Evidence, shortfall

    rng = np.random.default_rng(rows)
    positives = int(rows * rate)
    frame = pd.DataFrame(
        {
            "tenure": rng.normal(size=rows).round(4),
            "spend": rng.gamma(2.0, 30.0, rows).round(2),
            "churned": rng.permutation(np.r_[np.ones(positives), np.zeros(rows - positives)]).astype(int),
        }
    )
    frame.to_csv(tmp_path / "churn.csv", index=False)
    # when init writes its starter and the table is split by it, as training splits it
    config = parse_config(yaml.safe_load(starter_config(tmp_path / "churn.csv", "churned")), "c.yaml")
    evidence = config.gate.min_evidence
    _, holdout = split_frame(sources.read_source(config.data.source, tmp_path), config)
    labels = holdout["churned"].to_numpy()
    # then the gate's own evidence rules find the ROC AUC interval of chance-level scores (the widest)
    # within what init wrote, on that hash holdout
    assert config.evaluation.primary_metric == "roc_auc"
    widths = []
    for seed in range(5):
        scores = score_predictions("m", labels, rng.uniform(size=len(labels)), None, config.evaluation)
        assert shortfall(Evidence.of_labels(labels), evidence, scores.primary) == (), (seed, scores.primary)
        widths.append(scores.primary.high - scores.primary.low)
    # where a proportion's interval on the assured rows (init's old width, 0.1 at least) is too narrow
    proportion = max(0.1, np.ceil(100 * 1.96 / np.sqrt(evidence.holdout_rows)) / 100)
    assert max(widths) > proportion


def test_money_written_as_text_is_refused_as_a_target_and_plain_or_grouped_amounts_are_a_regression(
    tmp_path: Path,
) -> None:
    # given medical insurance charges written as money, as plain amounts with thousands marks, and as numbers
    rng = np.random.default_rng(4)
    charges = rng.gamma(2.0, 6000.0, 300).round(2)
    frame = pd.DataFrame({"age": rng.integers(18, 65, 300), "smoker": rng.choice(["yes", "no"], 300)})
    frame.assign(charges=[f"${c:,.2f}" for c in charges]).to_csv(tmp_path / "money.csv", index=False)
    frame.assign(charges=[f"{c:,.2f}" for c in charges]).to_csv(tmp_path / "grouped.csv", index=False)
    frame.assign(charges=charges).to_csv(tmp_path / "plain.csv", index=False)
    # when init profiles each / then money is refused, naming the file, the column, a value and what to do
    example = f"${charges[0]:,.2f}".replace("$", r"\$")
    for task in (None, "regression", "multiclass"):
        with pytest.raises(
            ConfigError, match=rf"money.csv: target 'charges' holds numbers written as text \('{example}'\)"
        ):
            starter_config(tmp_path / "money.csv", "charges", task=task)
    # and grouped or plain amounts are a quantity, the grouped ones read with their thousands mark
    for name in ("grouped.csv", "plain.csv"):
        config = parse_config(yaml.safe_load(starter_config(tmp_path / name, "charges")), name)
        assert config.task == "regression"
        assert sources.read_source(config.data.source, tmp_path)["charges"].tolist() == pytest.approx(charges.tolist())
    # and amounts given as classes are refused too: nearly every row would be a class of its own
    with pytest.raises(ConfigError, match=r"plain.csv: target 'charges' holds 300 classes, 300 of them on 2 rows"):
        starter_config(tmp_path / "plain.csv", "charges", task="multiclass")


def test_a_partitioned_directorys_key_is_left_out_of_the_features_with_why(tmp_path: Path) -> None:
    # given a Parquet directory partitioned by year (readings/year=2022/...), whose files hold no `year`
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(4)
    times = pd.date_range("2022-01-01", "2023-12-31", freq="D", tz="UTC")
    frame = pd.DataFrame(
        {"at": times, "temp": rng.normal(15, 8, len(times)).round(1), "failed": rng.random(len(times)) < 0.3}
    ).assign(year=times.year)
    pq.write_to_dataset(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "readings", ["year"])
    # when init profiles the directory
    text = starter_config(tmp_path / "readings", target="failed", time="at")
    # then the key the reader adds is not a feature (it was: numeric, then missing from every new-rows file),
    # and the config says why
    features = parse_config(yaml.safe_load(text)).data.features
    assert features.columns == ("temp",)
    assert "# left out: year: the directory's partition key: new-rows files and served records" in text


def test_a_sqlite_file_and_other_binary_files_are_refused_with_how_to_read_a_database(tmp_path: Path) -> None:
    # given a real SQLite database file and a file of binary bytes, neither named like a table
    import sqlite3

    with sqlite3.connect(tmp_path / "bank.db") as connection:
        pd.DataFrame({"x": np.arange(500), "y": np.arange(500) % 2}).to_sql("t", connection, index=False)
    (tmp_path / "dump.bin").write_bytes(bytes(range(256)) * 8)
    # when init profiles each / then each is refused for what it is, with the sql source to write (was: "malformed CSV")
    with pytest.raises(
        ConfigError, match=r"bank.db: a SQLite database, not a table in text \(url: sqlite:///.*bank.db\)"
    ):
        starter_config(tmp_path / "bank.db", "y")
    with pytest.raises(ConfigError, match=r"dump.bin: a binary file, not a table in text; .*\{kind: sql, url: "):
        starter_config(tmp_path / "dump.bin", "y")


def test_an_id_given_with_id_that_names_rows_twice_is_refused_naming_them(tmp_path: Path, table: pd.DataFrame) -> None:
    # given the table with an id column in which 4 rows share 2 values
    ids = [7, 7, 8, 8, *range(9, 9 + len(table) - 4)]
    table.assign(txn_id=ids).to_csv(tmp_path / "t.csv", index=False)
    # when init is told it is the id / then it is refused before a config is written (was: accepted, train refused it)
    with pytest.raises(
        ConfigError, match=r"--id txn_id: column 'txn_id' is not unique: 4 rows share 2 values \(e.g. 7, 8\)"
    ):
        starter_config(tmp_path / "t.csv", "diagnosis", positive_label="malin", id_column="txn_id")


def test_a_rare_positive_class_gets_its_threshold_written_with_why(tmp_path: Path) -> None:
    # given 2% positives (fraud-like) and a balanced table
    rng = np.random.default_rng(5)
    rare = pd.DataFrame({"amount": rng.gamma(2.0, 30.0, 1000).round(2), "fraud": np.arange(1000) % 50 == 0})
    rare.to_csv(tmp_path / "rare.csv", index=False)
    rare.assign(fraud=np.arange(1000) % 2 == 0).to_csv(tmp_path / "even.csv", index=False)
    # when init writes each starter
    text, even = (starter_config(tmp_path / f"{n}.csv", "fraud") for n in ("rare", "even"))
    # then the rare one says a model may decide no row positive at 0.5, and where to change it (was: silent)
    assert "# positive rate 2.0%: a model's probabilities may never reach 0.5, and at this threshold it" in text
    assert "  # or lower it here\n  threshold: 0.5\n" in text
    assert parse_config(yaml.safe_load(text)).evaluation.threshold == 0.5
    # and the balanced one keeps the default unsaid
    assert "threshold:" not in even
    # and rows not labelled yet are neither positive nor negative: 3 of each 7 labelled rows, not 3 of 10
    labelled = rare.assign(fraud=np.where(np.arange(1000) % 10 < 3, None, np.arange(1000) % 2 == 0))
    labelled.to_csv(tmp_path / "part.csv", index=False)
    assert "negative; positive rate 42.9%" in starter_config(tmp_path / "part.csv", "fraud")


def test_a_table_smaller_than_the_drift_floor_says_its_windows_are_not_judged_on_drift(tmp_path: Path) -> None:
    # given iris (150 rows, no time column: each scoring a window) and the same rows twice over (300)
    from tests.integration.test_own_data import iris

    iris().to_csv(tmp_path / "iris.csv", index=False)
    pd.concat([iris()] * 2).to_csv(tmp_path / "twice.csv", index=False)
    # when init writes each starter
    small, larger = (starter_config(tmp_path / f"{n}.csv", "species") for n in ("iris", "twice"))
    # then the small one says drift is never judged on it, where min_labelled_rows alone was lowered (was: silent)
    config = parse_config(yaml.safe_load(small))
    assert config.monitoring.min_labelled_rows < 200 and config.monitoring.min_drift_rows == 200
    assert "  # noise): this table has 150 rows, so its windows are measured and reported but not judged" in small
    # and a table whose scoring reaches the floor leaves it unsaid
    assert "min_drift_rows" not in larger


def test_targets_far_outside_the_rest_are_named_and_the_margins_measured_without_them(tmp_path: Path) -> None:
    # given a regression table whose profits are in the thousands but for 5 rows in the millions (rows
    # 101, 202, ... as a file counts them), and the same table without them
    rng = np.random.default_rng(3)
    sqft = rng.integers(400, 5_000, 2_600)
    profit = sqft * 2.0 + rng.lognormal(0, 1, 2_600) * 300
    frame = pd.DataFrame({"sqft": sqft, "region": rng.choice(["n", "s"], 2_600), "profit": profit.round(2)})
    far = [100, 201, 302, 403, 504]
    frame.drop(index=far).to_csv(tmp_path / "clean.csv", index=False)
    frame.loc[far, "profit"] = [5e6, 8e6, -3e6, 1.2e7, 6e6]
    frame.to_csv(tmp_path / "stores.csv", index=False)
    # when init profiles each
    text = starter_config(tmp_path / "stores.csv", "profit")
    config = parse_config(yaml.safe_load(text), "s.yaml")
    clean = parse_config(yaml.safe_load(starter_config(tmp_path / "clean.csv", "profit")), "c.yaml")
    # then the 5 rows are named, with their values and what to do
    assert "# 5 rows hold a target far outside the rest (over 50 interquartile ranges beyond the quartiles)" in text
    assert (
        "data rows 101 (5e+06), 202 (8e+06), 303 (-3e+06), ...; check them or drop them (a typo or a unit slip), or keep them"
        in text
    )
    # and the margins are the clean table's (within a percent), not ~10x them, saying what they were measured on
    assert "a mean predictor's MAE on this table without its 5 far-out rows is" in text
    for scale in (lambda c: c.gate.min_lift_over_baseline, lambda c: c.monitoring.retraining.performance_tolerance):
        assert scale(config) == pytest.approx(scale(clean), rel=0.01)
    assert config.gate.max_regression_vs_champion == pytest.approx(clean.gate.max_regression_vs_champion, rel=0.01)


def test_a_skewed_target_without_far_out_rows_keeps_margins_from_the_whole_table(tmp_path: Path) -> None:
    # given a long-tailed quantity (lognormal: its median-based spread is far from its MAE) and no far-out rows
    rng = np.random.default_rng(5)
    price = pd.Series(rng.lognormal(5, 1, 2_000)).round(2)
    pd.DataFrame({"size": rng.normal(size=2_000).round(3), "price": price}).to_csv(tmp_path / "p.csv", index=False)
    # when init profiles it
    text = starter_config(tmp_path / "p.csv", "price")
    config = parse_config(yaml.safe_load(text), "p.yaml")
    # then the margins are shares of the mean predictor's MAE on every row, as before, and no row is named
    spread = float((price - price.mean()).abs().mean())
    robust = float((price - price.median()).abs().median())
    assert abs(robust - spread) > 0.2 * spread  # a robust figure in its place would have moved the margins
    assert config.gate.min_lift_over_baseline == pytest.approx(0.05 * spread, rel=0.01)
    assert config.monitoring.retraining.performance_tolerance == pytest.approx(0.05 * spread, rel=0.01)
    assert "far outside the rest" not in text and "a mean predictor's MAE on this table is" in text


def test_a_block_of_targets_in_other_units_gives_way_to_the_bulk_s_scale(tmp_path: Path) -> None:
    # given a quantity whose one month of 27 came in another unit (x1000): too many rows to leave out by name
    rng = np.random.default_rng(6)
    y = pd.Series(rng.normal(15, 5, 2_700)).round(3)
    frame = pd.DataFrame({"size": rng.normal(size=2_700).round(3), "y": y})
    frame.to_csv(tmp_path / "clean.csv", index=False)
    frame.assign(y=y.where(frame.index >= 100, y * 1000)).to_csv(tmp_path / "units.csv", index=False)
    # when init profiles each
    text = starter_config(tmp_path / "units.csv", "y")
    config = parse_config(yaml.safe_load(text), "u.yaml")
    clean = parse_config(yaml.safe_load(starter_config(tmp_path / "clean.csv", "y")), "c.yaml")
    # then the margins follow the bulk of the rows (about the clean table's), not the x1000 month (~100x them)
    assert config.gate.min_lift_over_baseline == pytest.approx(clean.gate.min_lift_over_baseline, rel=0.15)
    assert "the bulk of this table is" in text and "check the target's largest values" in text


def test_the_holdout_floor_is_never_above_what_the_split_holds_out_of_a_table_of_repeated_rows(
    tmp_path: Path,
) -> None:
    # given 1,500 rows of only ~124 distinct feature rows (age x plan; the free text is left out): identical
    # rows share a side, so the holdout moves in lumps (395 rows where 30% expects 450 and 405 was asked)
    rng = np.random.default_rng(1)
    age = rng.integers(18, 80, 1_500)
    words = np.array("the a broken fast slow great bad refund late".split())
    pd.DataFrame(
        {
            "age": age,
            "plan": rng.choice(["basic", "pro"], 1_500),
            "review": [" ".join(rng.choice(words, 8)) for _ in range(1_500)],
            "churned": rng.random(1_500) < 1 / (1 + np.exp(-0.05 * (age - 45))),
        }
    ).to_csv(tmp_path / "c.csv", index=False)
    # when init writes its starter and the table is split by it, as training splits it
    from perennial.core.data import split_frame
    from perennial.core.evidence import Evidence, shortfall

    text = starter_config(tmp_path / "c.csv", "churned")
    config = parse_config(yaml.safe_load(text), "c.yaml")
    _, holdout = split_frame(sources.read_source(config.data.source, tmp_path), config)
    # then the evidence asked for is what that holdout holds: its rows and each class's
    labels = holdout["churned"].astype(int).to_numpy()
    assert config.gate.min_evidence.holdout_rows <= len(holdout) < 405
    assert shortfall(Evidence.of_labels(labels), config.gate.min_evidence) == ()
    assert f"the split holds out {len(holdout)} rows of this table" in text


def test_the_interval_width_note_says_which_label_each_count_is_for_numbers_and_text_alike(tmp_path: Path) -> None:
    # given a rare outcome written 0/1, and the same one written as words
    rng = np.random.default_rng(2)
    outcome = rng.permutation(np.r_[np.ones(60), np.zeros(2_940)]).astype(int)
    frame = pd.DataFrame({"x": rng.normal(size=3_000).round(3), "fraud": outcome})
    frame.to_csv(tmp_path / "codes.csv", index=False)
    frame.assign(fraud=np.where(outcome == 1, "yes", "no")).to_csv(tmp_path / "words.csv", index=False)
    # when init writes each / then each count is read with its label, not as a run of numbers ('the 6 1 and 722 0')
    codes, words = (starter_config(tmp_path / f"{name}.csv", "fraud") for name in ("codes", "words"))
    held = re.search(r"on the (\d+) rows labelled 1 and ([\d,]+) labelled 0 that nearly every draw", codes)
    assert held is not None, codes
    assert f'on the {held[1]} rows labelled "yes" and {held[2]} labelled "no" that nearly every draw' in words


def test_codes_written_with_leading_zeros_stay_text_in_training_and_in_new_rows(tmp_path: Path) -> None:
    from perennial.io.preflight import with_new_rows
    from perennial.io.sources import read_source

    # given zip codes and a class written with leading zeros ('02139', '001'), beside plain numbers
    rng = np.random.default_rng(8)
    x = rng.normal(size=300).round(3)
    table = pd.DataFrame(
        {
            "x": x,
            "zip": rng.choice(["02139", "02140", "10001", "00501"], 300),
            "count": rng.integers(0, 9, 300),
            "grade": np.where(x > 0.5, "003", np.where(x < -0.5, "001", "002")),
        }
    )
    table.to_csv(tmp_path / "zeros.csv", index=False)
    # when init profiles it
    text = starter_config(tmp_path / "zeros.csv", "grade")
    config = parse_config(yaml.safe_load(text), "z.yaml")
    # then the codes are read as written (as numbers: 2139 and 3, a served '02139' refused), the counts as numbers
    assert config.data.source.text_columns == ("zip", "grade")  # type: ignore[union-attr]
    assert "zip" in config.data.features.categorical and "count" in config.data.features.numeric
    assert '{"002": ' in text and "multiclass" in text
    read = read_source(config.data.source.model_copy(update={"path": str(tmp_path / "zeros.csv")}))  # type: ignore[union-attr]
    assert read["zip"].tolist() == table["zip"].tolist() and read["grade"].tolist() == table["grade"].tolist()
    # and new rows to score keep them as text too
    table.drop(columns="grade").to_csv(tmp_path / "new.csv", index=False)
    new = with_new_rows(config, tmp_path / "new.csv").data.source
    assert read_source(new)["zip"].tolist() == table["zip"].tolist()


def test_a_tiny_binary_table_is_told_in_plain_words_what_its_evidence_allows(tmp_path: Path) -> None:
    # given 60 rows of the breast cancer table: about one malignant row is assured in the holdout
    from sklearn.datasets import load_breast_cancer

    table = load_breast_cancer(as_frame=True).frame.sample(60, random_state=0)[["mean radius", "worst area", "target"]]
    table.assign(target=np.where(table["target"] == 1, "benign", "malignant")).to_csv(tmp_path / "s.csv", index=False)
    # when init writes its starter
    text = starter_config(tmp_path / "s.csv", "target", "malignant")
    # then one row is a row, the widest interval says it refuses nothing, and two classes are not told to merge
    assert 'on the 1 row labelled "malignant"' in text and "1 rows" not in text
    assert "max_interval_width: 1.0" in text and "no width is refused" in text
    assert "too few to judge its recall; gather more rows" in text and "merge rare classes" not in text


def test_months_written_as_text_are_dates_and_months_written_as_numbers_are_named(
    tmp_path: Path, table: pd.DataFrame
) -> None:
    # given the same table with its month as text (2019-01) and as a number (201901)
    months = pd.period_range("2019-01", periods=48, freq="M")
    month = [months[i % 48] for i in range(len(table))]
    table.assign(month=[str(m) for m in month]).to_csv(tmp_path / "text.csv", index=False)
    table.assign(month=[m.year * 100 + m.month for m in month]).to_csv(tmp_path / "digits.csv", index=False)
    # when init runs / then the text is a date (suggested as the time, learnt from as its month of the
    # year), not 48 categories every later month is new to (fuzz8 L1)
    text = starter_config(tmp_path / "text.csv", "diagnosis", "malin")
    assert '# time_column: "month"' in text and '{column: "month", parts: [month]}' in text
    assert '"month"' not in text.split("categorical:")[1].split("\n")[0]
    # and with --time the split runs over those months
    config = parse_config(
        yaml.safe_load(starter_config(tmp_path / "text.csv", "diagnosis", "malin", time="month")), "s"
    )
    assert config.split.kind == "time" and "2019-01-01" < str(config.split.train_end) < "2023-01-01"
    # given the numbers / then init says what they are and how to split on them; --time says the same
    digits = starter_config(tmp_path / "digits.csv", "diagnosis", "malin")
    assert "'month' holds dates written as numbers (201901 to 202212: year and month)" in digits
    assert "write them as dates (e.g. 2019-01) and pass --time month" in digits
    with pytest.raises(ConfigError, match=r"holds dates written as numbers \(201901, 201902, 201903\.\.\.: year and"):
        starter_config(tmp_path / "digits.csv", "diagnosis", "malin", time="month")


def test_only_columns_of_whole_numbers_are_read_again_for_leading_zeros() -> None:
    # given numbers as init reads them: codes (ints, or whole floats with a gap), measurements and flags
    from perennial.io.starter import whole_numbers

    # then the codes are candidates, the measurements and the booleans are not
    assert whole_numbers(pd.Series([2139, 10001])) and whole_numbers(pd.Series([2139.0, None, 1.0]))
    assert not whole_numbers(pd.Series([0.25, 1.0])) and not whole_numbers(pd.Series([True, False]))
    assert not whole_numbers(pd.Series(["02139"]))
