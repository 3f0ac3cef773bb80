from __future__ import annotations

import io

import pandas as pd

from perennial.core.fingerprint import fingerprint, inputs_fingerprint


def test_fingerprint_changes_with_any_value(flights) -> None:
    changed = flights.copy()
    changed.loc[5, "temp"] += 0.001
    assert fingerprint(flights) == fingerprint(flights.copy())
    assert fingerprint(flights) != fingerprint(changed)


def test_nested_json_cells_hash_as_their_json_text_the_same_in_every_run() -> None:
    # given JSON lines with an object and a list field that no feature reads, read twice as training reads them
    lines = (
        '{"age": 41, "address": {"city": "a", "zip": "1"}, "tags": ["x", "y"], "bought": false}\n'
        '{"age": 52, "address": {"zip": "2", "city": "b"}, "tags": [], "bought": true}\n'
    )
    first, again = (pd.read_json(io.StringIO(lines), lines=True) for _ in range(2))
    # when fingerprinted (this raised "unhashable type: 'dict'" at the end of a whole training run)
    # then the print is stable, and a change inside a nested cell still changes it
    assert fingerprint(first) == fingerprint(again)
    changed = again.copy()
    changed.at[1, "address"] = {"zip": "2", "city": "c"}
    assert fingerprint(changed) != fingerprint(first)
    # and keys in another order are the same object: the same print
    reordered = first.copy()
    reordered.at[0, "address"] = {"zip": "1", "city": "a"}
    assert fingerprint(reordered) == fingerprint(first)


def test_the_inputs_fingerprint_ignores_labels_and_row_order_by_id_but_not_other_rows() -> None:
    # given rows scored before their labels came, keyed by id
    scored = pd.DataFrame({"id": [3, 1, 2], "x": [0.5, 1.5, 2.5], "city": ["a", "b", "c"]})
    digest = inputs_fingerprint(scored, ["x", "city"], "id")
    # when the same rows come back with labels, in another order / then they are the same inputs
    labelled = scored.assign(label=[1, 0, 1]).iloc[[2, 0, 1]]
    assert inputs_fingerprint(labelled, ["x", "city"], "id") == digest
    # when one row's input changed, or the ids restart on other rows / then they are not
    assert inputs_fingerprint(scored.assign(x=[0.5, 1.5, 9.0]), ["x", "city"], "id") != digest
    assert inputs_fingerprint(scored.assign(city=["d", "e", "f"]), ["x", "city"], "id") != digest
    # and without an id the order is part of the rows (their keys are made from content and position)
    assert inputs_fingerprint(scored, ["x", "city"], None) != inputs_fingerprint(scored.iloc[::-1], ["x", "city"], None)
