"""A shorter call path through the fitted pipeline, used only where it gives identical scores.

A request costs almost nothing in arithmetic: most of ``Pipeline.predict_proba`` on a few
rows is ColumnTransformer dispatch (parallel-call wrappers, warning filters, config copies,
container checks). For the shape our models have — ``Pipeline([features: ColumnTransformer,
model: estimator])`` with column lists — the same fitted transformers can be called one
after the other and their blocks stacked, then the estimator called on the matrix. The
result is compared with ``predict_proba`` on probe rows (missing values, unseen categories,
several times) when a model loads; on any difference, or any other pipeline shape, the
service calls ``predict_proba`` as usual. Faster still, for the steps it knows, the fitted
pipeline compiled to numpy (``serving.compiled``: no DataFrame at all), verified the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from perennial.serving.compiled import compile_records
from perennial.serving.schema import build_frame

Predict = Callable[[pd.DataFrame], np.ndarray]
RecordsPredict = Callable[[Mapping[str, Sequence[Any]]], np.ndarray]


def _plan(model: Any) -> tuple[list[tuple[Any, list[str]]], bool, Any] | None:
    steps = getattr(model, "steps", None)
    if not steps or len(steps) != 2:
        return None
    features, estimator = steps[0][1], steps[1][1]
    if not hasattr(features, "transformers_") or not hasattr(estimator, "predict_proba"):
        return None
    if hasattr(estimator, "feature_names_in_"):  # fitted on a named frame: keep the pipeline's own path
        return None
    blocks = []
    for _, transformer, columns in features.transformers_:
        if transformer == "drop" or (isinstance(columns, Sequence) and len(columns) == 0):
            continue
        if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
            return None
        if transformer != "passthrough" and not hasattr(transformer, "transform"):
            return None
        blocks.append((transformer, list(columns)))
    return blocks, bool(getattr(features, "sparse_output_", False)), estimator


def compile_pipeline(model: Any) -> Predict | None:
    """The direct path for a features+estimator pipeline, or None for any other shape."""
    plan = _plan(model)
    if plan is None:
        return None
    blocks, sparse_output, estimator = plan

    def predict(frame: pd.DataFrame) -> np.ndarray:
        parts: list[Any] = [
            frame[columns].to_numpy(dtype="float64")
            if transformer == "passthrough"
            else transformer.transform(frame[columns])
            for transformer, columns in blocks
        ]
        if sparse_output:
            matrix: Any = sp.hstack([sp.csr_matrix(p) for p in parts]).tocsr()
        else:
            matrix = np.hstack([p.toarray() if sp.issparse(p) else np.asarray(p, dtype="float64") for p in parts])
        return np.asarray(estimator.predict_proba(matrix))

    return predict


def probe_frame(columns: Sequence[str], kinds: dict[str, str], categories: dict[str, frozenset[str]]) -> pd.DataFrame:
    """Rows that walk the edges: missing values, unseen and known categories, varied numbers and times."""
    rows = 8
    data: dict[str, Any] = {}
    for i, column in enumerate(columns):
        kind = kinds.get(column, "string")
        if kind == "datetime":
            start = pd.Timestamp("2013-01-01", tz="UTC") + pd.Timedelta(hours=37 * i)
            stamps: list[Any] = [
                start + pd.Timedelta(hours=29 * r) if r != 3 else None for r in range(rows)
            ]  # None: NaT
            data[column] = pd.to_datetime(stamps, utc=True)
        elif kind in ("double", "float", "long", "integer"):
            data[column] = np.array([np.nan, 0.0, 1.5, -3.0, 1e3, 12.25 + i, 7.0, 250.0][:rows], dtype="float64")
        else:
            known = sorted(categories.get(column, ()))[:4]
            values = [*known, "__never_seen__", None, *known][:rows]
            data[column] = np.array(values + [None] * (rows - len(values)), dtype=object)
    return pd.DataFrame(data)


def verified(model: Any, probe: pd.DataFrame) -> Predict:
    """The direct path if it matches ``predict_proba`` on the probe rows (all and one by one)."""
    direct = compile_pipeline(model)
    if direct is None:
        fallback: Predict = model.predict_proba
        return fallback
    try:
        for frame in (probe, probe.head(1), probe.iloc[[3]], probe):
            if not np.array_equal(direct(frame), np.asarray(model.predict_proba(frame)), equal_nan=True):
                fallback = model.predict_proba
                return fallback
    except Exception:
        fallback = model.predict_proba
        return fallback
    return direct


def records_of(frame: pd.DataFrame) -> dict[str, list[Any]]:
    """A frame as the service's parsed columns: values by name, missing ones as None."""
    return {
        str(c): [
            None if v is None or v is pd.NaT or (isinstance(v, float) and v != v) else v for v in frame[c].tolist()
        ]
        for c in frame.columns
    }


def verified_records(model: Any, probe: pd.DataFrame, kinds: dict[str, str]) -> RecordsPredict | None:
    """The numpy-compiled path (``serving.compiled``) if its scores equal ``predict_proba``'s on the
    probe rows, all together and one by one; None when a step cannot be compiled or any score differs."""
    compiled = compile_records(model)
    if compiled is None:
        return None
    columns = [str(c) for c in probe.columns]
    try:
        for rows in (probe, *(probe.iloc[[i]] for i in range(len(probe)))):
            records = records_of(rows)
            expected = np.asarray(model.predict_proba(build_frame(records, columns, kinds)))
            if not np.array_equal(compiled(records), expected, equal_nan=True):
                return None
    except Exception:
        return None
    return compiled
