"""The promotion ledger: every alias move, who made it, when and why (SQLAlchemy table).

SQLite under the state folder by default; any SQLAlchemy URL (Postgres) through
PERENNIAL_LEDGER_URL. The registry's aliases say where things are; the ledger says how
they got there, which is what rollback walks back through.
"""

from __future__ import annotations

import datetime as dt
import getpass
from dataclasses import dataclass

from sqlalchemy import DateTime, Integer, String, Text, create_engine, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class _Base(DeclarativeBase):
    pass


class _Entry(_Base):
    __tablename__ = "promotions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    model: Mapped[str] = mapped_column(String(200), index=True)
    alias: Mapped[str] = mapped_column(String(50))
    version: Mapped[str] = mapped_column(String(20))
    previous_version: Mapped[str | None] = mapped_column(String(20), nullable=True)
    action: Mapped[str] = mapped_column(String(30))  # promote | challenger | rollback | force
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    gate: Mapped[str | None] = mapped_column(String(20), nullable=True)  # passed | failed | off


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    id: int
    at: dt.datetime
    model: str
    alias: str
    version: str
    previous_version: str | None
    action: str
    actor: str
    reason: str
    run_id: str | None
    gate: str | None


def _entry(row: _Entry) -> LedgerEntry:
    return LedgerEntry(**{f: getattr(row, f) for f in LedgerEntry.__slots__})


class Ledger:
    def __init__(self, url: str) -> None:
        self._engine: Engine = create_engine(url)
        _Base.metadata.create_all(self._engine)

    def record(
        self,
        model: str,
        alias: str,
        version: str,
        previous_version: str | None,
        action: str,
        reason: str,
        run_id: str | None = None,
        gate: str | None = None,
        actor: str | None = None,
    ) -> LedgerEntry:
        row = _Entry(
            at=dt.datetime.now(dt.UTC),
            model=model,
            alias=alias,
            version=str(version),
            previous_version=None if previous_version is None else str(previous_version),
            action=action,
            actor=actor or getpass.getuser(),
            reason=reason,
            run_id=run_id,
            gate=gate,
        )
        with Session(self._engine) as session, session.begin():
            session.add(row)
            session.flush()
            return _entry(row)

    def history(self, model: str, alias: str | None = None, limit: int = 50) -> list[LedgerEntry]:
        """Newest first."""
        query = select(_Entry).where(_Entry.model == model)
        if alias is not None:
            query = query.where(_Entry.alias == alias)
        with Session(self._engine) as session:
            rows = session.scalars(query.order_by(_Entry.id.desc()).limit(limit)).all()
            return [_entry(r) for r in rows]

    def close(self) -> None:
        self._engine.dispose()
