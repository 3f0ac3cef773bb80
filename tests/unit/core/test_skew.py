"""Train/serve skew: served feature rows against the champion's training reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perennial.core.drift import build_reference
from perennial.core.skew import detect_skew
from tests.conftest import make_flights


def _reference():
    return build_reference(make_flights(rows=3000, seed=0), ["distance", "temp"], ["carrier", "origin"])


def test_served_rows_like_training_show_no_skew() -> None:
    # given served rows drawn like the training data
    served = make_flights(rows=1500, seed=5)
    # when compared / then no column is skewed
    report = detect_skew(_reference(), served, model_version="1")
    assert not report.skewed and "no train/serve skew" in report.summary()
    assert {c.column for c in report.drift.columns} == {"distance", "temp", "carrier", "origin"}


def test_a_unit_change_and_a_missing_column_are_skew() -> None:
    # given a service that receives temperature in Celsius and no origin at all
    served = make_flights(rows=1500, seed=5).assign(temp=lambda f: (f["temp"] - 32) / 1.8).drop(columns=["origin"])
    # when compared
    report = detect_skew(_reference(), served, model_version="3")
    # then temp is skewed and origin is reported as never received
    assert report.skewed_columns == ("temp", "origin")
    assert report.missing_columns == ("origin",)
    payload = report.to_dict()
    assert payload["kind"] == "train_serve_skew" and "never received" in report.to_markdown()
    assert "champion v3" in report.summary()


def test_categories_logged_as_other_types_compare_as_text() -> None:
    # given a reference of string categories and served values as objects, numbers as objects
    served = make_flights(rows=800, seed=6)
    served["temp"] = served["temp"].astype(object)
    # when compared / then nothing is skewed by the types alone
    assert not detect_skew(_reference(), served).skewed


def test_no_rows_or_no_known_column_is_an_error() -> None:
    with pytest.raises(ValueError, match="no served rows"):
        detect_skew(_reference(), pd.DataFrame())
    with pytest.raises(ValueError, match="none of the training columns"):
        detect_skew(_reference(), pd.DataFrame({"x": np.arange(3)}))
