"""A window of the Parquet prediction store read lazily: read()'s rows, order and types, fewer columns on demand."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest

from perennial.core.monitoring_partitioned import POSITION
from perennial.errors import DataSourceError
from perennial.io.prediction_store import ParquetPredictionStore
from perennial.io.window_parts import open_predictions
from tests.unit.io.test_prediction_store import DAY, rows

NEXT = DAY + dt.timedelta(days=1)


@pytest.fixture
def store(tmp_path: Path) -> ParquetPredictionStore:
    """Two batch days, a service day of two appends (one with a column the batch rows lack), a day after."""
    store = ParquetPredictionStore(tmp_path / "store")
    store.replace_days("batch", pd.concat([rows(["a", "b", "c"]), rows(["d", "e"], NEXT)]))
    store.append("service", rows(["a", "x"], hour=11))
    store.append("service", rows(["y"], hour=12).assign(note="retry"))
    store.replace_days("batch", rows(["z"], NEXT + dt.timedelta(days=1)))
    return store


def test_a_window_reads_as_the_store_reads_it_in_order_with_positions(store: ParquetPredictionStore) -> None:
    # when the window of both days is opened lazily and computed
    lazy = open_predictions(store, ["batch", "service"], DAY, NEXT + dt.timedelta(days=1))
    assert lazy is not None
    computed = lazy.compute(scheduler="synchronous")
    # then it is read()'s concatenation of batch then service, row for row and type for type, the day after left out
    expected = pd.concat([store.read("batch", DAY, NEXT + dt.timedelta(days=1)), store.read("service")])
    pd.testing.assert_frame_equal(
        computed.drop(columns=[POSITION]).reset_index(drop=True), expected.reset_index(drop=True)
    )
    assert computed[POSITION].is_monotonic_increasing and computed[POSITION].is_unique
    assert lazy.npartitions == 4  # one a part file


def test_a_step_reads_only_the_columns_it_selects(store: ParquetPredictionStore) -> None:
    lazy = open_predictions(store, ["batch"], DAY, NEXT)
    assert lazy is not None
    narrow = lazy[["id", POSITION]].compute(scheduler="synchronous")
    assert list(narrow.columns) == ["id", POSITION] and narrow["id"].tolist() == ["a", "b", "c"]


def test_no_file_in_the_window_is_none_and_a_day_replaced_meanwhile_says_so(store: ParquetPredictionStore) -> None:
    assert open_predictions(store, ["shadow"], DAY, NEXT) is None
    # given a window opened, then its day exchanged for another scoring before it is read
    lazy = open_predictions(store, ["batch"], DAY, NEXT)
    assert lazy is not None
    shutil.rmtree(store.path / "source=batch" / f"date={DAY}")
    with pytest.raises(DataSourceError, match="re-scored while the window was read"):
        lazy.compute(scheduler="synchronous")
