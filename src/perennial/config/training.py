"""The candidate models and how they are searched: the ``training`` section."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from perennial.config.base import Frozen
from perennial.config.runners import CandidateRunner

# which families fit which task: core/task.py FAMILIES (checked on the whole config)
Family = Literal["hist_gradient_boosting", "logistic_regression", "random_forest", "ridge", "linear_regression"]


class Search(Frozen):
    """Hyper-parameter search with time-ordered CV (sklearn's TimeSeriesSplit)."""

    grid: dict[str, tuple[Any, ...]]
    folds: int = Field(default=3, ge=2)
    n_iter: int | None = Field(default=None, ge=1, description="random search size; None = full grid")


class Candidate(Frozen):
    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    family: Family
    params: dict[str, Any] = Field(default_factory=dict)
    search: Search | None = None


class Training(Frozen):
    seed: int = 42
    # binary/multiclass: prior (majority with class priors), stratified; regression: mean, median,
    # last_value, seasonal_naive (those two read data.time_column). Default: the task's first
    baseline: Literal["prior", "stratified", "mean", "median", "last_value", "seasonal_naive"] = "prior"
    candidates: tuple[Candidate, ...] = Field(min_length=1)
    # Cap on training rows (most recent kept): bounds cost on large sources
    max_train_rows: int | None = Field(default=None, ge=100)
    task_runner: CandidateRunner = CandidateRunner()

    @model_validator(mode="after")
    def _unique_names(self) -> Training:
        names = [c.name for c in self.candidates]
        if len(set(names)) != len(names):
            raise ValueError(f"candidate names must be unique: {names}")
        return self
