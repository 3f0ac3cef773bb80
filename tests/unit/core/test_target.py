from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perennial.config import Target
from perennial.core.target import (
    Labels,
    class_names,
    class_value,
    infer_task,
    label_key,
    label_keys,
    resolve_labels,
)
from perennial.errors import TargetError


@pytest.mark.parametrize(
    ("values", "positive", "negative"),
    [
        ([0, 1, 1, 0], 1, 0),
        ([False, True, True], True, False),
        (["no", "yes", "no"], "yes", "no"),
        (["Yes", "No"], "Yes", "No"),
        ([0.0, 1.0], 1.0, 0.0),
        (["True", "False"], "True", "False"),
    ],
)
def test_the_positive_label_is_inferred_when_the_values_make_it_plain(values, positive, negative) -> None:
    # given a two-valued column with no positive_label / when resolved / then the obvious side is positive
    labels = resolve_labels(pd.Series(values), Target(column="y"))
    assert (labels.positive, labels.negative) == (positive, negative)


def test_text_labels_without_a_positive_label_ask_for_one_listing_the_values() -> None:
    # given "M"/"B" (which is positive cannot be told) / when resolved / then the error lists both and names the key
    with pytest.raises(
        TargetError, match=r"data.csv: cannot tell .* 'diagnosis' .*\['M', 'B'\].*data.target.positive_label"
    ):
        resolve_labels(pd.Series(["M", "B", "M"]), Target(column="diagnosis"), "data.csv")


def test_a_configured_positive_label_is_matched_by_value_not_spelling() -> None:
    # given YAML's positive_label 1 and a CSV's 1.0 / when resolved / then they are the same label
    labels = resolve_labels(pd.Series([0.0, 1.0, np.nan]), Target(column="y", positive_label=1))
    assert labels.positive == 1.0 and labels.negative == 0.0
    # and text stays case-sensitive: "m" is not "M"
    with pytest.raises(TargetError, match=r"positive_label 'm' is not among the values of 'd': \['M', 'B'\]"):
        resolve_labels(pd.Series(["M", "B"]), Target(column="d", positive_label="m"))


@pytest.mark.parametrize("values", [["a"], ["a", "b", "c"], []])
def test_a_target_without_exactly_two_values_is_an_error(values) -> None:
    with pytest.raises(TargetError, match="must hold exactly two values"):
        resolve_labels(pd.Series(values, dtype=object), Target(column="y", positive_label="a"))


def test_encode_and_decode_round_trip_and_a_third_value_is_named() -> None:
    # given labels M (positive) / B
    labels = Labels("diagnosis", "M", "B")
    # when encoded / then 1 for M, 0 for B, missing stays missing
    codes = labels.encode(pd.Series(["M", "B", None, "M"]))
    assert codes.tolist()[:2] == [1.0, 0.0] and np.isnan(codes[2]) and codes[3] == 1.0
    assert labels.decode(np.array([True, False])) == ["M", "B"]
    # and a value that is neither label is named
    with pytest.raises(TargetError, match=r"labels.csv: target 'diagnosis' holds \['X'\] besides") as plain:
        labels.encode(pd.Series(["M", "X"]), "labels.csv")
    assert "written otherwise" not in str(plain.value)
    # and one that is a label but for case or spaces is said to be so
    words = Labels("diagnosis", "malignant", "benign")
    with pytest.raises(TargetError, match=r"'Malignant ' is 'malignant' written otherwise \(case or spaces\)"):
        words.encode(pd.Series(["malignant", "Malignant ", "benign"]), "new.csv")


def test_labels_travel_as_json_and_old_versions_read_as_0_1() -> None:
    labels = Labels("d", "M", "B")
    assert Labels.from_json(labels.to_json()) == labels
    assert Labels.from_json(None, "delayed") == Labels("delayed", 1, 0)
    assert label_key(True) == "true" and label_key(1.0) == "1" and label_key("M") != label_key("m")


POISSON = [200, 400, 500, 480, 420, 330, 190, 160, 100, 50, 40, 25, 10, 5, 3, 2]  # rows of 0, 1, 2...
COUNTS = [v for v, rows in enumerate(POISSON) for _ in range(rows)]


@pytest.mark.parametrize(
    ("values", "task", "why"),
    [
        (["M", "B", "M"], "binary", "two distinct values"),
        ([0.0, 1.0, 1.0], "binary", "two distinct values"),
        (["setosa", "versicolor", "virginica", "setosa"], "multiclass", "3 distinct text values"),
        ([0, 1, 2, 2, 1], "multiclass", "3 whole-number values (pass --task regression"),
        ([float(v) for v in range(25, 350, 13)], "regression", "25 distinct whole numbers"),  # whole floats
        ([0.5, 1.25, 3.0], "regression", "3 distinct numbers"),
        (list(range(30)), "regression", "30 distinct whole numbers"),  # too many values to be classes
        # a count: 0..15 in one run, the highest rare / the same run with even rows, or with gaps: class codes
        (COUNTS, "regression", "16 whole numbers that run 0..15 and thin out (the three highest on 0.3% of rows)"),
        ([v for v in range(12) for _ in range(30)], "multiclass", "12 whole-number values"),
        ([2 * v for v, rows in enumerate(POISSON) for _ in range(rows)], "multiclass", "16 whole-number values"),
    ],
)
def test_the_task_is_inferred_from_the_target_values_with_its_reason(values, task, why) -> None:
    # given a target column / when its task is inferred / then the task and its reason in words
    inferred, reason = infer_task(pd.Series(values + [None], name="y"))
    assert inferred == task and reason.startswith(why)


@pytest.mark.parametrize(
    ("values", "dtype", "said"),
    [(["a", "a"], object, "only 'a'"), ([None, None], object, "no values"), ([1, 1], "int64", "only 1")],
)
def test_a_target_with_one_outcome_is_refused_by_name(values, dtype, said) -> None:
    # numpy's 1 is said as 1, not np.int64(1)
    with pytest.raises(TargetError, match=rf"t.csv: target 'y' holds {said}: a model needs at least two outcomes"):
        infer_task(pd.Series(values, name="y", dtype=dtype), "t.csv")


def test_labels_spelt_several_ways_are_refused_naming_each_spelling() -> None:
    # given a churn flag typed by hand: 'Yes' and 'yes ', 'No' and ' no' (one outcome each)
    values = pd.Series(["Yes", "No", "yes ", " no", "Yes", None], name="churned")
    message = r"target 'churned' spells an outcome more than one way .*'Yes' = 'yes '; 'No' = ' no'"
    # when its task is inferred, or its two labels resolved / then both refuse, naming the spellings
    with pytest.raises(TargetError, match=message):
        infer_task(values)
    with pytest.raises(TargetError, match=message):
        resolve_labels(values, Target(column="churned", positive_label="Yes"))
    # while one spelling per outcome, and classes that differ in more than case, are fine
    assert infer_task(pd.Series(["Yes", "No", "Yes"], name="churned"))[0] == "binary"
    assert infer_task(pd.Series(["Yes", "No", "Maybe", "yesterday"], name="churned"))[0] == "multiclass"


def test_whole_number_labels_read_as_floats_are_answered_as_whole_numbers() -> None:
    # given 0/1 read as floats (a nullable Int64 read plain, a CSV column with a gap) and labels that are fractions
    whole = resolve_labels(pd.Series([0.0, 1.0, np.nan]), Target(column="y"))
    halves = resolve_labels(pd.Series([0.5, 1.5]), Target(column="y", positive_label=1.5))
    # then the whole numbers are ints everywhere they are shown (1, not 1.0); fractions stay floats
    assert (type(whole.positive), whole.positive, type(whole.negative), whole.negative) == (int, 1, int, 0)
    assert whole.to_json() == '{"column": "y", "negative": 0, "positive": 1}'
    assert whole.decode(np.array([1, 0])) == [1, 0] and [type(v) for v in whole.decode(np.array([1]))] == [int]
    assert (halves.positive, halves.negative) == (1.5, 0.5) and type(halves.positive) is float


@pytest.mark.parametrize(
    ("values", "dtype", "names"),
    [
        ([3, 5, 7], "int64", ["3", "5", "7"]),
        ([3.0, 5.0, np.nan], "float64", ["3", "5", None]),  # a label feed with a gap: read as floats
        ([3, 5, None], "Int64", ["3", "5", None]),
        ([2.5, 3.0], "float64", ["2.5", "3.0"]),  # not whole numbers: named as written
        ([2, 2.0, "2", "a ", None], "object", ["2", "2", "2", "a ", None]),  # a JSON feed's mix; text as it is
    ],
)
def test_multiclass_names_are_the_same_whatever_dtype_the_labels_were_read_as(values, dtype, names) -> None:
    # given one class column read as ints, floats with a gap, nullable ints or mixed objects
    # then whole numbers are named alike ('3', never '3.0'), and a gap stays missing
    got = class_names(pd.Series(values, dtype=dtype)).tolist()
    assert [None if pd.isna(v) else v for v in got] == names


@pytest.mark.parametrize(
    ("name", "value"),
    [("4", 4), ("-1", -1), ("0", 0), ("04", "04"), ("4.5", "4.5"), ("3.0", "3.0"), ("gold", "gold"), ("", "")],
)
def test_a_class_named_by_a_whole_number_is_answered_as_that_number(name, value) -> None:
    # given a class name; then a whole number's own name comes back as the number, any other as text
    got = class_value(name)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(
    ("values", "example", "plain"),
    [
        ([f"${v:,.2f}" for v in (16884.92, 1725.55, 4449.46, 21984.47, 3866.86)], r"'\$16,884.92'", "16884.92"),
        ([f"{v:,.2f}" for v in (16884.92, 1725.55, 4449.46, 21984.47, 3866.86)], "'16,884.92'", "16884.92"),
        (["12.5%", "3%", "40.25%", "7.75%"], "'12.5%'", "12.5"),
    ],
)
def test_a_target_of_amounts_written_as_text_is_refused_with_the_plain_number(values, example, plain) -> None:
    # given medical insurance charges written as money ('$16,884.92'): read as text, each one a class
    charges = pd.Series(values, name="charges")
    # when its task is inferred / then it is refused, naming the file, the column, a value and the plain number
    with pytest.raises(
        TargetError, match=rf"insurance.csv: target 'charges' holds numbers written as text \({example}\)"
    ):
        infer_task(charges, "insurance.csv")
    with pytest.raises(
        TargetError, match=rf"write the column as plain numbers \({plain}\) to predict it as a quantity"
    ):
        infer_task(charges, "insurance.csv")
    # while text classes that merely contain a digit or a sign stay classes
    assert infer_task(pd.Series(["A1", "B2", "C3", "A1"], name="grade"))[0] == "multiclass"
    assert infer_task(pd.Series(["<=50K", ">50K", "n/a"], name="income"))[0] == "multiclass"


def test_a_text_target_where_nearly_every_row_is_its_own_class_is_refused() -> None:
    # given 300 ticket codes, nearly each on one row, and 30 classes of 10 rows each
    tickets = pd.Series([f"T-{i:05d}" for i in range(290)] + ["T-00001"] * 10, name="ticket")
    classes = pd.Series([f"class {i % 30}" for i in range(300)], name="species")
    # when each task is inferred / then the tickets are refused with the counts, an example and what to do
    with pytest.raises(
        TargetError,
        match=r"t.csv: target 'ticket' holds 290 classes, 289 of them on 2 rows or fewer \(e.g. 'T-00000'\)",
    ):
        infer_task(tickets, "t.csv")
    with pytest.raises(TargetError, match=r"if it is a quantity write it as plain numbers \(regression\)"):
        infer_task(tickets, "t.csv")
    # while many classes with rows enough each stay a multiclass target
    assert infer_task(classes)[0] == "multiclass"


@pytest.mark.parametrize(
    "values",
    [
        [" Yes", "no", None, "TRUE", "no"],  # text: spaces trimmed, booleans written as text lowered
        [1.0, 0.0, None, 1.0],  # whole floats (a gap made them floats)
        [True, False, True],
        [1, 0, 1],
        [True, 1, "1", 1.0, None],  # mixed objects: True and 1 are one key to a dict, two labels here
    ],
)
def test_label_keys_are_each_values_label_key(values: list[object]) -> None:
    series = pd.Series(values)
    expected = series.map(label_key, na_action="ignore")
    pd.testing.assert_series_equal(label_keys(series), expected)
    if values[0] is True and values[1] == 1:  # the mixed column: a dict of its distinct values would conflate
        assert label_keys(series).tolist()[:2] == ["true", "1"]
