"""Durable memory of the closed loop: monitored windows, retrain requests, drift episodes (SQLAlchemy).

It lives beside the ledger (same database URL). A retrain request's dedupe key is unique, so one
window yields one retrain even across restarts and concurrent monitors; an episode (core/episodes.py)
spans windows, and the training run a retrain started writes its ending here for the next window.
"""

from __future__ import annotations

import datetime as dt
import json
import zlib
from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from perennial.core.episode_records import Episode, Outcome
from perennial.core.estimate import Estimate
from perennial.core.retraining import WindowVerdict
from perennial.core.task import higher_is_better
from perennial.core.validation_units import Accepted, Quartiles
from perennial.core.yardstick import ESTABLISHING_WINDOWS, ChampionFigure, LiveFigure


class _Base(DeclarativeBase):
    pass


class _Window(_Base):
    __tablename__ = "monitored_windows"
    __table_args__ = (UniqueConstraint("dataset", "window"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset: Mapped[str] = mapped_column(String(200))
    window: Mapped[str] = mapped_column(String(40))
    drift_share: Mapped[float] = mapped_column(Float)
    performance_drop: Mapped[float | None] = mapped_column(Float, nullable=True)
    data_valid: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # added after the table was first shipped: _add_missing_columns brings older stores up to date
    performance_sure_drop: Mapped[float | None] = mapped_column(Float, nullable=True)
    # the judging champion's labelled figure on the window: its first windows can set its yardstick
    champion: Mapped[str | None] = mapped_column(String(40), nullable=True)
    metric: Mapped[str | None] = mapped_column(String(40), nullable=True)
    metric_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    metric_low: Mapped[float | None] = mapped_column(Float, nullable=True)
    metric_high: Mapped[float | None] = mapped_column(Float, nullable=True)
    # a valid window's quartiles of the columns watched for a unit change, JSON {column: [q25, q50, q75]}:
    # the next window's move is measured from them (core/validation_units.py)
    quartiles: Mapped[str | None] = mapped_column(Text, nullable=True)


class _Retrain(_Base):
    __tablename__ = "retrain_requests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)
    dataset: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(40))
    why: Mapped[str] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class _Episode(_Base):
    __tablename__ = "drift_episodes"
    __table_args__ = (UniqueConstraint("dataset", "start"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset: Mapped[str] = mapped_column(String(200))
    start: Mapped[str] = mapped_column(String(40))
    last: Mapped[str] = mapped_column(String(40))
    end: Mapped[str | None] = mapped_column(String(40), nullable=True)
    windows: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(40))
    retrains: Mapped[int] = mapped_column(Integer)
    retrain: Mapped[str | None] = mapped_column(String(40), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)
    version: Mapped[str | None] = mapped_column(String(40), nullable=True)
    since_retrain: Mapped[int] = mapped_column(Integer)
    calm: Mapped[str] = mapped_column(String(100))  # "01": the last n windows, 1 = within policy
    alerted: Mapped[bool] = mapped_column(Boolean)
    closed_by: Mapped[str | None] = mapped_column(Text, nullable=True)
    # added after the table was first shipped (_add_missing_columns): a performance episode's level and drop
    target_level: Mapped[float | None] = mapped_column(Float, nullable=True)
    target_drop: Mapped[float | None] = mapped_column(Float, nullable=True)
    since: Mapped[str | None] = mapped_column(String(40), nullable=True)  # its first bad window

    def episode(self) -> Episode:
        return Episode(
            self.dataset,
            self.start,
            self.last,
            self.end,
            self.windows,
            self.trigger,
            self.retrains,
            self.retrain,
            cast(Outcome | None, self.outcome),  # written from an Outcome only
            self.version,
            self.since_retrain,
            tuple(c == "1" for c in self.calm),
            self.alerted,
            self.closed_by,
            self.target_level,
            self.target_drop,
            self.since,
        )


class _RetrainOutcome(_Base):
    __tablename__ = "retrain_outcomes"
    __table_args__ = (UniqueConstraint("dataset", "holdout_end"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset: Mapped[str] = mapped_column(String(200))
    holdout_end: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(20))
    version: Mapped[str | None] = mapped_column(String(40), nullable=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


def _no_driver_transactions(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" below opens every transaction


def _begin_immediate(conn: Connection) -> None:
    # SQLite's default BEGIN takes the write lock only at the first write: two claims could both
    # read "no retrain yet" and both insert. IMMEDIATE takes it at once, so claims run one at a time.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


class MonitorStore:
    def __init__(self, url: str) -> None:
        self._engine = create_engine(url)
        if self._engine.dialect.name == "sqlite":
            event.listen(self._engine, "connect", _no_driver_transactions)
            event.listen(self._engine, "begin", _begin_immediate)
        _Base.metadata.create_all(self._engine)
        _add_missing_columns(self._engine)

    def record_window(
        self,
        dataset: str,
        verdict: WindowVerdict,
        at: dt.datetime,
        figure: ChampionFigure | None = None,
        quartiles: Mapping[str, Quartiles] | None = None,
    ) -> None:
        """Insert or replace the verdict of one window (a re-run of a window updates it), with the judging
        champion's labelled figure on it when there is one, and its watched quartiles when it is valid."""
        with Session(self._engine) as session, session.begin():
            row = session.scalars(
                select(_Window).where(_Window.dataset == dataset, _Window.window == verdict.window)
            ).one_or_none() or _Window(dataset=dataset, window=verdict.window)
            row.drift_share, row.performance_drop = verdict.drift_share, verdict.performance_drop
            row.performance_sure_drop = verdict.performance_sure_drop
            row.data_valid, row.at = verdict.data_valid, at
            row.champion, row.metric = (figure.champion, figure.metric) if figure else (None, None)
            row.metric_value, row.metric_low, row.metric_high = figure.estimate if figure else (None, None, None)
            row.quartiles = json.dumps(dict(quartiles)) if quartiles and verdict.data_valid else None
            session.add(row)

    def accepted_quartiles(self, dataset: str, before: str | None = None, limit: int = 50) -> dict[str, Accepted]:
        """Each watched column's quartiles in the last valid window (before ``before``) that measured them."""
        query = select(_Window.window, _Window.quartiles).where(
            _Window.dataset == dataset, _Window.data_valid.is_(True), _Window.quartiles.is_not(None)
        )
        if before is not None:
            query = query.where(_Window.window < before)
        query = query.order_by(_Window.window.desc()).limit(limit)
        found: dict[str, Accepted] = {}
        with Session(self._engine) as session:
            for window, stored in session.execute(query):
                for column, (q25, q50, q75) in json.loads(stored).items():
                    found.setdefault(column, Accepted(window, (float(q25), float(q50), float(q75))))
        return found

    def live_figures(self, dataset: str, champion: str, metric: str, before: str) -> list[LiveFigure]:
        """The champion's ``metric`` on its first valid labelled windows before ``before``, oldest first."""
        query = (
            select(_Window)
            .where(
                _Window.dataset == dataset,
                _Window.champion == champion,
                _Window.metric == metric,
                _Window.window < before,
                _Window.data_valid.is_(True),
                _Window.metric_value.is_not(None),
            )
            .order_by(_Window.window)
            .limit(ESTABLISHING_WINDOWS)
        )
        with Session(self._engine) as session:
            return [
                LiveFigure(r.window, Estimate(_number(r.metric_value), _number(r.metric_low), _number(r.metric_high)))
                for r in session.scalars(query)
            ]

    def history(self, dataset: str, until: str | None = None, limit: int = 50) -> list[WindowVerdict]:
        """Window verdicts oldest first, up to and including ``until``."""
        query = select(_Window).where(_Window.dataset == dataset)
        if until is not None:
            query = query.where(_Window.window <= until)
        with Session(self._engine) as session:
            rows = session.scalars(query.order_by(_Window.window.desc()).limit(limit)).all()
            return [
                WindowVerdict(
                    r.window,
                    r.drift_share,
                    r.performance_drop,
                    r.data_valid,
                    performance_sure_drop=r.performance_sure_drop,
                    champion=r.champion,
                    performance_spread=_spread(r),
                )
                for r in reversed(rows)
            ]

    def refused_windows(self, dataset: str) -> list[str]:
        """The labels of the windows whose data failed validation, as last monitored."""
        query = select(_Window.window).where(_Window.dataset == dataset, _Window.data_valid.is_(False))
        with Session(self._engine) as session:
            return sorted(session.scalars(query).all())

    def claim_retrain(
        self,
        dedupe_key: str,
        dataset: str,
        reason: str,
        why: str,
        at: dt.datetime,
        cooldown: dt.timedelta = dt.timedelta(0),
    ) -> bool:
        """Record a retrain request; False when the key was already claimed, or another retrain of
        ``dataset`` was claimed less than ``cooldown`` before ``at`` (by anyone).

        Checked and written in one transaction that holds the dataset's lock (SQLite: the write
        lock, Postgres: an advisory lock), so two monitors racing yield one retrain.
        """
        try:
            with Session(self._engine) as session, session.begin():
                if session.get_bind().dialect.name == "postgresql":
                    session.execute(
                        select(func.pg_advisory_xact_lock(zlib.crc32(f"perennial.retrain/{dataset}".encode())))
                    )
                if session.scalar(select(_Retrain.id).where(_Retrain.dedupe_key == dedupe_key)) is not None:
                    return False
                last = _utc(session.scalar(select(func.max(_Retrain.at)).where(_Retrain.dataset == dataset)))
                if last is not None and at - last < cooldown:
                    return False
                session.add(_Retrain(dedupe_key=dedupe_key, dataset=dataset, reason=reason, why=why, at=at))
        except IntegrityError:  # the unique key still guards a store written by an older version
            return False
        return True

    def seen_keys(self, dataset: str) -> set[str]:
        with Session(self._engine) as session:
            return set(session.scalars(select(_Retrain.dedupe_key).where(_Retrain.dataset == dataset)))

    def last_retrain_at(self, dataset: str) -> dt.datetime | None:
        with Session(self._engine) as session:
            at = session.scalars(
                select(_Retrain.at).where(_Retrain.dataset == dataset).order_by(_Retrain.at.desc()).limit(1)
            ).first()
        return _utc(at)

    def save_episode(self, episode: Episode) -> None:
        """Insert or update an episode (it is known by its dataset and start window)."""
        with Session(self._engine) as session, session.begin():
            row = session.scalars(
                select(_Episode).where(_Episode.dataset == episode.dataset, _Episode.start == episode.start)
            ).one_or_none() or _Episode(dataset=episode.dataset, start=episode.start)
            row.last, row.end, row.windows, row.trigger = episode.last, episode.end, episode.windows, episode.trigger
            row.retrains, row.retrain, row.outcome = episode.retrains, episode.retrain, episode.outcome
            row.version, row.since_retrain, row.alerted = episode.version, episode.since_retrain, episode.alerted
            row.calm, row.closed_by = "".join("1" if c else "0" for c in episode.calm), episode.closed_by
            row.target_level, row.target_drop, row.since = episode.target, episode.drop, episode.since
            session.add(row)

    def open_episode(self, dataset: str) -> Episode | None:
        """The dataset's open episode, with its retrain's ending once the training run recorded it."""
        with Session(self._engine) as session:
            row = session.scalars(
                select(_Episode)
                .where(_Episode.dataset == dataset, _Episode.end.is_(None))
                .order_by(_Episode.start.desc())
                .limit(1)
            ).first()
            return None if row is None else _with_ending(session, row.episode())

    def episodes(self, dataset: str, limit: int = 10) -> list[Episode]:
        """The dataset's episodes, newest first."""
        with Session(self._engine) as session:
            rows = session.scalars(
                select(_Episode).where(_Episode.dataset == dataset).order_by(_Episode.start.desc()).limit(limit)
            ).all()
            return [_with_ending(session, r.episode()) for r in rows]

    def record_outcome(
        self, dataset: str, holdout_end: str, outcome: Outcome, version: str | None, at: dt.datetime
    ) -> None:
        """How the retrain holding out to ``holdout_end`` ended (written by its training run)."""
        with Session(self._engine) as session, session.begin():
            row = session.scalars(
                select(_RetrainOutcome).where(
                    _RetrainOutcome.dataset == dataset, _RetrainOutcome.holdout_end == holdout_end
                )
            ).one_or_none() or _RetrainOutcome(dataset=dataset, holdout_end=holdout_end)
            row.outcome, row.version, row.at = outcome, version, at
            session.add(row)

    def close(self) -> None:
        self._engine.dispose()


def _add_missing_columns(engine: Engine) -> None:
    """Nullable columns added since a store was created, added to it (create_all leaves tables as they are)."""
    for table in _Base.metadata.sorted_tables:
        present = {c["name"] for c in inspect(engine).get_columns(table.name)}
        for column in table.columns:
            if column.name not in present and column.nullable:
                kind = column.type.compile(dialect=engine.dialect)
                with engine.begin() as connection:
                    connection.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))


def _with_ending(session: Session, episode: Episode) -> Episode:
    """The episode with its retrain's ending, once that training run recorded one."""
    if episode.retrain is None or episode.outcome is not None:
        return episode
    ended = session.scalars(
        select(_RetrainOutcome).where(
            _RetrainOutcome.dataset == episode.dataset, _RetrainOutcome.holdout_end == episode.retrain
        )
    ).one_or_none()
    return episode if ended is None else episode.with_outcome(cast(Outcome, ended.outcome), ended.version)


def _spread(row: _Window) -> float | None:
    """The window's ``WindowVerdict.performance_spread`` from its stored figure; None without one."""
    if row.metric is None or row.metric_value is None or row.metric_low is None or row.metric_high is None:
        return None
    return Estimate(row.metric_value, row.metric_low, row.metric_high).reach(higher_is_better(row.metric))


def _number(value: float | None) -> float:
    return float("nan") if value is None else value


def _utc(at: dt.datetime | None) -> dt.datetime | None:
    # SQLite drops the zone; every time written here is UTC
    return at.replace(tzinfo=dt.UTC) if at is not None and at.tzinfo is None else at
