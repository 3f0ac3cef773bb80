"""A multiclass champion and a challenger that learnt a class it never saw: canary and shadow by class name.

A retrain after a new class appeared ('hot' flights) registers a version with one more probability
column; the column at a given position is then not the same class in both versions.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pytest
from fastapi.testclient import TestClient

from perennial.config import Candidate, Config, parse_config
from perennial.core.data import features_of
from perennial.core.predict import aligned_probabilities, class_union, targets_of
from perennial.core.training import train_candidate
from perennial.io import tracking
from perennial.io.ledger import Ledger
from perennial.io.prediction_store import open_store
from perennial.io.registry import Registry, move_alias
from perennial.serving.app import create_app
from perennial.serving.routing import to_challenger
from perennial.settings import Settings
from tests.conftest import config_dict, make_flights
from tests.serving.conftest import local_settings, records

MODEL = "tiny-weather"


def _config(folder: Path, **serving: Any) -> Config:
    raw = config_dict()
    raw |= {"task": "multiclass", "gate": {"min_lift_over_baseline": 0.0}}
    raw["training"]["baseline"] = "prior"
    raw["evaluation"] = {"bootstrap": {"resamples": 50}, "latency_rows": 100}
    raw["tracking"] = {"registered_model": MODEL, "experiment": MODEL}
    raw["serving"] = serving
    raw["predictions"] = {"kind": "parquet", "path": str(folder / "predictions")}
    return parse_config(raw, "weather.yaml")


def _weather(temp: Any, hot: bool) -> Any:
    classes = np.where(temp < 40, "cold", np.where(temp < 60, "mild", "warm"))
    return np.where(temp > 75, "hot", classes) if hot else classes


@pytest.fixture(scope="module")
def registry_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v1 knows cold/mild/warm; v2, trained after 'hot' appeared, knows all four."""
    folder = tmp_path_factory.mktemp("multiclass-registry")
    uri, previous = f"sqlite:///{folder / 'mlflow.db'}", mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        config, flights = _config(folder), make_flights()
        experiment = tracking.ensure_experiment(MODEL, (folder / "artifacts").as_uri())
        candidate = Candidate(name="logreg", family="logistic_regression", params={"max_iter": 300})
        for hot in (False, True):
            frame = flights.assign(delayed=_weather(flights["temp"].to_numpy(), hot))
            X = features_of(frame, config)
            model = train_candidate(candidate, X, targets_of(frame, config), config).model
            with tracking.tracked_run(experiment, f"hot={hot}", {}) as run_id:
                Registry(MODEL).register(tracking.log_model(run_id, model, X), run_id, {})
    finally:
        mlflow.set_tracking_uri(previous)
    return folder


@pytest.fixture
def env(registry_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    shutil.copy(registry_template / "mlflow.db", tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    settings = local_settings(tmp_path, uri, registry_template / "artifacts")
    ledger = Ledger(settings.ledger_url)
    registry = Registry(MODEL)
    move_alias(registry, ledger, "champion", "1", "promote", "test")
    move_alias(registry, ledger, "challenger", "2", "promote", "test")
    yield settings
    ledger.close()


def test_probabilities_are_aligned_by_class_name() -> None:
    # given a champion's and a challenger's classes, the challenger with a class the champion never learnt
    champion, challenger = ("cold", "mild", "warm"), ("cold", "hot", "mild", "warm")
    union = class_union(champion, challenger)
    scores = np.array([[0.1, 0.7, 0.2]])
    # then the union keeps the champion's order, and the champion's 'mild' stays 'mild' (not 'hot')
    assert union == ("cold", "mild", "warm", "hot")
    assert aligned_probabilities(scores, champion, union).tolist() == [[0.1, 0.7, 0.2, 0.0]]
    assert aligned_probabilities(np.array([[0.1, 0.6, 0.2, 0.1]]), challenger, union).tolist() == [[0.1, 0.2, 0.1, 0.6]]
    assert aligned_probabilities(scores, champion, champion) is scores


def test_a_canary_challenger_with_a_new_class_answers_with_its_own_classes(
    env: Settings, tmp_path: Path, registry_template: Path
) -> None:
    # given v1 (3 classes) champion and v2 (4 classes) on a 50% canary
    config = _config(tmp_path, mode="canary", canary={"ramp": [0.5], "step_requests": 10_000, "max_p99_ms": 10_000})
    sent = records(60)
    with TestClient(create_app(config, env)) as client:
        # when a batch holding rows of both versions is scored
        response = client.post("/predict", json={"records": sent})
        answers = response.json()["predictions"]
    # then every row is answered, each with its own version's classes
    assert response.status_code == 200 and len(answers) == 60
    by_variant = {a["variant"]: a for a in answers}
    assert set(by_variant) == {"champion", "challenger"}
    assert set(by_variant["champion"]["probabilities"]) == {"cold", "mild", "warm"}
    assert set(by_variant["challenger"]["probabilities"]) == {"cold", "hot", "mild", "warm"}
    for answer in answers:
        assert answer["variant"] == ("challenger" if to_challenger(answer["id"], 0.5) else "champion")
        assert answer["label"] == max(answer["probabilities"], key=answer["probabilities"].get)
    # and the store keeps every row by class name: 'hot' is 0 where the champion answered
    served = open_store(config, env.root).read("service").set_index("id")
    assert len(served) == 60
    for answer in answers:
        stored = served.loc[answer["id"]]
        assert stored["predicted_class"] == answer["label"]
        assert stored["proba__hot"] == pytest.approx(answer["probabilities"].get("hot", 0.0))
        assert stored["proba__mild"] == pytest.approx(answer["probabilities"]["mild"])


def test_a_shadow_challenger_with_a_new_class_is_compared_by_class_name(env: Settings, tmp_path: Path) -> None:
    # given v1 (3 classes) champion and v2 (4 classes) in shadow, both trained on the same temperatures
    config = _config(tmp_path, mode="shadow")
    sent = records(40)
    with TestClient(create_app(config, env)) as client:
        answers = client.post("/predict", json={"records": sent}).json()["predictions"]
        deadline = time.monotonic() + 10
        while (meta := client.get("/metadata").json())["shadow"]["rows"] < 40 and time.monotonic() < deadline:
            time.sleep(0.02)
    # then every row was compared without an error, and the two agree wherever no flight is 'hot'
    shadow = meta["shadow"]
    assert shadow["rows"] == 40 and shadow["errors"] == 0
    hot = sum(r["temp"] > 75 for r in sent)
    assert shadow["agreement"] >= (40 - hot - 4) / 40
    assert {a["model_version"] for a in answers} == {"1"}
    shadowed = open_store(config, env.root).read("shadow")
    assert len(shadowed) == 40 and "proba__hot" in shadowed.columns
