"""A real MLflow on SQLite in the test's own folder, for the io tests that record runs."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest

from perennial.io import tracking


@pytest.fixture
def experiment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An experiment id on a tracking store no other test sees."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    return tracking.ensure_experiment("io-test", (tmp_path / "artifacts").as_uri())
