"""The predict worker's routing with stand-in models: canary split, fallback, mixed model sets."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from perennial.serving.predictor import Job, Predictor
from perennial.serving.schema import FieldSpec, Parsed, RequestSchema
from perennial.serving.slots import LoadedModel, ModelSet


class Constant:
    """A stand-in model: a fixed probability for every row, or a failure."""

    def __init__(self, value: float | None) -> None:
        self.value = value

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        if self.value is None:
            raise RuntimeError("challenger broke")
        return np.column_stack([np.full(len(frame), 1 - self.value), np.full(len(frame), self.value)])


def loaded(version: str, value: float | None) -> LoadedModel:
    return LoadedModel(
        "m", version, "champion", Constant(value), (FieldSpec("x", "double"),), ("x",), {}, kinds={"x": "double"}
    )


def models(challenger: float | None = 0.9) -> ModelSet:
    schema = RequestSchema([FieldSpec("x", "double")], "id", "t")
    return ModelSet(loaded("1", 0.1), loaded("2", challenger), schema)


def parsed(ids: list[str]) -> Parsed:
    return Parsed(False, ids, {"x": [1.0] * len(ids), "t": [None] * len(ids)})


def test_canary_rows_go_to_the_challenger_and_the_rest_to_the_champion() -> None:
    logged: list[Any] = []
    predictor = Predictor(None, lambda m: None)
    predictor._log = lambda source, version, part: logged.append((source, version, part.ids))  # type: ignore[method-assign]
    current = models()
    # when a batch holds a canary-split request and a plain one
    jobs = [Job(current, parsed(["a", "b", "c"]), canary=[False, True, False]), Job(current, parsed(["d"]))]
    outcomes, work = predictor.run(jobs)
    # then each row was scored by its model, in one call per model

    assert outcomes[0].variants == ["champion", "challenger", "champion"] and outcomes[0].scores == [0.1, 0.9, 0.1]
    assert outcomes[0].versions == ["1", "2", "1"] and outcomes[0].challenger_ms is not None
    assert outcomes[1].variants == ["champion"] and outcomes[1].challenger_ms is None
    # and both parts are logged as served, under the version that served them
    predictor.after(work)
    assert logged == [("service", "1", ["a", "c", "d"]), ("service", "2", ["b"])]


def test_a_failing_challenger_is_answered_by_the_champion_and_reported() -> None:
    # given a challenger that raises, when the canary routes a row to it
    jobs = [Job(models(challenger=None), parsed(["a", "b"]), canary=[True, False])]
    outcomes, _ = Predictor(None, lambda m: None).run(jobs)
    # then the champion answers that row and the failure is reported for the ramp
    assert outcomes[0].variants == ["champion", "champion"] and outcomes[0].versions == ["1", "1"]
    assert outcomes[0].challenger_failed and outcomes[0].scores == [0.1, 0.1]


def test_jobs_of_two_model_sets_are_each_scored_by_their_own_set() -> None:
    # given jobs validated before and after a reload swapped the model set
    old, new = models(), ModelSet(loaded("3", 0.5), None, RequestSchema([FieldSpec("x", "double")], "id", "t"))
    outcomes, work = Predictor(None, lambda m: None).run(
        [Job(old, parsed(["a"])), Job(new, parsed(["b"])), Job(old, parsed(["c"]))]
    )
    assert [o.versions for o in outcomes] == [["1"], ["3"], ["1"]] and len(work) == 2
