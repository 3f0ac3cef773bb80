"""The base of every config model."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    """Every config model: immutable, and an unknown key is an error, not a silence."""

    model_config = ConfigDict(extra="forbid", frozen=True)
