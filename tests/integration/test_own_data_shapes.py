"""Shapes real public tables come in, through `perennial init` and the training flow: the flow ends
with a verdict (a champion, or inconclusive with the reason), never a crash."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from flows.batch_scoring import batch_scoring_flow
from flows.training import training_flow
from perennial.config import load_config
from perennial.io.prediction_store import open_store
from perennial.io.starter import starter_config
from perennial.settings import load_settings


def census(rng: np.random.Generator, n: int = 900) -> tuple[pd.DataFrame, str, str | None]:
    """As UCI's adult ships: labels with a leading space, '?' for missing text, hyphenated names."""
    age = rng.integers(17, 90, n)
    hours = rng.integers(1, 99, n)
    work = rng.choice([" Private", " Self-emp", " ?", " Gov"], n)
    rich = (age / 90 + hours / 99 + rng.normal(0, 0.3, n)) > 1.0
    frame = pd.DataFrame(
        {"age": age, "hours-per-week": hours, "work class": work, "income": np.where(rich, " >50K", " <=50K")}
    )
    return frame, "income", ">50K"


def cover(rng: np.random.Generator, n: int = 1200) -> tuple[pd.DataFrame, str, str | None]:
    """Seven whole-number classes, one of them rare (5 rows), as covertype's cover types."""
    x = rng.normal(size=(n, 3))
    kind = np.clip((x[:, 0] * 2 + 3.5).astype(int), 1, 6)
    kind[:5] = 7
    return pd.DataFrame({"elevation": x[:, 0], "slope": x[:, 1], "aspect": x[:, 2], "cover": kind}), "cover", None


def prices(rng: np.random.Generator, n: int = 700) -> tuple[pd.DataFrame, str, str | None]:
    """A price with missing targets, a constant column and day-first dates as text."""
    rooms = rng.integers(1, 8, n)
    price = rooms * 50_000 + rng.normal(0, 20_000, n)
    price[rng.choice(n, 40, replace=False)] = np.nan
    listed = pd.date_range("2020-01-01", periods=n, freq="D").strftime("%d/%m/%Y")
    return pd.DataFrame({"rooms": rooms, "city": "Lyon", "listed": listed, "price": price}), "price", None


def flowers(rng: np.random.Generator) -> tuple[pd.DataFrame, str, str | None]:
    """Iris as scikit-learn ships it: units in the column names (`sepal width (cm)`), named species;
    and a ratio named with a slash and a percent sign. MLflow refuses such names as metric keys."""
    from sklearn.datasets import load_iris

    iris = load_iris(as_frame=True)
    frame = iris.frame.assign(species=iris.target_names[iris.target]).drop(columns="target")
    frame["petal/sepal %"] = (100 * frame["petal length (cm)"] / frame["sepal length (cm)"]).round(1)
    return frame, "species", None


def payments(rng: np.random.Generator, n: int = 900) -> tuple[pd.DataFrame, str, str | None]:
    """Parquet written from pandas' nullable types (Int64, Float64, boolean, string), gaps in each,
    and a nullable boolean target: scikit-learn refuses their pandas.NA."""
    amount = rng.integers(1, 500, n)
    fraud = (amount / 500 + rng.normal(0, 0.2, n)) > 0.7
    gaps = rng.uniform(size=n) < 0.1
    frame = pd.DataFrame(
        {
            "amount": pd.array(np.where(gaps, None, amount), dtype="Int64"),
            "score": pd.array(np.where(gaps[::-1], None, rng.normal(size=n)), dtype="Float64"),
            "card_present": pd.array(np.where(gaps, None, rng.uniform(size=n) < 0.5), dtype="boolean"),
            "channel": pd.array(rng.choice(["web", "shop", None], n), dtype="string"),
            "fraud": pd.array(fraud, dtype="boolean"),
        }
    )
    return frame, "fraud", None


SHAPES = {
    "census-spaced-labels": census,
    "cover-rare-class": cover,
    "prices-missing-targets": prices,
    "iris-units-in-names": flowers,
    "payments-nullable-parquet": payments,
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_a_real_table_shape_trains_to_a_verdict(shape: str, tmp_path: Path, state: Path) -> None:
    # given a table in one of the shapes public datasets come in
    frame, target, positive = SHAPES[shape](np.random.default_rng(3))
    nullable = any(isinstance(t, pd.api.extensions.ExtensionDtype) for t in frame.dtypes)
    data = tmp_path / (f"{shape}.parquet" if nullable else f"{shape}.csv")
    frame.to_parquet(data, index=False) if nullable else frame.to_csv(data, index=False)
    # when it is profiled and the starter config trained as written (linear candidate only: a budget)
    raw = yaml.safe_load(starter_config(data, target, positive))
    raw["training"]["candidates"] = [c for c in raw["training"]["candidates"] if c["family"] != "random_forest"][1:]
    raw["evaluation"]["bootstrap"]["resamples"] = 50
    raw["predictions"] = {"kind": "parquet", "path": str(tmp_path / "predictions")}
    config_path = tmp_path / f"{shape}.yaml"
    config_path.write_text(yaml.safe_dump(raw))
    outcome = training_flow(config_path=str(config_path))
    # then the flow ends with a verdict, and a champion scores every row with a target or not
    assert outcome.verdict in ("passed", "inconclusive"), outcome.summary
    if outcome.promoted:
        config = load_config(config_path)
        scored = batch_scoring_flow(config_path=str(config_path))
        assert scored == len(open_store(config, load_settings().root).read("batch")) == len(frame)
