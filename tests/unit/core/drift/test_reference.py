from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from perennial.core.drift import ReferenceStats, build_reference


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "amount": [3.0, 1.0, np.nan, 2.0, np.inf, 1.0],
            "count": pd.array([1, 2, 2, None, 2, 1], dtype="Int64"),
            "city": ["a", "b", None, "a", "a", "c"],
            "code": [7, 7, 8, 9, 9, 9],
            "member": [True, False, True, True, True, False],
        }
    )


def test_numeric_keeps_sorted_finite_values_and_their_std() -> None:
    # given / when
    ref = build_reference(frame(), ["amount"], []).numeric["amount"]
    # then nulls and +-inf are dropped, as Evidently does before testing
    assert ref.rows == 4 and ref.n_unique == 3
    np.testing.assert_array_equal(ref.expanded(), [1.0, 1.0, 2.0, 3.0])
    assert ref.std == pytest.approx(np.std([1.0, 1.0, 2.0, 3.0]))
    assert ref.values.dtype == np.float64


def test_many_ties_are_stored_as_values_with_counts() -> None:
    ref = build_reference(pd.DataFrame({"n": [1.0, 2.0] * 50}), ["n"], []).numeric["n"]
    np.testing.assert_array_equal(ref.values, [1.0, 2.0])
    np.testing.assert_array_equal(ref.counts, [50, 50])
    assert ref.expanded().size == 100


def test_continuous_values_are_stored_whole() -> None:
    ref = build_reference(pd.DataFrame({"n": np.arange(10.0)}), ["n"], []).numeric["n"]
    assert ref.counts is None and ref.values.size == 10


def test_categorical_counts_present_values_only() -> None:
    stats = build_reference(frame(), [], ["city", "code", "member"])
    city = stats.categorical["city"]
    assert dict(zip(city.labels, city.counts.tolist(), strict=True)) == {"a": 3, "b": 1, "c": 1}
    assert city.rows == 5
    code = stats.categorical["code"]
    assert dict(zip(code.labels, code.counts.tolist(), strict=True)) == {7: 2, 8: 1, 9: 3}


def test_round_trip_through_bytes_keeps_every_value_and_type() -> None:
    # given
    stats = build_reference(frame(), ["amount", "count"], ["city", "code", "member"])
    # when
    back = ReferenceStats.from_bytes(stats.to_bytes())
    # then
    assert back.columns == stats.columns and back.rows == 6
    for name, ref in stats.numeric.items():
        np.testing.assert_array_equal(back.numeric[name].expanded(), ref.expanded())
        assert (back.numeric[name].std, back.numeric[name].n_unique) == (ref.std, ref.n_unique)
    for name, ref in stats.categorical.items():
        assert back.categorical[name].labels == ref.labels
        assert [type(v) for v in back.categorical[name].labels] == [type(v) for v in ref.labels]
        np.testing.assert_array_equal(back.categorical[name].counts, ref.counts)


def test_round_trip_keeps_float64_precision() -> None:
    values = np.random.default_rng(0).normal(1e6, 1, 1000)
    back = ReferenceStats.from_bytes(build_reference(pd.DataFrame({"v": values}), ["v"], []).to_bytes())
    np.testing.assert_array_equal(back.numeric["v"].values, np.sort(values))


def test_an_unknown_format_is_refused() -> None:
    # given an archive written by a future format
    with np.load(io.BytesIO(build_reference(frame(), ["amount"], []).to_bytes())) as npz:
        arrays = dict(npz)
    arrays["meta"] = np.array(json.dumps({**json.loads(str(arrays["meta"])), "format": 99}))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    # when / then
    with pytest.raises(ValueError, match="format"):
        ReferenceStats.from_bytes(buffer.getvalue())


@pytest.mark.parametrize(
    ("numeric", "categorical", "data", "message"),
    [
        (["missing"], [], {"a": [1.0]}, "no column"),
        (["a"], ["a"], {"a": [1.0]}, "both numeric and categorical"),
        (["a"], [], {"a": [np.nan, np.inf]}, "no finite values"),
        ([], ["a"], {"a": [None, None]}, "no non-null values"),
        (["a"], [], {"a": ["x", "y"]}, "not a number type"),
        ([], ["a"], {"a": ["x", 1]}, "cast it"),
    ],
)
def test_unusable_references_are_errors(numeric, categorical, data, message) -> None:
    with pytest.raises(ValueError, match=message):
        build_reference(pd.DataFrame(data), numeric, categorical)
