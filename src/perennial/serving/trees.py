"""A fitted binary HistGradientBoostingClassifier's trees walked together, in numpy.

scikit-learn scores one row tree by tree: for the demo's 150 trees that is 150 calls into
compiled code, each with its Python set-up, about 3 ms for a single record. Flattened into
one node table, every tree advances one level per numpy step, so a record costs as many
steps as the deepest tree. The rules are scikit-learn's (``_predictor.pyx``): NaN follows
``missing_go_to_left``; a categorical split goes left for the categories in its bitset, right
for other known ones, and treats unknown or negative codes as missing; a numeric split goes
left at ``<= threshold``. Leaf values are summed in tree order after the baseline (a
cumulative sum, the same rounding as scikit-learn's running ``+=``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def compile_trees(estimator: Any) -> Callable[[np.ndarray], np.ndarray] | None:
    """predict_proba over a float matrix, or None for anything but a fitted binary HGB classifier."""
    predictors = getattr(estimator, "_predictors", None)
    loss: Any = getattr(estimator, "_loss", None)
    if not predictors or getattr(estimator, "n_trees_per_iteration_", None) != 1 or not hasattr(loss, "predict_proba"):
        return None
    trees = [iteration[0] for iteration in predictors]
    sizes = np.array([len(t.nodes) for t in trees])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    nodes = np.concatenate([t.nodes for t in trees])
    bitset_rows = np.concatenate([[0], np.cumsum([len(t.raw_left_cat_bitsets) for t in trees])[:-1]])
    left_bits = np.concatenate([t.raw_left_cat_bitsets for t in trees]).astype(np.uint64)
    known_bits, f_idx_map = estimator._bin_mapper.make_known_categories_bitsets()
    tree_of_node = np.repeat(np.arange(len(trees)), sizes)
    table = {
        "leaf": nodes["is_leaf"].astype(bool),
        "value": nodes["value"].astype("float64"),
        "feature": nodes["feature_idx"].astype(np.intp),
        "threshold": nodes["num_threshold"].astype("float64"),
        "missing_left": nodes["missing_go_to_left"].astype(bool),
        "left": nodes["left"].astype(np.intp) + offsets[tree_of_node],
        "right": nodes["right"].astype(np.intp) + offsets[tree_of_node],
        "categorical": nodes["is_categorical"].astype(bool),
        "bitset": nodes["bitset_idx"].astype(np.intp) + bitset_rows[tree_of_node],
        "left_bits": left_bits,
    }
    known = np.asarray(known_bits, dtype=np.uint64)
    feature_map = np.asarray(f_idx_map, dtype=np.intp)
    baseline = float(np.asarray(estimator._baseline_prediction).ravel()[0])
    prepare = _preprocessor(estimator)
    if prepare is None:
        return None

    def predict_proba(X: np.ndarray) -> np.ndarray:
        X = prepare(np.asarray(X, dtype="float64"))
        rows = np.repeat(np.arange(len(X)), len(trees))
        at = np.tile(offsets, len(X))
        while True:
            walking = ~table["leaf"][at]
            if not walking.any():
                break
            at[walking] = _step(table, known, feature_map, X, rows[walking], at[walking])
        leaves = table["value"][at].reshape(len(X), len(trees))
        raw = np.cumsum(np.hstack([np.full((len(X), 1), baseline), leaves]), axis=1)[:, -1:]
        return np.asarray(loss.predict_proba(raw))

    return predict_proba


def _preprocessor(estimator: Any) -> Callable[[np.ndarray], np.ndarray] | None:
    """What HGB does to its input first: categorical columns re-coded by its own OrdinalEncoder
    (unknown and missing values to NaN) and moved to the front, the others after them."""
    pre = getattr(estimator, "_preprocessor", None)
    if pre is None:
        return lambda X: X
    mask = np.asarray(getattr(estimator, "is_categorical_", None), dtype=bool)
    encoder = pre.named_transformers_.get("encoder")
    if encoder is None or mask.ndim != 1 or len(encoder.categories_) != mask.sum():
        return None
    categorical, numerical = np.flatnonzero(mask), np.flatnonzero(~mask)
    known = [np.asarray(c, dtype="float64") for c in encoder.categories_]
    known = [c[~np.isnan(c)] for c in known]  # missing stays missing: NaN is never looked up

    def prepare(X: np.ndarray) -> np.ndarray:
        codes = []
        for column, categories in zip(categorical, known, strict=True):
            values = X[:, column]
            at = np.minimum(np.searchsorted(categories, values), max(len(categories) - 1, 0))
            found = len(categories) > 0
            hit = (categories[at] == values) if found else np.zeros(len(values), dtype=bool)
            codes.append(np.where(hit, at.astype("float64"), np.nan))
        return np.column_stack([*codes, X[:, numerical]]) if codes else X[:, numerical]

    return prepare


def _step(
    table: dict[str, np.ndarray],
    known: np.ndarray,
    feature_map: np.ndarray,
    X: np.ndarray,
    rows: np.ndarray,
    at: np.ndarray,
) -> np.ndarray:
    """Each (row, node) pair's child, by scikit-learn's rules."""
    feature = table["feature"][at]
    value = X[rows, feature]
    missing = np.isnan(value)
    go_left = value <= table["threshold"][at]
    categorical = table["categorical"][at] & ~missing
    if categorical.any():
        code = value[categorical]
        bad = code < 0
        index = np.where(bad, 0, code).astype(np.intp) & 255  # scikit-learn reads the code as a uint8
        in_left = _in_bitset(table["bitset"][at][categorical], index, table["left_bits"])
        in_known = _in_bitset(feature_map[feature[categorical]], index, known)
        as_missing = bad | (~in_left & ~in_known)
        go_left[categorical] = np.where(as_missing, table["missing_left"][at][categorical], in_left)
    go_left[missing] = table["missing_left"][at][missing]
    child: np.ndarray = np.where(go_left, table["left"][at], table["right"][at])
    return child


def _in_bitset(rows: np.ndarray, values: np.ndarray, bitsets: np.ndarray) -> np.ndarray:
    words = bitsets[rows, values >> 5]
    bits: np.ndarray = ((words >> (values & 31).astype(np.uint64)) & np.uint64(1)).astype(bool)
    return bits
