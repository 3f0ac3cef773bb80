"""Shared fixtures: a tiny synthetic dataset with real signal, and the config that reads it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Two xdist workers share the cores: with OpenMP's default (a thread per core) every
# HistGradientBoosting fit spins its threads against the other worker's (a 4 s file took 21 s
# under load). One thread per worker, set before numpy and scikit-learn load their runtimes.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

# Keep test output clean and every state file inside the test's temp folders
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

from perennial.config import Config, parse_config  # noqa: E402

CARRIERS = ["AA", "B6", "DL", "UA"]
ORIGINS = ["EWR", "JFK", "LGA"]


def make_flights(rows: int = 3000, seed: int = 0, start: str = "2013-01-01", days: int = 90) -> pd.DataFrame:
    """Flights-like rows, time-ordered, with a label that depends on weather and carrier."""
    rng = np.random.default_rng(seed)
    times = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(np.sort(rng.uniform(0, days * 24, rows)), unit="h")
    times = times.floor("h")
    carrier = rng.choice(CARRIERS, rows)
    temp = rng.normal(50, 15, rows)
    distance = rng.uniform(100, 2500, rows)
    logit = -1.2 + 0.06 * (temp - 50) + np.where(carrier == "B6", 1.0, 0.0)
    delayed = (rng.uniform(size=rows) < 1 / (1 + np.exp(-logit))).astype("int64")
    return pd.DataFrame(
        {
            "flight_id": [f"f{seed}-{i}" for i in range(rows)],
            "time_hour": times,
            "carrier": carrier,
            "origin": rng.choice(ORIGINS, rows),
            "distance": distance,
            "temp": temp,
            "delayed": delayed,
        }
    )


def config_dict(path: str = "flights.parquet") -> dict[str, Any]:
    return {
        "name": "tiny",
        "data": {
            "source": {"kind": "parquet", "path": path},
            "id_column": "flight_id",
            "time_column": "time_hour",
            "target": "delayed",
            "features": {
                "numeric": ["distance", "temp"],
                "categorical": ["carrier", "origin"],
                "datetime": [{"column": "time_hour", "parts": ["hour", "dayofweek"]}],
            },
        },
        "split": {"train_start": "2013-01-01", "train_end": "2013-03-01", "holdout_end": "2013-04-01"},
        "validation": {
            "ranges": {"distance": [0, 6000], "temp": [-40, 130]},
            "freshness": {"max_age_hours": 72},
            "volume": {"min_ratio": 0.5, "max_ratio": 2.0},
        },
        "training": {
            "seed": 1,
            "candidates": [
                {"name": "hgb", "family": "hist_gradient_boosting", "params": {"max_iter": 30}},
                {
                    "name": "logreg",
                    "family": "logistic_regression",
                    "params": {"max_iter": 200},
                    "search": {"grid": {"C": [0.1, 1.0]}, "folds": 2},
                },
            ],
        },
        "evaluation": {
            "bootstrap": {"resamples": 50},
            "slices": ["carrier"],
            "min_slice_rows": 50,
            "latency_rows": 100,
        },
        "gate": {
            "mode": "enforced",
            "min_primary": 0.6,
            "min_lift_over_baseline": 0.05,
            "max_regression_vs_champion": 0.02,
        },
        "tracking": {"experiment": "tiny", "registered_model": "tiny-delay"},
    }


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One Prefect test harness per test process, shared by every test that asks for it.

    Two harnesses in one process break silently: Prefect's events worker is a process-wide
    singleton bound to the first server, so task runs of the second are never recorded.
    """
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture
def state_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh state folder: MLflow store, artifacts and ledger for this test only."""
    import mlflow

    folder = tmp_path / "state"
    folder.mkdir()
    monkeypatch.setenv("PERENNIAL_STATE_DIR", str(folder))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
    monkeypatch.setenv("PERENNIAL_ARTIFACT_ROOT", (folder / "mlartifacts").as_uri())
    monkeypatch.setenv("PERENNIAL_LEDGER_URL", f"sqlite:///{folder / 'ledger.db'}")
    mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")
    return folder


@pytest.fixture
def flights() -> pd.DataFrame:
    return make_flights()


@pytest.fixture
def tiny_config() -> Config:
    return parse_config(config_dict(), "tiny.yaml")


def multiclass_config(target: str) -> Config:
    """The tiny config as a multiclass task on ``target`` (prior baseline, the task's default metrics)."""
    raw = config_dict()
    raw |= {"task": "multiclass", "gate": {"min_lift_over_baseline": 0.0}}
    raw["data"]["target"] = target
    raw["training"]["baseline"] = "prior"
    raw["evaluation"] = {k: v for k, v in raw["evaluation"].items() if k not in ("primary_metric", "secondary_metrics")}
    return parse_config(raw, f"{target}.yaml")


@pytest.fixture
def flights_file(tmp_path: Path, flights: pd.DataFrame) -> Path:
    path = tmp_path / "flights.parquet"
    flights.to_parquet(path, index=False)
    return path
