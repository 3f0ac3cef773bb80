"""What a monitored window showed before the retrain policy judges it, however the window was read."""

from __future__ import annotations

from dataclasses import dataclass

from perennial.core.drift import DriftReport
from perennial.core.importance import FeatureDecay
from perennial.core.monitoring import ArrivedLabels, Performance
from perennial.core.skew import SkewReport
from perennial.core.validation_report import ValidationReport


@dataclass(frozen=True, slots=True)
class WindowMeasures:
    """The window's measures, in memory or over partitions alike; invalid data has only its validation."""

    validation: ValidationReport
    rows: int  # the window's scored rows (its source rows, when its data is invalid)
    drift: DriftReport | None = None  # None: invalid data is reported as such, never measured for a retrain
    estimated: dict[str, float] | None = None  # the label-free estimate (CBPE, DLE)
    performance: Performance | None = None
    label_note: str | None = None  # "too few labels (30 < 200)", never "no labels"
    skew: SkewReport | None = None
    decay: tuple[FeatureDecay, ...] | None = None
    labels: ArrivedLabels | None = None  # as read for the window; None: a release review reads its own
    reference: str | None = None  # what drift was measured against (core/drift_baseline.py)
    worst_slice: str | None = None  # where a drop beyond the tolerance sits (core/window_slices.py)
