"""How rows are divided into training and holdout: by time, or by a hash of each row's key."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from perennial.config.base import Frozen


class TimeSplit(Frozen):
    """Time-based split: train on [train_start, train_end), hold out [train_end, holdout_end)."""

    kind: Literal["time"] = "time"
    train_start: dt.date | None = None
    train_end: dt.date
    holdout_end: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> TimeSplit:
        if self.train_start and self.train_start >= self.train_end:
            raise ValueError("train_start must be before train_end")
        if self.train_end >= self.holdout_end:
            raise ValueError("train_end must be before holdout_end")
        return self

    @property
    def label(self) -> str:
        return str(self.holdout_end)


class HashSplit(Frozen):
    """Random split keyed on a stable hash of each row's key (the id column, else the row's content).

    A row keeps its side across retrains: a later gate never scores a model on rows it trained
    on. Cross-validation inside the training side uses ``folds`` shuffled, stratified folds.
    """

    kind: Literal["hash"] = "hash"
    holdout_share: float = Field(default=0.2, gt=0, lt=1, description="share of rows held out for evaluation")
    seed: int = Field(default=0, description="changes which rows are held out")
    folds: int = Field(default=3, ge=2, description="cross-validation folds within the training rows")

    @property
    def label(self) -> str:
        return f"hash-{self.holdout_share:g}-seed{self.seed}"


def _split_kind(raw: Any) -> str:
    """``kind`` when given; a time window (train_end/holdout_end) is the time split, else the hash split."""
    if isinstance(raw, dict):
        return raw.get("kind") or ("time" if {"train_end", "holdout_end", "train_start"} & raw.keys() else "hash")
    return getattr(raw, "kind", "hash")


Split = Annotated[Annotated[TimeSplit, Tag("time")] | Annotated[HashSplit, Tag("hash")], Discriminator(_split_kind)]
