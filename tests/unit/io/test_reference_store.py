"""The label-free estimator on a training run, against a real MLflow on SQLite."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from perennial.core.label_free import LossReference
from perennial.io import tracking
from perennial.io.reference_store import LABEL_FREE_ARTIFACT, load_label_free, log_label_free


@pytest.fixture
def experiment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    return tracking.ensure_experiment("references", (tmp_path / "artifacts").as_uri())


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
    loaded, missing = load_label_free(with_run), load_label_free(older_run)
    # then the recorded one estimates as the original did, at its one path; the older run has none
    assert isinstance(loaded, LossReference) and missing is None
    window = X.assign(x=X["x"].abs())
    assert loaded.estimates(window, 3 * window["x"], "mae") == reference.estimates(window, 3 * window["x"], "mae")
    assert loaded.estimates(window, 3 * window["x"], "mae") != loaded.estimates(X, 3 * X["x"], "mae")
    assert LABEL_FREE_ARTIFACT in {a.path for a in tracking.client().list_artifacts(with_run, "label_free")}
