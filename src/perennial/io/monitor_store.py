"""Durable memory of the closed loop: monitored windows and retrain requests (SQLAlchemy).

It lives beside the ledger (same database URL). A retrain request's dedupe key is unique,
so one episode yields one retrain even across restarts and concurrent monitors.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, Float, Integer, String, Text, UniqueConstraint, create_engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from perennial.core.retraining import WindowVerdict


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


class _Retrain(_Base):
    __tablename__ = "retrain_requests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)
    dataset: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(40))
    why: Mapped[str] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class MonitorStore:
    def __init__(self, url: str) -> None:
        self._engine = create_engine(url)
        _Base.metadata.create_all(self._engine)

    def record_window(self, dataset: str, verdict: WindowVerdict, at: dt.datetime) -> None:
        """Insert or replace the verdict of one window (a re-run of a window updates it)."""
        with Session(self._engine) as session, session.begin():
            row = session.scalars(
                select(_Window).where(_Window.dataset == dataset, _Window.window == verdict.window)
            ).one_or_none() or _Window(dataset=dataset, window=verdict.window)
            row.drift_share, row.performance_drop = verdict.drift_share, verdict.performance_drop
            row.data_valid, row.at = verdict.data_valid, at
            session.add(row)

    def history(self, dataset: str, until: str | None = None, limit: int = 50) -> list[WindowVerdict]:
        """Window verdicts oldest first, up to and including ``until``."""
        query = select(_Window).where(_Window.dataset == dataset)
        if until is not None:
            query = query.where(_Window.window <= until)
        with Session(self._engine) as session:
            rows = session.scalars(query.order_by(_Window.window.desc()).limit(limit)).all()
            return [WindowVerdict(r.window, r.drift_share, r.performance_drop, r.data_valid) for r in reversed(rows)]

    def claim_retrain(self, dedupe_key: str, dataset: str, reason: str, why: str, at: dt.datetime) -> bool:
        """Record a retrain request; False when the key was already claimed (by anyone)."""
        try:
            with Session(self._engine) as session, session.begin():
                session.add(_Retrain(dedupe_key=dedupe_key, dataset=dataset, reason=reason, why=why, at=at))
        except IntegrityError:
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
        # SQLite drops the zone; every time written here is UTC
        return at.replace(tzinfo=dt.UTC) if at is not None and at.tzinfo is None else at

    def close(self) -> None:
        self._engine.dispose()
