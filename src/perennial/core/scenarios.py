"""Scenarios with a known truth: what is injected into replayed data, and what the loop did with it (pure).

A scenario replays windows through the real loop (score, monitor, retrain, gate, promote) on data
whose truth is known because it was put there: a covariate shift that leaves each row's label its
own, a label rate that changes in one group from a known window, a unit change or a feed of zeros,
windows of a few dozen rows. The injections are frame-in, frame-out functions that leave every row
before ``since`` untouched; the counts are read from the replay's rows (one per window) against the
scenario's ``Truth``, and ``unmet`` says in words which expected count did not hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from perennial.core.events import RETRAIN_EVENTS, DataInvalid

# --- injections ---------------------------------------------------------------------------------


def _from(frame: pd.DataFrame, time_column: str, since: pd.Timestamp, until: pd.Timestamp | None = None) -> pd.Series:
    inside = frame[time_column] >= since
    return inside & (frame[time_column] < until) if until is not None else inside


def _ramp(frame: pd.DataFrame, time_column: str, since: pd.Timestamp, until: pd.Timestamp | None) -> np.ndarray:
    """1 from ``since`` on; with ``until``, rising linearly from 0 at ``since`` to 1 at ``until`` (gradual)."""
    if until is None:
        return np.ones(len(frame))
    elapsed = (frame[time_column] - since) / (until - since)
    return np.clip(elapsed.to_numpy(dtype="float64"), 0.0, 1.0)


def _kept(frame: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    out: pd.DataFrame = frame.loc[mask]
    return out.reset_index(drop=True)


def stationary(frame: pd.DataFrame, time_column: str, seed: int = 0) -> pd.DataFrame:
    """The rows' times shuffled among them: every window is drawn from one distribution, so the
    only change a replay meets is the injected one (a row keeps its features and its label)."""
    times = frame[time_column].to_numpy().copy()
    np.random.default_rng(seed).shuffle(times)
    shuffled = frame.assign(**{time_column: times})
    return shuffled.sort_values(time_column, kind="stable").reset_index(drop=True)


def covariate_shift(
    frame: pd.DataFrame,
    columns: Sequence[str],
    time_column: str,
    since: pd.Timestamp,
    power: float = 3.0,
    until: pd.Timestamp | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """From ``since``, a row is kept with probability ``rank ** power`` (its mean percentile rank in
    ``columns``, ranked over the whole frame): the features' mix moves towards high values, and
    every kept row keeps its own label, so the label's relationship to the features is unchanged.
    With ``until`` the power ramps up from 0 (no shift) at ``since`` to ``power`` at ``until``."""
    rank = np.mean([frame[c].rank(pct=True, method="average").to_numpy() for c in columns], axis=0)
    strength = power * _ramp(frame, time_column, since, until)
    keep = np.random.default_rng(seed).uniform(size=len(frame)) < rank**strength
    after = _from(frame, time_column, since).to_numpy()
    return _kept(frame, ~after | keep)


def concept_change(
    frame: pd.DataFrame,
    target: str,
    column: str,
    value: object,
    time_column: str,
    since: pd.Timestamp,
    rate: float = 0.6,
    until: pd.Timestamp | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """From ``since``, each negative row whose ``column`` is ``value`` turns positive with probability
    ``rate`` (ramping up from 0 when ``until`` is given): the same features, a new label relationship
    in one group, which a retrain on the new rows can learn. Binary 0/1 targets."""
    chance = rate * _ramp(frame, time_column, since, until)
    hit = np.random.default_rng(seed).uniform(size=len(frame)) < chance
    flip = (_from(frame, time_column, since) & (frame[column] == value) & (frame[target] == 0)).to_numpy() & hit
    out = frame.copy()
    out.loc[flip, target] = 1
    return out


def scaled(
    frame: pd.DataFrame,
    column: str,
    factor: float,
    time_column: str,
    since: pd.Timestamp,
    until: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """A unit change: ``column`` multiplied by ``factor`` in [since, until) (miles to km: 1.609)."""
    out = frame.copy()
    rows = _from(frame, time_column, since, until)
    out.loc[rows, column] = frame.loc[rows, column] * factor
    return out


def zeroed(
    frame: pd.DataFrame, column: str, time_column: str, since: pd.Timestamp, until: pd.Timestamp | None = None
) -> pd.DataFrame:
    """A feed of zeros: ``column`` is 0 on every row of [since, until)."""
    out = frame.copy()
    out.loc[_from(frame, time_column, since, until), column] = 0
    return out


def thinned(
    frame: pd.DataFrame, time_column: str, since: pd.Timestamp, rows_per_day: float, seed: int = 0
) -> pd.DataFrame:
    """From ``since``, about ``rows_per_day`` rows of each day, picked at random within the day: a small
    feed that still arrives every day (a month of a daily series is 30 rows)."""
    rng = np.random.default_rng(seed)
    after = _from(frame, time_column, since).to_numpy()
    day = frame[time_column].dt.floor("D")
    # a random order within each day; a day keeps its first floor(r) rows, one more with chance frac(r)
    order = pd.Series(rng.uniform(size=len(frame)), index=frame.index).groupby(day).rank(method="first")
    days = day.drop_duplicates()
    whole, extra = divmod(rows_per_day, 1.0)
    quota = pd.Series(whole + (rng.uniform(size=len(days)) < extra), index=days.to_numpy())
    keep = (order <= day.map(quota)).to_numpy()
    return _kept(frame, ~after | keep)


def sampled(frame: pd.DataFrame, time_column: str, before: pd.Timestamp, share: float, seed: int = 0) -> pd.DataFrame:
    """A random ``share`` of the rows before ``before`` (what a weak model trains on); later rows all kept."""
    keep = np.random.default_rng(seed).uniform(size=len(frame)) < share
    return _kept(frame, (frame[time_column] >= before).to_numpy() | keep)


# --- what the loop did --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WindowRecord:
    """One replayed window, as the loop left it."""

    window: str
    blocked: bool  # the window's data was refused as invalid (perennial.data.invalid)
    event: str | None
    retrained: bool
    gate: str | None  # the retrain's gate verdict
    promoted: bool  # the champion changed in this window

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> WindowRecord:
        """From a row of the simulate flow's table (flows/simulate.py)."""
        event = row.get("event")
        event = None if event in (None, "-") else str(event)
        return cls(
            window=str(row["window"]),
            blocked=event == DataInvalid.name,
            event=event,
            retrained="retrain" in row,
            gate=row.get("gate"),
            promoted="→" in str(row.get("champion", "")),
        )


@dataclass(frozen=True, slots=True)
class Truth:
    """What was injected, in windows."""

    changed_at: str | None = None  # the first window carrying the change: detection delay counts from it
    improvable_from: str | None = None  # from this window on a retrain can truly do better (a new concept)
    promote_within: int = 2  # windows from improvable_from within which it must be promoted
    invalid: frozenset[str] = frozenset()  # windows whose data was broken on purpose: blocking them is right


@dataclass(frozen=True, slots=True)
class ScenarioCounts:
    scenario: str
    windows: int
    episodes: int
    retrains: int
    most_in_an_episode: int  # retrains in the episode that had most
    promotions: int
    bad_promotions: int  # promoted where no real improvement was there to have
    missed_improvements: int  # a real improvement not promoted within promote_within windows
    detection_delay: int | None  # windows from the change to the first retrain asked; None: none asked
    changed: bool  # the scenario injected a change to detect
    clean_blocked: int
    invalid_blocked: int
    invalid: int

    def row(self) -> dict[str, str]:
        delay = (
            "-" if not self.changed else "not detected" if self.detection_delay is None else str(self.detection_delay)
        )
        return {
            "scenario": self.scenario,
            "windows": str(self.windows),
            "episodes": str(self.episodes),
            "retrains": str(self.retrains) + (f" (max {self.most_in_an_episode}/episode)" if self.episodes else ""),
            "promotions": str(self.promotions),
            "bad promotions": str(self.bad_promotions),
            "missed improvements": str(self.missed_improvements),
            "detection delay": delay,
            "clean windows blocked": str(self.clean_blocked),
            "bad-data windows blocked": f"{self.invalid_blocked} of {self.invalid}" if self.invalid else "-",
        }


def count_scenario(
    scenario: str, records: Sequence[WindowRecord], truth: Truth, episode_retrains: Sequence[int]
) -> ScenarioCounts:
    """The counts of one replay (``records`` in window order; ``episode_retrains``: each episode's retrains)."""
    order = [r.window for r in records]
    index = {w: i for i, w in enumerate(order)}
    good_from = index.get(truth.improvable_from) if truth.improvable_from is not None else None
    bad = sum(r.promoted and (good_from is None or index[r.window] < good_from) for r in records)
    missed = 0
    if good_from is not None:
        due = records[good_from : good_from + truth.promote_within]
        missed = int(not any(r.promoted for r in due))
    delay = None
    if truth.changed_at is not None and truth.changed_at in index:
        start = index[truth.changed_at]
        asked = [i for i, r in enumerate(records) if i >= start and r.event in RETRAIN_EVENTS]
        delay = asked[0] - start if asked else None
    return ScenarioCounts(
        scenario=scenario,
        windows=len(records),
        episodes=len(episode_retrains),
        retrains=sum(r.retrained for r in records),
        most_in_an_episode=max(episode_retrains, default=0),
        promotions=sum(r.promoted for r in records),
        bad_promotions=bad,
        missed_improvements=missed,
        detection_delay=delay,
        changed=truth.changed_at is not None,
        clean_blocked=sum(r.blocked and r.window not in truth.invalid for r in records),
        invalid_blocked=sum(r.blocked and r.window in truth.invalid for r in records),
        invalid=len(truth.invalid & set(order)),
    )


@dataclass(frozen=True, slots=True)
class Expectation:
    """The counts a scenario must show; None: not part of its truth."""

    retrains: int | None = None
    promotions: int | None = None
    max_retrains_per_episode: int | None = 1
    at_least_retrains: int | None = None  # the scenario must reach the gate to mean anything


def unmet(counts: ScenarioCounts, expected: Expectation) -> tuple[str, ...]:
    """Every expected count that did not hold, in words; empty when the loop did what the truth asks."""
    out = []
    if expected.retrains is not None and counts.retrains != expected.retrains:
        out.append(f"{counts.retrains} retrains, expected {expected.retrains}")
    if expected.at_least_retrains is not None and counts.retrains < expected.at_least_retrains:
        out.append(f"{counts.retrains} retrains, expected at least {expected.at_least_retrains}")
    if expected.promotions is not None and counts.promotions != expected.promotions:
        out.append(f"{counts.promotions} promotions, expected {expected.promotions}")
    limit = expected.max_retrains_per_episode
    if limit is not None and counts.most_in_an_episode > limit:
        out.append(f"{counts.most_in_an_episode} retrains in one episode, expected at most {limit}")
    if counts.bad_promotions:
        out.append(f"{counts.bad_promotions} bad promotions")
    if counts.missed_improvements:
        out.append(f"{counts.missed_improvements} missed improvements")
    if counts.clean_blocked:
        out.append(f"{counts.clean_blocked} clean windows blocked")
    if counts.invalid_blocked < counts.invalid:
        out.append(f"{counts.invalid - counts.invalid_blocked} of {counts.invalid} bad-data windows not blocked")
    return tuple(out)
