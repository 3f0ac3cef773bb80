"""What a window's drift is measured against (``monitoring.reference``), and the report's words for it.

- ``training`` (the default): the champion's training data, its statistics stored with the champion.
  A seasonal feature then drifts every season: watched, and retrained on only as the policy says.
- ``rolling``: the rows scored in the ``windows`` windows just before this one. Slow seasonal change
  stays inside the reference; an abrupt change still stands out.
- ``year_earlier``: the rows scored in the same window a year before, for a yearly season.

Both stored-row references read the prediction store. When the span holds fewer than ``min_rows``
rows (the first windows after going live, a year not yet scored) the champion's training data stands
in, and the report says so and why: a thin reference would make every window look drifted. The
score column is tested only when every row of the span was scored by the champion itself; a span
scored partly by an earlier version would show the promotion as prediction drift.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from perennial.config import DriftReference
from perennial.core.drift import ReferenceStats, build_reference
from perennial.core.monitoring import PREDICTION, ChampionContext
from perennial.core.windows import Window, WindowKind, month_start


@dataclass(frozen=True, slots=True, eq=False)
class DriftBaseline:
    stats: ReferenceStats  # what the engine tests the window against
    sample: pd.DataFrame  # rows of it, for Evidently's page
    description: str  # which reference, its span and rows, or why the training data stands in

    def to_dict(self) -> dict[str, object]:
        return {"description": self.description, "rows": self.stats.rows, "columns": list(self.stats.columns)}


def training_baseline(context: ChampionContext, instead_of: str | None = None) -> DriftBaseline:
    """The champion's training data; ``instead_of`` says which reference it stands in for, and why."""
    described = f"the champion's training data (v{context.version}, {context.stats.rows:,} rows)"
    return DriftBaseline(context.stats, context.sample, f"{described}, {instead_of}" if instead_of else described)


def reference_span(spec: DriftReference, kind: WindowKind, window: Window) -> Window:
    """The stored rows a ``rolling`` or ``year_earlier`` reference reads (event dates [start, end))."""
    if spec.kind == "year_earlier":
        start, end = _year_before(window.start), _year_before(window.end)
        return Window(start, end, f"{window.label} a year earlier ({start}..{end})")
    if spec.kind != "rolling":
        raise ValueError(f"the {spec.kind} reference reads no stored rows")
    if kind == "month":
        start = month_start(window.start, -spec.windows)
    else:
        start = window.start - dt.timedelta(days=spec.windows * (7 if kind == "week" else 1))
    plural = "" if spec.windows == 1 else "s"
    return Window(start, window.start, f"the {spec.windows} {kind}{plural} before ({start}..{window.start})")


def thin_span(span: Window, rows: int, spec: DriftReference) -> str | None:
    """Why the span's stored rows are too few to be the reference; None when they suffice."""
    if rows >= spec.min_rows:
        return None
    return f"instead of {span.label}: {rows:,} stored rows < {spec.min_rows:,}"


def stored_baseline(
    rows: pd.DataFrame,
    span: Window,
    spec: DriftReference,
    context: ChampionContext,
    sample_rows: int,
    seed: int,
) -> DriftBaseline:
    """The span's stored rows (one per id: the drift columns and ``model_version``) as the reference,
    on the columns of the champion's own; the training data when the span is too thin to judge by."""
    thin = thin_span(span, len(rows), spec)
    if thin:
        return training_baseline(context, thin)
    if len(rows) > spec.max_rows:
        rows = rows.sample(n=spec.max_rows, random_state=seed)
    versions = sorted(set(rows["model_version"].astype(str)))
    own_scores = versions == [context.version]
    columns = [c for c in context.stats.columns if c in rows.columns and (own_scores or c != PREDICTION)]
    numeric = [c for c in columns if c in context.stats.numeric]
    try:
        stats = build_reference(rows, numeric, [c for c in columns if c in context.stats.categorical])
    except ValueError as error:  # a column with no finite value in the span cannot be a reference
        return training_baseline(context, f"instead of {span.label}: {error}")
    scores = (
        "" if own_scores else f"; scores not tested (scored by v{', v'.join(versions)}, not v{context.version} alone)"
    )
    sample = rows.loc[:, columns].sample(n=min(len(rows), sample_rows), random_state=seed)
    return DriftBaseline(stats, sample, f"{span.label}, {len(rows):,} stored rows{scores}")


def _year_before(day: dt.date) -> dt.date:
    return day.replace(year=day.year - 1) if (day.month, day.day) != (2, 29) else dt.date(day.year - 1, 2, 28)
