"""Flows run for real: a session-wide Prefect test harness and a per-test MLflow on SQLite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from perennial.settings import load_settings
from tests.conftest import config_dict, make_flights


@pytest.fixture(autouse=True)
def _in_harness(prefect_harness: None) -> None:
    """Every integration test runs against the session's harness (tests/conftest.py)."""


@pytest.fixture
def state(state_folder: Path) -> Path:
    return state_folder


@pytest.fixture
def project(tmp_path: Path, state: Path) -> Any:
    """Writes data and a config for it; returns a helper to write variants."""

    class Project:
        settings = load_settings()
        data = tmp_path / "flights.parquet"

        def write_config(self, name: str = "tiny.yaml", **overrides: Any) -> str:
            raw = config_dict(str(self.data))
            for dotted, value in overrides.items():
                target = raw
                *parents, leaf = dotted.split(".")
                for key in parents:
                    target = target[key]
                target[leaf] = value
            path = tmp_path / name
            path.write_text(yaml.safe_dump(raw))
            return str(path)

    make_flights(rows=4000, days=120).to_parquet(Project.data, index=False)
    return Project()
