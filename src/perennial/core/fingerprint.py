"""A content hash of a table: what ties a model version to the exact rows it learnt and was judged on."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

NESTED = (dict, list, tuple, np.ndarray)  # JSON objects and arrays as pandas and pyarrow read them into cells


def fingerprint(frame: pd.DataFrame) -> str:
    """A content hash of the whole frame (values, columns and order): ties a model to its data.

    Every column counts, the ones no feature reads too: lineage is of the table as read. Cells
    holding JSON objects or lists (a nested JSON-lines field) hash as their JSON text, keys sorted:
    pandas cannot hash them, and that text is the same from run to run.
    """
    digest = hashlib.sha256()
    digest.update(",".join(map(str, frame.columns)).encode())
    try:
        hashed = pd.util.hash_pandas_object(frame, index=False)
    except TypeError:  # unhashable cells; a frame without them keeps the fingerprint it always had
        hashed = pd.util.hash_pandas_object(frame.apply(_nested_as_json), index=False)
    digest.update(hashed.to_numpy().tobytes())
    return digest.hexdigest()[:16]


def inputs_fingerprint(frame: pd.DataFrame, columns: Sequence[str], key: str | None) -> str:
    """The fingerprint of the rows' model inputs alone (``columns`` present, ordered by the id ``key`` when
    there is one): a file scored, then given its labels, keeps it; one re-exported with other rows does not."""
    rows = frame[[c for c in columns if c in frame.columns]]
    if key is not None and key in frame.columns:  # the same rows in another order are the same batch
        rows = rows.iloc[np.argsort(frame[key].astype(str).to_numpy(), kind="stable")]
    return fingerprint(rows)


def _nested_as_json(values: pd.Series) -> pd.Series:
    if values.dtype != object:
        return values
    return values.map(lambda v: json.dumps(v, sort_keys=True, default=_plain) if isinstance(v, NESTED) else v)


def _plain(value: Any) -> Any:
    """A value json cannot write as it is: a numpy array or number as Python's, else its text."""
    return value.tolist() if hasattr(value, "tolist") else str(value)
