"""A multiclass target coded as whole numbers (0, 1, 2) is answered in those numbers, not their text.

Class names are text inside Perennial (the store and monitoring compare them so); a client that sent
`delayed: 2` in its training data compares the answer with 2, and "2" would never match.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pytest
from fastapi.testclient import TestClient

from perennial.config import Candidate
from perennial.core.data import features_of
from perennial.core.predict import targets_of
from perennial.core.training import train_candidate
from perennial.io import tracking
from perennial.io.ledger import Ledger
from perennial.io.prediction_store import open_store
from perennial.io.registry import Registry, move_alias
from perennial.serving.app import create_app
from perennial.settings import Settings
from tests.conftest import make_flights
from tests.serving.conftest import local_settings, records
from tests.serving.test_multiclass_versions import MODEL, _config


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """One champion trained on a delay class coded 0/1/2 as integers."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    config, flights = _config(tmp_path), make_flights()
    frame = flights.assign(delayed=np.digitize(flights["temp"].to_numpy(), [40, 60]))
    assert frame["delayed"].dtype.kind == "i"
    experiment = tracking.ensure_experiment(MODEL, (tmp_path / "artifacts").as_uri())
    X = features_of(frame, config)
    candidate = Candidate(name="logreg", family="logistic_regression", params={"max_iter": 300})
    model = train_candidate(candidate, X, targets_of(frame, config), config).model
    with tracking.tracked_run(experiment, "codes", {}) as run_id:
        Registry(MODEL).register(tracking.log_model(run_id, model, X), run_id, {})
    settings = local_settings(tmp_path, uri, tmp_path / "artifacts")
    ledger = Ledger(settings.ledger_url)
    move_alias(Registry(MODEL), ledger, "champion", "1", "promote", "test")
    yield settings
    ledger.close()


def test_classes_coded_as_whole_numbers_are_answered_as_numbers(env: Settings, tmp_path: Path) -> None:
    config = _config(tmp_path)
    # when rows are scored by the service
    with TestClient(create_app(config, env)) as client:
        answers = client.post("/predict", json={"records": records(30)}).json()["predictions"]
    # then each label is the integer code, the most probable class's; probabilities stay keyed by name
    assert {type(a["label"]) for a in answers} == {int}
    assert {a["label"] for a in answers} <= {0, 1, 2} and len({a["label"] for a in answers}) > 1
    for answer in answers:
        assert set(answer["probabilities"]) == {"0", "1", "2"}
        assert answer["label"] == int(max(answer["probabilities"], key=answer["probabilities"].get))
    # and the store keeps the class by its name, the text a label feed of 0/1/2 is compared in
    served = open_store(config, env.root).read("service").set_index("id")
    assert [served.loc[a["id"], "predicted_class"] for a in answers] == [str(a["label"]) for a in answers]
