"""A window's predictions over partitions: the rows that count and the label join, as in memory."""

from __future__ import annotations

import numpy as np
import pandas as pd

from perennial.config import Config
from perennial.core.monitoring import join_labels, known_labels, latest_predictions
from perennial.core.monitoring_partitioned import (
    LABEL_POSITION,
    in_join_order,
    in_read_order,
    last_labels,
    summarise_predictions,
    superseded,
    with_positions,
    without_positions,
)
from perennial.core.partitions import over_frames, split_frame


def _store_rows() -> pd.DataFrame:
    """Prediction rows as the store reads them: "a" scored three times, the last two at the same time
    (the later read wins the tie), "c" twice, the others once."""
    days = ["2013-07-01", "2013-07-01", "2013-07-03", "2013-07-01", "2013-07-02", "2013-07-03", "2013-07-03"]
    return pd.DataFrame(
        {
            "id": ["a", "b", "a", "d", "c", "a", "c"],
            "prediction": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7],
            "scored_at": pd.to_datetime(days, utc=True),
        }
    )


def _parts(rows: pd.DataFrame, parts: int) -> list[pd.DataFrame]:
    return [with_positions(part, number) for number, part in enumerate(split_frame(rows, parts))]


def _latest_over(parts: list[pd.DataFrame]) -> pd.DataFrame:
    reduce = over_frames(parts)
    dropped = superseded(reduce, reduce(summarise_predictions, lambda a, b: a.merge(b), ["id"]))
    kept = pd.concat([without_positions(part, dropped) for part in parts])
    return in_read_order(kept).drop(columns="_position")


def test_each_ids_last_scoring_is_kept_over_partitions_as_in_memory() -> None:
    # given store rows where ids repeat across partitions, with a tie on the scoring time
    rows = _store_rows()
    # when the latest rows are found over 1, 3 and 4 partitions
    # then each gives the in-memory rows, in the in-memory order
    expected = latest_predictions(rows)
    assert expected["prediction"].tolist() == [0.2, 0.4, 0.6, 0.7]  # "a": the later of two tied reads
    for parts in (1, 3, 4, 7):
        pd.testing.assert_frame_equal(_latest_over(_parts(rows, parts)), expected)


def test_a_partition_left_out_changes_the_rows_that_count() -> None:
    # given the same rows in three partitions
    parts = _parts(_store_rows(), 3)
    # when the last partition (the last scorings of "a" and "c") is left out
    without_last = _latest_over(parts[:-1])
    # then "a" and "c" keep earlier scores: a comparison with the in-memory rows would fail
    assert dict(zip(without_last["id"], without_last["prediction"], strict=True)) == {
        "b": 0.2,
        "d": 0.4,
        "a": 0.3,
        "c": 0.5,
    }


def test_nothing_is_read_again_when_no_id_repeats() -> None:
    # given partitions whose ids are all distinct
    parts = _parts(pd.DataFrame({"id": ["a", "b", "c"], "scored_at": pd.to_datetime(["2013-07-01"] * 3, utc=True)}), 2)
    calls: list[int] = []

    def reduce(summarise, merge, columns=None):  # type: ignore[no-untyped-def]
        calls.append(1)
        return over_frames(parts)(summarise, merge, columns)

    # when the superseded rows are asked for, then none, and no pass was made for them
    assert superseded(reduce, summarise_predictions(pd.concat(parts))).size == 0 and calls == []


def test_the_partitioned_join_keeps_the_last_label_and_the_predictions_order(tiny_config: Config) -> None:
    # given latest predictions, and a label source where flight 3 was labelled twice (corrected) and 4 never
    predictions = latest_predictions(
        _store_rows().assign(id=lambda f: f["id"].map({"a": "1", "b": "2", "c": "3", "d": "4"}))
    )
    labels = pd.DataFrame({"flight_id": [3, 1, 2, 3, 4], "delayed": [0, 1, 0, 1, None]})
    expected = join_labels(predictions, labels, tiny_config, "labels")
    # when the join is made as the partitioned path makes it: labels coded per partition with their
    # positions, merged on id with the positioned predictions, the result in a shuffled order (a hash join's)
    parts = [with_positions(part, n, LABEL_POSITION) for n, part in enumerate(split_frame(labels, 2))]
    known = pd.concat(
        [known_labels(p, tiny_config, "labels").assign(**{LABEL_POSITION: p[LABEL_POSITION]}) for p in parts]
    )
    merged = with_positions(predictions, 0).merge(known, on="id").sample(frac=1.0, random_state=3)
    # (as a hash join's partitions: an id's rows together, each partition's last labels kept apart)
    hashed = [last_labels(part) for _, part in merged.groupby(merged["id"].isin(["1", "3"]), sort=False)]
    # then it is the in-memory join, row for row: flight 3 carries its corrected label
    pd.testing.assert_frame_equal(in_join_order(pd.concat(hashed)), expected)
    assert dict(zip(expected["id"], expected["label"], strict=True))["3"] == 1.0


def test_positions_follow_the_read_order_across_partitions() -> None:
    first, second = (with_positions(pd.DataFrame({"x": range(n)}), i) for i, n in enumerate((3, 2)))
    positions = np.concatenate([first["_position"], second["_position"]])
    assert (np.diff(positions) > 0).all() and positions[0] == 0 and positions[3] == 1 << 32
