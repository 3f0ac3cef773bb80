"""The fitted pipeline's feature steps as plain numpy, for scoring a few records fast.

One record through ``Pipeline.predict_proba`` costs milliseconds of pandas and scikit-learn
bookkeeping (a DataFrame, ColumnTransformer dispatch, input validation in every step) around
microseconds of arithmetic. For the steps our feature pipelines are built from
(``perennial.core.features``) the same fitted state is read once, at load, into lookup tables
and arrays: numbers pass through (or are imputed and scaled), categories become the fitted
encoder's ordinal codes through a dict built by that encoder itself (infrequent and unseen
values included), timestamps become their parts. The estimator then scores the matrix: a
gradient-boosted model through its trees flattened into numpy (``serving.trees``), any other
through its own ``predict_proba``.

``compile_records`` returns None for any step it does not know (one-hot codes among them: the
linear model reads a sparse matrix whose sums may round differently); the service then keeps
the direct pipeline path or ``predict_proba``. What it returns is used only after its scores
equal ``predict_proba``'s on probe rows (``serving.fastpath.verified``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder, StandardScaler

from perennial.core.features import MISSING, DatetimeParts, _as_text
from perennial.serving.trees import compile_trees

Records = Mapping[str, Sequence[Any]]
Block = Callable[[Records, int], np.ndarray]  # (columns, rows) -> a float block of the matrix
Step = Callable[[Any], np.ndarray]


def compile_records(model: Any) -> Callable[[Records], np.ndarray] | None:
    """predict_proba over column-wise records (name -> values), or None if a step is not supported."""
    steps = getattr(model, "steps", None)
    if not steps or len(steps) != 2 or not hasattr(steps[1][1], "predict_proba"):
        return None
    features, estimator = steps[0][1], steps[1][1]
    if hasattr(estimator, "feature_names_in_") or getattr(features, "sparse_output_", False):
        return None
    blocks: list[Block] = []
    for _, transformer, columns in getattr(features, "transformers_", ()):
        if transformer == "drop" or (
            isinstance(columns, Sequence) and not isinstance(columns, str) and len(columns) == 0
        ):
            continue
        if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
            return None
        block = _block(transformer, list(columns))
        if block is None:
            return None
        blocks.append(block)

    score = compile_trees(estimator) or estimator.predict_proba

    def predict(records: Records) -> np.ndarray:
        rows = len(next(iter(records.values()), ()))
        return np.asarray(score(np.hstack([block(records, rows) for block in blocks])))

    return predict


def _block(transformer: Any, columns: list[str]) -> Block | None:
    inner = transformer.steps if isinstance(transformer, Pipeline) else [("only", transformer)]
    # a fitted ColumnTransformer keeps 'passthrough' as an identity FunctionTransformer
    inner = [
        (n, s) for n, s in inner if not (s == "passthrough" or (isinstance(s, FunctionTransformer) and s.func is None))
    ]
    first = inner[0][1] if inner else None
    if isinstance(first, DatetimeParts) and len(columns) == 1:
        source: Block = _datetime_source(columns[0], first.parts)
        inner = inner[1:]
    elif isinstance(first, FunctionTransformer) and first.func is _as_text:
        codes = _ordinal_codes(inner[1][1] if len(inner) > 1 else None, columns)
        if codes is None:
            return None
        source, inner = codes, inner[2:]
    else:
        source = _numeric_source(columns)
    compiled = [_numeric_step(step) for _, step in inner]
    if any(step is None for step in compiled):
        return None

    def block(records: Records, rows: int) -> np.ndarray:
        out = source(records, rows)
        for step in compiled:
            out = step(out)  # type: ignore[misc]
        return out

    return block


def _column(records: Records, name: str, rows: int) -> Sequence[Any]:
    values = records.get(name)
    return values if values is not None else [None] * rows


def _numeric_source(columns: list[str]) -> Block:
    def source(records: Records, rows: int) -> np.ndarray:
        return np.array(
            [[np.nan if v is None else v for v in _column(records, c, rows)] for c in columns], dtype="float64"
        ).T

    return source


def _datetime_source(column: str, parts: tuple[str, ...]) -> Block:
    def source(records: Records, rows: int) -> np.ndarray:
        stamps = pd.DatetimeIndex(pd.to_datetime(list(_column(records, column, rows)), utc=True))
        out = []
        for part in parts:
            if part == "is_weekend":
                out.append(np.where(stamps.isna(), np.nan, (stamps.dayofweek >= 5).astype("float64")))
            else:
                out.append(np.asarray(getattr(stamps, part), dtype="float64"))
        return np.column_stack(out)

    return source


def _ordinal_codes(encoder: Any, columns: list[str]) -> Block | None:
    """Each column's text -> the encoder's own code for it (built by calling it on every category)."""
    if not isinstance(encoder, OrdinalEncoder) or encoder.handle_unknown != "use_encoded_value":
        return None
    known = [list(categories) for categories in encoder.categories_]
    width = max(len(k) for k in known)
    grid = pd.DataFrame({c: [k[min(i, len(k) - 1)] for i in range(width)] for c, k in zip(columns, known, strict=True)})
    encoded = encoder.transform(grid)
    tables = [dict(zip(grid[c], encoded[:, j], strict=True)) for j, c in enumerate(columns)]
    unknown = float(encoder.unknown_value)

    def source(records: Records, rows: int) -> np.ndarray:
        return np.array(
            [
                [table.get(_text(v), unknown) for v in _column(records, c, rows)]
                for c, table in zip(columns, tables, strict=True)
            ],
            dtype="float64",
        ).T

    return source


def _text(value: Any) -> str:
    """A category as ``_as_text`` reads it: missing as MISSING, anything else as its text."""
    if value is None or (isinstance(value, float) and value != value):
        return MISSING
    return str(value)


def _numeric_step(step: Any) -> Step | None:
    if isinstance(step, SimpleImputer) and step.strategy in ("mean", "median", "most_frequent", "constant"):
        fill = np.asarray(step.statistics_, dtype="float64")
        if (
            np.isnan(fill).any()
            or step.add_indicator
            or not (isinstance(step.missing_values, float) and np.isnan(step.missing_values))
        ):
            return None
        return lambda X: np.where(np.isnan(X), fill, X)
    if isinstance(step, StandardScaler):
        mean = step.mean_ if step.with_mean else 0.0
        scale = step.scale_ if step.with_std else 1.0
        return lambda X: (X - mean) / scale
    return None
