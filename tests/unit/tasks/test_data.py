"""load_data_task outside a flow (``.fn``): the window cut from a real Parquet source."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from perennial.config import parse_config
from tasks.data import load_data_task
from tests.conftest import config_dict, make_flights


def test_the_window_is_utc_time_ordered_and_indexed_from_zero(tmp_path: Path) -> None:
    # given a source in shuffled order with naive timestamps
    flights = make_flights().sample(frac=1.0, random_state=3)
    flights["time_hour"] = flights["time_hour"].dt.tz_convert(None)
    flights.to_parquet(tmp_path / "flights.parquet", index=False)
    config = parse_config(config_dict(), "tiny.yaml")
    # when February is cut from it
    window, source = load_data_task.fn(config, tmp_path, dt.date(2013, 2, 1), dt.date(2013, 3, 1))
    # then it holds exactly February's rows, as UTC, oldest first, with a fresh index
    times = pd.to_datetime(flights["time_hour"], utc=True)
    expected = flights[(times >= pd.Timestamp("2013-02-01", tz="UTC")) & (times < pd.Timestamp("2013-03-01", tz="UTC"))]
    assert sorted(window["flight_id"]) == sorted(expected["flight_id"]) and len(window) > 0
    assert str(window["time_hour"].dt.tz) == "UTC" and window["time_hour"].is_monotonic_increasing
    assert window.index.equals(pd.RangeIndex(len(window)))
    assert source.endswith("flights.parquet")
