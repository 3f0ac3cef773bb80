from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import effective_n_jobs
from sklearn.metrics import roc_auc_score

from perennial.config import Candidate
from perennial.core.data import features_of, labels_of, split_by_time
from perennial.core.features import DatetimeParts, build_feature_pipeline
from perennial.core.training import select_best, train_baseline, train_candidate

ROOT = Path(__file__).resolve().parents[3]


def test_candidates_learn_the_signal_and_the_search_picks_params(flights, tiny_config) -> None:
    # given a training window with real signal
    train, holdout = split_by_time(flights, tiny_config)
    X, y = features_of(train, tiny_config), labels_of(train, tiny_config)
    # when every candidate is trained
    trained = [train_candidate(c, X, y, tiny_config) for c in tiny_config.training.candidates]
    # then each beats chance on the later holdout, and the searched one reports its chosen C
    for t in trained:
        auc = roc_auc_score(
            labels_of(holdout, tiny_config), t.model.predict_proba(features_of(holdout, tiny_config))[:, 1]
        )
        assert auc > 0.65, (t.name, auc)
        assert t.cv_score is not None and np.isfinite(t.cv_score)
    assert trained[1].params["C"] in (0.1, 1.0)
    assert select_best(trained).cv_score == max(t.cv_score for t in trained)


def test_the_baseline_ignores_features(flights, tiny_config) -> None:
    train, holdout = split_by_time(flights, tiny_config)
    baseline = train_baseline(features_of(train, tiny_config), labels_of(train, tiny_config), tiny_config)
    proba = baseline.model.predict_proba(features_of(holdout, tiny_config))[:, 1]
    assert np.allclose(proba, labels_of(train, tiny_config).mean())


def test_unseen_and_missing_categories_do_not_break_prediction(flights, tiny_config) -> None:
    # given models trained without carrier "ZZ" / when scored on rows carrying it and a null
    train, _ = split_by_time(flights, tiny_config)
    X, y = features_of(train, tiny_config), labels_of(train, tiny_config)
    odd = X.head(3).copy()
    odd["carrier"] = ["ZZ", None, "AA"]
    for candidate in tiny_config.training.candidates:
        model = train_candidate(candidate, X, y, tiny_config).model
        # then predictions are still probabilities
        proba = model.predict_proba(odd)[:, 1]
        assert ((proba >= 0) & (proba <= 1)).all()


def test_datetime_parts_expand_a_timestamp_column() -> None:
    frame = pd.DataFrame({"t": pd.to_datetime(["2013-01-05 13:00", "2013-01-07 02:00"], utc=True)})
    parts = DatetimeParts(("hour", "dayofweek", "is_weekend")).fit(frame).transform(frame)
    assert parts.tolist() == [[13.0, 5.0, 1.0], [2.0, 0.0, 0.0]]


def test_linear_pipeline_scales_and_one_hot_encodes(flights, tiny_config) -> None:
    transformer = build_feature_pipeline(tiny_config.data.features, tree_based=False)
    matrix = transformer.fit_transform(features_of(flights, tiny_config))
    # 2 numeric + 4 carriers + 3 origins + 2 datetime parts
    assert matrix.shape == (len(flights), 11)


def test_datetime_parts_read_aware_naive_and_text_timestamps_alike() -> None:
    # given the same instants as a UTC column, a naive column, text, and a column in another zone
    stamps = pd.Series(pd.to_datetime(["2013-01-05 13:00", "2013-01-07 02:00", None], utc=True), index=[7, 8, 9])
    forms = [
        pd.DataFrame({"t": stamps}),
        pd.DataFrame({"t": stamps.dt.tz_localize(None)}),
        pd.DataFrame({"t": ["2013-01-05 13:00", "2013-01-07T02:00:00Z", "not a time"]}),
        pd.DataFrame({"t": stamps.dt.tz_convert("America/New_York")}),
    ]
    # when each is expanded
    transformer = DatetimeParts(("hour", "dayofweek", "is_weekend"))
    results = [transformer.fit(f).transform(f) for f in forms]
    # then all give the UTC parts, and a missing or unparseable stamp gives NaN
    expected = np.array([[13.0, 5.0, 1.0], [2.0, 0.0, 0.0], [np.nan, np.nan, np.nan]])
    for result in results:
        np.testing.assert_array_equal(result, expected)


def test_a_forest_trains_on_every_core_and_serves_on_one_with_the_same_trees(flights, tiny_config) -> None:
    # given a random forest candidate
    train, holdout = split_by_time(flights, tiny_config)
    X, y = features_of(train, tiny_config), labels_of(train, tiny_config)
    forest = Candidate(name="forest", family="random_forest", params={"n_estimators": 20, "min_samples_leaf": 5})
    # when it is trained, and its twin pinned to one job
    trained = train_candidate(forest, X, y, tiny_config)
    pinned = train_candidate(forest.model_copy(update={"params": {**forest.params, "n_jobs": 1}}), X, y, tiny_config)
    # then the trained model serves on one job (n_jobs unset outside training: no thread pool per request)
    estimator = trained.model.named_steps["model"]
    assert estimator.n_jobs is None and effective_n_jobs(estimator.n_jobs) == 1
    # and its trees are the pinned twin's: the cores change the time, not the model
    held = features_of(holdout, tiny_config)
    assert np.array_equal(trained.model.predict_proba(held), pinned.model.predict_proba(held))
    assert trained.cv_score == pinned.cv_score


_CHILDREN_AFTER_TRAINING = """
import sys, psutil
from perennial.config import Candidate
from perennial.core.training import train_candidate
from perennial.config import parse_config
from perennial.core.data import features_of, labels_of
from tests.conftest import config_dict, make_flights
frame, config = make_flights(), parse_config(config_dict(), "tiny.yaml")
X, y = features_of(frame, config), labels_of(frame, config)
for family, params in (("logistic_regression", {"max_iter": 500}), ("random_forest", {"n_estimators": 10})):
    train_candidate(Candidate(name=family, family=family, params=params), X, y, config)
print(len(psutil.Process().children(recursive=True)))
"""


def test_training_leaves_no_worker_process_behind() -> None:
    # given a fresh interpreter (loky's worker pool is per process, another test's pool would hide one)
    # when it trains a logistic regression (sklearn asks joblib for processes) and a forest
    done = subprocess.run([sys.executable, "-c", _CHILDREN_AFTER_TRAINING], cwd=ROOT, capture_output=True, text=True)
    # then no child process is left: a SIGKILLed run would orphan it, holding the run's pipes open
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "0"


def test_a_categorical_of_more_codes_than_the_trees_split_on_trains_with_the_rarest_pooled() -> None:
    # given 3,000 rows whose 'ward' holds 400 codes of ~7 rows each (every one above min_category_share)
    from sklearn.pipeline import make_pipeline

    from perennial.config import Features
    from perennial.core.estimators import make_estimator
    from perennial.core.features import build_feature_pipeline, categorical_mask

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=3000), "ward": [f"w{i % 400}" for i in range(3000)]})
    y = (frame["x"] + rng.normal(size=3000) > 0).astype(int)
    features = Features(numeric=("x",), categorical=("ward",))
    # when the gradient-boosting candidate fits / then it fits (it raised "cardinality <= 255 ... 400")
    model = make_pipeline(
        build_feature_pipeline(features, tree_based=True),
        make_estimator("binary", "hist_gradient_boosting", {}, categorical_mask(features), 0),
    ).fit(frame, y)
    codes = model[0].fit_transform(frame)[:, 1]
    assert len(np.unique(codes[~np.isnan(codes)])) <= 255 < frame["ward"].nunique()


def test_identical_rows_share_a_cross_validation_fold_as_they_share_the_holdouts_side() -> None:
    from perennial.config import parse_config
    from perennial.core.training import cv_folds
    from tests.conftest import config_dict

    # given a table without a time column whose labels are noise, each row written three times
    raw = config_dict()
    raw["data"] |= {"time_column": None, "id_column": None}
    raw["data"]["features"] = {"numeric": ["distance", "temp"], "categorical": [], "datetime": []}
    raw["split"] = {"kind": "hash", "holdout_share": 0.2, "folds": 3}
    raw["validation"] = {}
    raw["evaluation"]["slices"] = []
    config = parse_config(raw, "copies.yaml")
    rng = np.random.default_rng(0)
    distinct = pd.DataFrame({"distance": rng.uniform(100, 2500, 400), "temp": rng.normal(50, 15, 400)})
    X = pd.concat([distinct] * 3, ignore_index=True)
    y = np.tile(rng.integers(0, 2, 400), 3)
    # when its folds are cut / then no row is in one fold's training part and a copy of it in the test part
    digest = pd.util.hash_pandas_object(X, index=False).to_numpy()
    for train, test in cv_folds(config, 3, X, y).split(X, y):
        assert not set(digest[train]) & set(digest[test])
    # and a forest that memorises rows is scored as the noise it learnt (split apart, copies read as skill)
    forest = Candidate(name="forest", family="random_forest", params={"n_estimators": 30})
    assert train_candidate(forest, X, y, config).cv_score < 0.6  # type: ignore[operator]
    # and a table without copies keeps the stratified shuffled folds
    once = cv_folds(config, 3, distinct, y[:400])
    assert type(once).__name__ == "StratifiedKFold"
