"""What the predict worker does with a batch: route rows, score, and afterwards shadow and log.

A batch holds jobs (requests) that may have been validated against different model sets
(a reload happened between them): each set scores its own jobs. Within a set, rows the
canary routes to the challenger are scored by it in one call, the rest by the champion in
another. A challenger failure is answered by the champion and reported to the ramp.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from perennial.core.names import Alias
from perennial.core.predict import aligned_probabilities, class_union
from perennial.serving.prediction_log import LogChunk, PredictionLog
from perennial.serving.schema import Parsed
from perennial.serving.shadow import ShadowComparison
from perennial.serving.slots import LoadedModel, ModelSet

log = logging.getLogger("perennial.serving")

CHAMPION, CHALLENGER = Alias.CHAMPION, Alias.CHALLENGER


@dataclass(slots=True)
class Job:
    models: ModelSet
    parsed: Parsed
    canary: list[bool] | None = None  # per row: True when the challenger serves it


@dataclass(slots=True)
class Outcome:
    scores: list[float]
    versions: list[str]
    variants: list[str]
    challenger_ms: float | None = None  # the challenger's predict call, when it served rows
    challenger_failed: bool = False


@dataclass(slots=True)
class Part:
    """Rows one model scored in one call, kept for the post-batch work."""

    model: LoadedModel
    ids: list[str]
    columns: dict[str, list[Any]]
    scores: np.ndarray
    ms: float


@dataclass(slots=True)
class Work:
    models: ModelSet
    parts: list[Part] = field(default_factory=list)


def _gather(
    jobs: Sequence[Job], picks: Sequence[list[int] | None], names: Sequence[str]
) -> tuple[list[str], dict[str, list[Any]]]:
    """Column lists of the picked rows of each job (None: all its rows), in job order."""
    ids: list[str] = []
    columns: dict[str, list[Any]] = {n: [] for n in names}
    for job, pick in zip(jobs, picks, strict=True):
        p = job.parsed
        ids += p.ids if pick is None else [p.ids[i] for i in pick]
        for name, out in columns.items():
            values = p.columns.get(name)
            if values is None:
                out += [None] * (p.rows if pick is None else len(pick))
            else:
                out += values if pick is None else [values[i] for i in pick]
    return ids, columns


def _score(model: LoadedModel, columns: dict[str, list[Any]]) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    scores = model.predict(columns)
    return scores, (time.perf_counter() - started) * 1000


class Predictor:
    def __init__(
        self,
        prediction_log: PredictionLog | None,
        shadow_for: Callable[[ModelSet], ShadowComparison | None],
        on_shadow_error: Callable[[], None] = lambda: None,
    ) -> None:
        self.prediction_log, self.shadow_for, self.on_shadow_error = prediction_log, shadow_for, on_shadow_error

    def run(self, jobs: list[Job]) -> tuple[list[Outcome], list[Work]]:
        outcomes: list[Outcome | None] = [None] * len(jobs)
        works = []
        groups: dict[int, list[int]] = {}
        for i, job in enumerate(jobs):
            groups.setdefault(id(job.models), []).append(i)
        for indices in groups.values():
            works.append(self._run_set([jobs[i] for i in indices], indices, outcomes))
        return outcomes, works  # type: ignore[return-value]

    def _run_set(self, jobs: list[Job], indices: list[int], outcomes: list[Outcome | None]) -> Work:
        models = jobs[0].models
        names = [f.name for f in models.schema.fields]
        champion_picks = [
            None if job.canary is None else [i for i, c in enumerate(job.canary) if not c] for job in jobs
        ]
        challenger_picks = [[] if job.canary is None else [i for i, c in enumerate(job.canary) if c] for job in jobs]
        work = Work(models)
        ids, columns = _gather(jobs, champion_picks, names)
        champion = Part(models.champion, ids, columns, *_score(models.champion, columns)) if ids else None
        if champion:
            work.parts.append(champion)
        challenger, failed = None, False
        if models.challenger is not None and any(challenger_picks):
            ids, columns = _gather(jobs, challenger_picks, names)
            try:
                challenger = Part(models.challenger, ids, columns, *_score(models.challenger, columns))
            except Exception:
                log.exception("challenger v%s failed; the champion answers", models.challenger.version)
                failed, challenger = True, Part(models.champion, ids, columns, *_score(models.champion, columns))
            work.parts.append(challenger)
        self._distribute(jobs, indices, outcomes, champion_picks, challenger_picks, champion, challenger, failed)
        return work

    @staticmethod
    def _distribute(
        jobs: list[Job],
        indices: list[int],
        outcomes: list[Outcome | None],
        champion_picks: list[list[int] | None],
        challenger_picks: list[list[int]],
        champion: Part | None,
        challenger: Part | None,
        failed: bool,
    ) -> None:
        champion_scores = champion.scores.tolist() if champion else []
        challenger_scores = challenger.scores.tolist() if challenger else []
        at_champion = at_challenger = 0
        for job, index, cpick, xpick in zip(jobs, indices, champion_picks, challenger_picks, strict=True):
            n = job.parsed.rows
            scores: list[float] = [0.0] * n
            versions: list[str] = [""] * n
            variants: list[str] = [""] * n
            for row in range(n) if cpick is None else cpick:
                scores[row], versions[row], variants[row] = (
                    champion_scores[at_champion],
                    champion.model.version,  # type: ignore[union-attr]
                    CHAMPION,
                )
                at_champion += 1
            for row in xpick:
                assert challenger is not None
                served = CHAMPION if failed else CHALLENGER
                scores[row], versions[row], variants[row] = (
                    challenger_scores[at_challenger],
                    challenger.model.version,
                    served,
                )
                at_challenger += 1
            outcome = Outcome(scores, versions, variants)
            if xpick and challenger is not None:
                outcome.challenger_ms, outcome.challenger_failed = challenger.ms, failed
            outcomes[index] = outcome

    def after(self, works: list[Work]) -> None:
        """Off the response path: log what was served, and let the shadow score it too."""
        for work in works:
            for part in work.parts:
                self._log("service", part.model.version, part)
            shadow = self.shadow_for(work.models)
            challenger = work.models.challenger
            served = work.parts[0] if work.parts and work.parts[0].model is work.models.champion else None
            if shadow is None or challenger is None or served is None:
                continue
            try:
                scores, ms = _score(challenger, served.columns)
            except Exception:
                log.exception("shadow challenger v%s failed", challenger.version)
                shadow.record_error()
                self.on_shadow_error()
                continue
            # by class name: a challenger that learnt a new class has one more column
            classes = class_union(served.model.classes, challenger.classes)
            shadow.record(
                aligned_probabilities(np.asarray(served.scores), served.model.classes, classes),
                aligned_probabilities(np.asarray(scores), challenger.classes, classes),
                served.ms,
                ms,
            )
            self._log("shadow", challenger.version, Part(challenger, served.ids, served.columns, scores, ms))

    def _log(self, source: str, version: str, part: Part) -> None:
        if self.prediction_log is not None and part.ids:
            self.prediction_log.submit(
                LogChunk(
                    source,
                    version,
                    part.ids,
                    part.scores,
                    part.columns,
                    part.model.classes,
                    threshold=part.model.threshold,
                )
            )
