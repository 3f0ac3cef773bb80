"""Where a window's drop sits: the slice value whose labelled rows score furthest below the window."""

from __future__ import annotations

import numpy as np
import pandas as pd

from perennial.config import parse_config
from perennial.core.window_slices import worst_slice
from tests.conftest import config_dict


def _window(broken: str | None, rows: int = 900, seed: int = 0) -> pd.DataFrame:
    """Labelled rows of three carriers whose scores rank their labels well, except ``broken``'s (shuffled)."""
    rng = np.random.default_rng(seed)
    carrier = np.array(["AA", "B6", "DL"])[np.arange(rows) % 3]
    label = rng.integers(0, 2, rows)
    score = np.clip(0.5 + 0.3 * (label - 0.5) + rng.normal(0, 0.15, rows), 0, 1)
    if broken is not None:
        mine = carrier == broken
        score[mine] = rng.permutation(score[mine])
    return pd.DataFrame({"id": [f"r{i}" for i in range(rows)], "label": label, "prediction": score, "carrier": carrier})


def test_the_carrier_whose_scores_no_longer_rank_its_labels_is_named() -> None:
    config = parse_config(config_dict(), "tiny.yaml")  # roc_auc, slices: carrier
    # given a window where B6's labels no longer follow its scores, and one where every carrier's do
    broken, calm = worst_slice(_window("B6"), config), worst_slice(_window(None), config)
    # then B6 is named with its figure and the window's; the calm window names none
    assert broken is not None and (broken.column, broken.value, broken.rows) == ("carrier", "B6", 300)
    assert broken.inside < 0.6 < broken.whole
    assert broken.describe().startswith("worst slice: carrier='B6' (roc_auc 0.")
    assert calm is None
    # and a slice of too few rows to say anything is never named, however bad
    few = _window(None).assign(carrier=lambda f: np.where(np.arange(len(f)) < 20, "ZZ", f["carrier"]))
    few.loc[few.index[:20], "prediction"] = 1 - few.loc[few.index[:20], "label"]
    assert worst_slice(few, config) is None


def test_a_regression_region_off_by_far_more_than_the_tolerance_is_named_by_its_error() -> None:
    raw = config_dict()
    raw["task"] = "regression"
    raw["data"]["target"] = {"column": "delay"}
    raw["evaluation"]["primary_metric"] = "mae"
    raw["evaluation"].pop("secondary_metrics", None)
    raw["gate"]["min_lift_over_baseline"] = None
    raw["training"]["candidates"] = [{"name": "ridge", "family": "ridge"}]
    raw["monitoring"] = {"retraining": {"performance_tolerance": 5.0}}
    config = parse_config(raw, "delay.yaml")
    rng = np.random.default_rng(1)
    rows = _window(None).assign(label=rng.normal(20, 10, 900))
    rows["prediction"] = rows["label"] + rng.normal(0, 2, 900)
    # given one carrier's predictions 40 minutes off, and then only 4 minutes off (within the tolerance)
    far = rows.assign(prediction=rows["prediction"] + np.where(rows["carrier"] == "DL", 40.0, 0.0))
    near = rows.assign(prediction=rows["prediction"] + np.where(rows["carrier"] == "DL", 4.0, 0.0))
    # then the far one is named by its MAE (lower is better: its error above the window's), the near one not
    named = worst_slice(far, config)
    assert named is not None and named.value == "DL" and named.inside > named.whole + 5.0
    assert worst_slice(near, config) is None
