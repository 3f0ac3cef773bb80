"""The fitted pipeline compiled to numpy scores records exactly as predict_proba does, or is not used."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from perennial.config import Config
from perennial.core.data import features_of, labels_of
from perennial.core.training import train_candidate
from perennial.serving.compiled import compile_records
from perennial.serving.fastpath import probe_frame, records_of, verified_records
from perennial.serving.schema import build_frame, known_categories
from perennial.serving.trees import compile_trees
from tests.conftest import make_flights

KINDS = {"distance": "double", "temp": "double", "time_hour": "datetime"}


def fitted(config: Config, family: str, **params: object) -> object:
    flights = make_flights(rows=800)
    candidate = next(c for c in config.training.candidates if c.family == family)
    candidate = candidate.model_copy(update={"search": None, "params": {**candidate.params, **params}})
    return train_candidate(candidate, features_of(flights, config), labels_of(flights, config), config).model


def holdout(model: object, rows: int = 400) -> pd.DataFrame:
    """Later flights, with missing values, unseen categories and a missing timestamp mixed in."""
    later = make_flights(rows=rows, seed=5, start="2013-05-01").loc[:, list(model.feature_names_in_)]
    later.loc[later.index[::7], "temp"] = np.nan
    later.loc[later.index[::11], "carrier"] = "ZZ"
    later.loc[later.index[::13], "origin"] = None
    later.loc[later.index[17], "time_hour"] = pd.NaT
    return later


def test_a_gradient_boosted_pipeline_compiles_and_scores_the_holdout_exactly(tiny_config: Config) -> None:
    # given a fitted HGB pipeline (ordinal codes for categories, timestamp parts)
    model = fitted(tiny_config, "hist_gradient_boosting")
    compiled = compile_records(model)
    assert compiled is not None
    # when later rows are scored through it, all together and one at a time
    rows = holdout(model)
    records = records_of(rows)
    expected = model.predict_proba(build_frame(records, list(rows.columns), KINDS))
    together = compiled(records)
    one_by_one = np.vstack([compiled(records_of(rows.iloc[[i]])) for i in range(0, len(rows), 9)])
    # then every score equals scikit-learn's, bit for bit
    assert np.array_equal(together, expected)
    assert np.array_equal(one_by_one, expected[::9])


def test_the_flattened_trees_differ_when_the_model_does(tiny_config: Config) -> None:
    # given two HGB models fitted with different settings: the comparison above can see a difference
    first = fitted(tiny_config, "hist_gradient_boosting")
    other = fitted(tiny_config, "hist_gradient_boosting", learning_rate=0.3)
    matrix = first.steps[0][1].transform(holdout(first))
    # when the first model's trees score the matrix
    scores = compile_trees(first.steps[1][1])(matrix)
    # then they equal its own predict_proba and not the other model's
    assert np.array_equal(scores, first.steps[1][1].predict_proba(matrix))
    assert not np.array_equal(scores, other.steps[1][1].predict_proba(matrix))


def test_a_step_that_cannot_be_compiled_leaves_the_model_on_its_own_path(tiny_config: Config) -> None:
    # given a linear pipeline (sparse one-hot codes: not compiled) and an object that is no pipeline
    linear = fitted(tiny_config, "logistic_regression")

    class Bare:
        def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
            return np.zeros((len(frame), 2))

    # then neither is compiled, and the service keeps predict_proba for them
    assert compile_records(linear) is None and compile_records(Bare()) is None
    probe = probe_frame(list(linear.feature_names_in_), KINDS, known_categories(linear))
    assert verified_records(linear, probe, KINDS) is None


def test_a_compiled_path_that_disagrees_on_the_probe_is_refused(
    tiny_config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an HGB pipeline whose compiled scores are nudged by one ulp
    model = fitted(tiny_config, "hist_gradient_boosting")
    probe = probe_frame(list(model.feature_names_in_), KINDS, known_categories(model))
    assert verified_records(model, probe, KINDS) is not None
    real = compile_records(model)
    monkeypatch.setattr("perennial.serving.fastpath.compile_records", lambda m: lambda r: np.nextafter(real(r), 2))
    # then verification refuses it
    assert verified_records(model, probe, KINDS) is None
