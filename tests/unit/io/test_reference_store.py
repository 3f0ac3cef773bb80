"""The label-free estimator on a training run, against a real MLflow on SQLite."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from perennial.core.label_free import LossReference
from perennial.io import tracking
from perennial.io.reference_store import LABEL_FREE_ARTIFACT, load_label_free, log_label_free


def test_a_logged_estimator_loads_back_and_a_run_without_one_loads_none(experiment: str) -> None:
    # given a loss reference fitted on a small holdout, and two training runs: one records it, one does not
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.uniform(-1, 1, 400), "shop": rng.choice(["a", "b"], 400)})
    truth = 3 * X["x"].to_numpy() + rng.normal(0, np.where(X["x"] > 0, 5.0, 1.0))
    reference = LossReference.fit(X, truth, 3 * X["x"].to_numpy(), seed=0)
    with tracking.tracked_run(experiment, "with", {}) as with_run:
        log_label_free(with_run, reference)
    with tracking.tracked_run(experiment, "older", {}) as older_run:
        tracking.log_metrics(older_run, {"x": 1.0})
    # when each is loaded
    (loaded, no_note), (missing, why) = load_label_free(with_run), load_label_free(older_run)
    # then the recorded one estimates as the original did, at its one path; the older run has none, and says so
    assert isinstance(loaded, LossReference) and no_note is None
    assert missing is None and why is not None and older_run in why and "retrain" in why
    window = X.assign(x=X["x"].abs())
    assert loaded.estimates(window, 3 * window["x"], "mae") == reference.estimates(window, 3 * window["x"], "mae")
    assert loaded.estimates(window, 3 * window["x"], "mae") != loaded.estimates(X, 3 * X["x"], "mae")
    assert LABEL_FREE_ARTIFACT in {a.path for a in tracking.client().list_artifacts(with_run, "label_free")}


def test_an_estimator_this_environment_cannot_unpickle_is_no_estimate_with_the_reason(
    experiment: str, tmp_path: Path
) -> None:
    # given a training run whose estimator was pickled against a module this environment lacks
    # (as one written under another scikit-learn would), and a run whose artifact holds another type
    unreadable = tmp_path / "unreadable" / "reference.joblib"
    unreadable.parent.mkdir()
    unreadable.write_bytes(b"csklearn_gone.moved\nEstimator\n(tR.")  # protocol 0: call a class by its path
    other = tmp_path / "other" / "reference.joblib"
    other.parent.mkdir()
    joblib.dump({"not": "an estimator"}, other)
    runs = {}
    for name, path in (("unreadable", unreadable), ("other", other)):
        with tracking.tracked_run(experiment, name, {}) as run_id:
            tracking.client().log_artifact(run_id, str(path), "label_free")
        runs[name] = run_id
    # when each is loaded
    (gone, why_gone), (wrong, why_wrong) = load_label_free(runs["unreadable"]), load_label_free(runs["other"])
    # then neither fails the caller: each is None with a reason naming the run and the cause
    assert gone is None and why_gone is not None
    assert "ModuleNotFoundError" in why_gone and "sklearn_gone" in why_gone and runs["unreadable"] in why_gone
    assert wrong is None and why_wrong is not None and "dict" in why_wrong and runs["other"] in why_wrong
