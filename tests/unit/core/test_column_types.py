from __future__ import annotations

import numpy as np
import pandas as pd

from perennial.core.column_types import degenerate, infer_types, suggest_id, suggest_time


def test_columns_are_typed_from_their_values_and_useless_ones_left_out_with_why() -> None:
    # given one column of each kind
    rows = 400
    frame = pd.DataFrame(
        {
            "age": np.arange(rows) % 90,
            "plan": np.where(np.arange(rows) % 2, "basic", "pro"),
            "active": np.arange(rows) % 3 == 0,
            "signed_up": pd.date_range("2024-01-01", periods=rows, freq="h").astype(str),
            "note": [f"free text {i}" for i in range(rows)],
            "empty": np.nan,
            "country": "NL",
            "version": 1,
            "label": np.arange(rows) % 2,
        }
    )
    # when typed (the label excluded)
    types = infer_types(frame, exclude=("label",))
    # then each lands in its list, and the left-out ones say why
    assert types.numeric == ("age",) and types.categorical == ("plan", "active") and types.datetime == ("signed_up",)
    assert set(types.dropped) == {"note", "empty", "country", "version"}
    assert "distinct values" in types.dropped["note"] and types.dropped["empty"] == "all values are missing"
    assert types.dropped["country"] == "one value only ('NL')" and types.dropped["version"] == "one value only (1)"
    assert degenerate(frame["age"]) is None
    # and one value with gaps is a flag (a complaint filed or not), not a constant: it stays a feature
    flag = pd.Series(["Y", None, None, "Y"] * 5)
    assert degenerate(flag) is None and degenerate(flag.fillna("Y")) == "one value only ('Y')"


def test_id_and_time_are_suggested_or_why_not() -> None:
    frame = pd.DataFrame(
        {"customer_id": range(50), "x": [1.0] * 50, "at": pd.date_range("2024-01-01", periods=50).astype(str)}
    )
    assert suggest_id(frame)[0] == "customer_id" and suggest_time(frame)[0] == "at"
    assert suggest_id(frame.drop(columns="customer_id"))[0] is None
    none, why = suggest_time(frame.drop(columns="at"))
    assert none is None and "no column holds timestamps" in why


def test_an_id_or_a_row_number_names_rows_and_is_left_out_of_the_features() -> None:
    # given a unique id, a saved index (pandas' `Unnamed: 0`), and whole numbers that describe rows
    rows = 300
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "Customer ID": np.arange(100_000, 100_000 + rows) * 3,  # unique, named like an id, not consecutive
            "Unnamed: 0": rng.permutation(rows) + 1,  # 1..300 in any order
            "tenure": rng.integers(1, 72, rows),  # repeats: describes
            "account_number": rng.choice(10**9, rows, replace=False),  # unique, not named like an id, gaps
            "order_id": np.r_[np.arange(rows - 1), 0],  # named like an id, one repeat: not an id
            "amount_paid": rng.choice(10**6, rows, replace=False),  # unique cents, a word ending in 'id'
            "PassengerId": rng.choice(10**6, rows, replace=False),  # camel case: an id
        }
    )
    # when typed
    types = infer_types(frame)
    # then the ids and the row number are left out with why, the others stay features
    assert set(types.dropped) == {"Customer ID", "Unnamed: 0", "PassengerId"}
    assert "named like an id" in types.dropped["Customer ID"] and "row number" in types.dropped["Unnamed: 0"]
    assert types.numeric == ("tenure", "account_number", "order_id", "amount_paid")


def test_nested_json_objects_and_lists_are_left_out_with_how_to_flatten_them() -> None:
    # given JSON lines whose fields hold an object and a list beside plain ones, read as init reads them
    rows = [
        {"age": 20 + i % 50, "address": {"city": "ab"[i % 2]}, "tags": ["x", "y"][: i % 3], "bought": i % 3 == 0}
        for i in range(60)
    ]
    frame = pd.DataFrame(rows)
    # when typed (this raised "unhashable type: 'dict'")
    types = infer_types(frame, exclude=("bought",), target=frame["bought"])
    # then the nested columns are left out, each saying how to flatten it; the plain one stays a feature
    assert types.features == ("age",)
    assert types.dropped["address"] == "nested JSON objects/lists: flatten them into plain columns, e.g. address.city"
    assert types.dropped["tags"].startswith("nested JSON objects/lists: flatten them")


def test_months_and_quarters_written_as_text_read_as_dates_and_codes_do_not() -> None:
    from perennial.core.column_types import looks_like_datetime, written_as_periods

    periods = ["2019-01", "2019/1", "01/2019", "Jan 2019", "January 2019", "Sept. 2019", "2019Q1", "2019-Q1"]
    for value in periods:
        column = pd.Series([value, value], dtype=object)
        assert looks_like_datetime(column) and written_as_periods(column), value
    # a day is a date but not a period; codes shaped alike are neither
    assert looks_like_datetime(pd.Series(["2019-01-31"])) and not written_as_periods(pd.Series(["2019-01-31"]))
    for code in (["2019-13"], ["AB 2019"], ["12-34"], ["2019-01", "A-7"]):
        assert not looks_like_datetime(pd.Series(code, dtype=object)), code
