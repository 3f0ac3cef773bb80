"""A monitoring window's predictions held as partitions: which rows count, and the label join's rows (pure).

The prediction store keeps every scoring of an id (a re-scored day, a service retry, batch and service
both); the in-memory path keeps the one scored last (``latest_predictions``: ordered by ``scored_at``,
ties in read order). Over partitions each row carries ``POSITION``, its place in that read order (its
file's index, then its row), so "scored last" is the largest (scored_at, position). The ids that repeat
are found from 64-bit hashes merged over partitions (``HashCounts``, as the contract's uniqueness rule);
only their rows are brought together, to pick the one that counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from perennial.core.monitoring import scored_columns
from perennial.core.partitions import Reduce
from perennial.core.validation_parts import HashCounts, hash_values

POSITION = "_position"  # a prediction row's place in the in-memory path's read order
LABEL_POSITION = "_label_position"  # a label row's place in its source (the last label of an id counts)
ROW_BITS = 32  # a position is (partition number << ROW_BITS) + row: up to 4 billion rows a partition


def with_positions(frame: pd.DataFrame, number: int, column: str = POSITION) -> pd.DataFrame:
    """``frame`` with each row's position in read order, partition ``number`` coming after the ones before."""
    return frame.assign(**{column: (np.int64(number) << ROW_BITS) + np.arange(len(frame), dtype=np.int64)})


@dataclass(frozen=True, slots=True, eq=False)
class PredictionParts:
    """Rows and id hashes of a window's prediction rows, mergeable over partitions."""

    rows: int
    ids: HashCounts

    def merge(self, other: PredictionParts) -> PredictionParts:
        return PredictionParts(self.rows + other.rows, self.ids.merge(other.ids))


def summarise_predictions(frame: pd.DataFrame) -> PredictionParts:
    return PredictionParts(len(frame), HashCounts.of(frame["id"]))


def superseded(reduce: Reduce, parts: PredictionParts) -> np.ndarray:
    """The positions of the rows ``latest_predictions`` drops: every scoring of an id but its last.

    One more pass when an id repeats, reading only the rows whose id shares a hash with another row
    (a hash collision of two ids only brings both in: the choice is made on the ids themselves).
    """
    repeated = parts.ids.repeated
    if not repeated.size:
        return np.empty(0, dtype=np.int64)
    columns = ["id", "scored_at", POSITION]

    def candidates(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.loc[np.isin(hash_values(frame["id"]), repeated), columns]

    found = reduce(candidates, lambda a, b: pd.concat([a, b]), columns)
    latest = found.sort_values(["scored_at", POSITION]).drop_duplicates("id", keep="last")
    dropped: np.ndarray = np.setdiff1d(found[POSITION].to_numpy(np.int64), latest[POSITION].to_numpy(np.int64))
    return dropped


def without_positions(frame: pd.DataFrame, positions: np.ndarray) -> pd.DataFrame:
    """The rows of ``frame`` whose position is not in ``positions`` (a partition, as ``superseded`` names them)."""
    return frame.loc[~np.isin(frame[POSITION].to_numpy(np.int64), positions)]


def in_read_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows ordered as ``latest_predictions`` orders them: by scoring time, ties in read order."""
    return frame.sort_values(["scored_at", POSITION], kind="stable").reset_index(drop=True)


def last_labels(joined: pd.DataFrame) -> pd.DataFrame:
    """One partition of the merge on id: each id's last label only, without ``LABEL_POSITION``.

    ``joined``: latest prediction rows (one an id) merged on id with every label row of the source. Each
    of an id's label rows lands in the partition of its one prediction row (a hash join sends equal ids to
    one partition, a broadcast join merges each prediction partition whole), so a partition decides alone.
    """
    last = joined.sort_values(LABEL_POSITION, kind="stable").drop_duplicates("id", keep="last")
    return last.drop(columns=LABEL_POSITION)


def in_join_order(rows: pd.DataFrame) -> pd.DataFrame:
    """The joined rows as ``join_labels`` gives them: in the predictions' order (``in_read_order``'s),
    columns id, prediction (and class probabilities), label; a sort of two integer keys, so a window of
    tens of millions of rows is copied once, a column at a time."""
    order = np.lexsort((rows[POSITION].to_numpy(np.int64), rows["scored_at"].to_numpy("datetime64[ns]")))
    taken = {column: rows[column].array.take(order) for column in [*scored_columns(rows.columns), "label"]}
    return pd.DataFrame(taken, copy=False)  # copied, the float columns were gathered into one block: 600 MB more
