"""The demo frame carries the delay as a flag, in minutes and as a class; a stale cached copy is rebuilt."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from perennial.config import load_config
from perennial.io import demo_data
from perennial.io.demo_data import ensure_demo_data, join_flights_weather

ROOT = Path(__file__).resolve().parents[3]


def test_the_delay_is_a_flag_minutes_and_a_class_of_the_same_arrival() -> None:
    # given four arrivals (one cancelled: no arrival delay) and their weather
    flights = pd.DataFrame(
        {
            "year": 2013,
            "month": 1,
            "day": 1,
            "carrier": "AA",
            "flight": [1, 2, 3, 4],
            "origin": "JFK",
            "dest": "LAX",
            "sched_dep_time": 900,
            "distance": 2475.0,
            "time_hour": "2013-01-01T09:00:00Z",
            "arr_delay": [-5.0, 30.0, 90.0, np.nan],
        }
    )
    weather = pd.DataFrame(
        {"origin": ["JFK"], "time_hour": ["2013-01-01T09:00:00Z"], **{c: [1.0] for c in demo_data.WEATHER_COLUMNS}}
    )
    # when joined
    frame = join_flights_weather(flights, weather)
    # then the cancelled flight is gone and each delay reads the same three ways
    assert frame["arr_delay"].tolist() == [-5.0, 30.0, 90.0]
    assert frame["delayed"].tolist() == [0, 1, 1]
    assert frame["delay_class"].tolist() == ["on_time", "late", "very_late"]


def test_a_cached_demo_file_without_the_new_columns_is_rebuilt(tmp_path: Path, monkeypatch) -> None:
    # given a cached file from before the delay columns
    path = tmp_path / "flights.parquet"
    pd.DataFrame({"delayed": [0, 1]}).to_parquet(path)
    monkeypatch.setattr(
        demo_data,
        "load_demo_frame",
        lambda: pd.DataFrame({"delayed": [1], "arr_delay": [20.0], "delay_class": ["late"]}),
    )
    # when it is ensured / then it is rewritten with them, and a complete file is left alone
    ensure_demo_data(path)
    assert list(pd.read_parquet(path).columns) == ["delayed", "arr_delay", "delay_class"]
    stamp = path.stat().st_mtime_ns
    ensure_demo_data(path)
    assert path.stat().st_mtime_ns == stamp


def test_the_regression_and_multiclass_demo_configs_load() -> None:
    minutes = load_config(ROOT / "configs" / "flights_delay_minutes.yaml")
    classes = load_config(ROOT / "configs" / "flights_delay_class.yaml")
    assert (minutes.task, minutes.data.target.column, minutes.training.baseline) == (
        "regression",
        "arr_delay",
        "seasonal_naive",
    )
    assert (classes.task, classes.data.target.column, classes.gate.max_class_recall_drop) == (
        "multiclass",
        "delay_class",
        0.05,
    )
    # each keeps its own predictions apart from the binary demo's
    assert len({c.predictions.path for c in (minutes, classes, load_config(ROOT / "configs" / "flights.yaml"))}) == 3
