"""The REST service, how its releases are decided, and where every prediction is stored: the
``serving``, ``release`` and ``predictions`` sections."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field

from perennial.config.base import Frozen
from perennial.core.names import Alias, ReleaseMode


class ParquetStore(Frozen):
    """Predictions as Parquet partitioned by date; a window's partition is replaced atomically
    (so two models never share a store: each has its own folder by default)."""

    kind: Literal["parquet"] = "parquet"
    path: str | None = None


class SqlStore(Frozen):
    kind: Literal["sql"]
    url: str
    table: str | None = None


class Canary(Frozen):
    """A sticky share of traffic (by id hash) to the challenger, ramped in steps."""

    ramp: tuple[float, ...] = (0.05, 0.25, 0.5)
    step_requests: int = Field(default=500, ge=1, description="requests per step before moving up the ramp")
    max_error_rate: float = Field(default=0.01, ge=0, le=1)
    max_p99_ms: float = Field(default=100.0, gt=0)


class Serving(Frozen):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    alias: str = Alias.CHAMPION
    reload_interval_seconds: float = Field(default=10.0, gt=0)
    max_body_bytes: int = Field(default=2_000_000, ge=1024)
    # records one request may carry ({"records": [...]}); `max_batch_rows`, its first name, is still read
    max_request_rows: int = Field(
        default=1000, ge=1, validation_alias=AliasChoices("max_request_rows", "max_batch_rows")
    )
    # Concurrent requests are coalesced into one predict call of at most batch_max_rows, within this wait
    batch_wait_ms: float = Field(default=2.0, ge=0)
    batch_max_rows: int = Field(default=512, ge=1)
    mode: ReleaseMode = ReleaseMode.CHAMPION
    canary: Canary = Canary()


class Release(Frozen):
    """How a shadow or canary release is decided on delayed labels (core/release.py)."""

    decide: Literal["manual", "auto"] = Field(
        default="manual",
        description="auto: the monitoring flow promotes a challenger better on outcomes (through the gate), "
        "pulls one worse, and lets a canary grow only when outcomes allow; manual: it reports and waits",
    )
    alpha: float = Field(
        default=0.05, gt=0, lt=0.5, description="chance of a wrong decision over every look at the release, together"
    )
    horizon_rows: int = Field(default=2000, ge=10, description="labelled rows at which the bounds are tightest")
    min_labelled_rows: int = Field(default=200, ge=1, description="labelled rows of each variant before any decision")
    rows_per_class: int = Field(default=20, ge=1, description="labelled rows of each class (classification)")
    margin: float = Field(
        default=0.0,
        ge=0,
        lt=1,
        description="non-inferiority margin, a share of the champion's mean loss; 0: the challenger must be "
        "better with confidence to be promoted",
    )
