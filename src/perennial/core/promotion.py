"""Where a rollback goes: walk the champion's history back past versions already rolled back."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class AliasMove(Protocol):
    alias: str
    version: str
    previous_version: str | None
    action: str


def rollback_target(history: Iterable[AliasMove], current: str | None, alias: str = "champion") -> str | None:
    """The version ``alias`` should return to, from its history (newest first); None if none.

    A version that a rollback moved away from is never a target again, so repeated
    rollbacks walk further back instead of flipping between the last two versions.
    """
    rolled_back: set[str] = set()
    for move in history:
        if move.alias != alias:
            continue
        if move.action == "rollback" and move.previous_version:
            rolled_back.add(move.previous_version)
            continue
        if move.version != current and move.version not in rolled_back:
            return move.version
    return None


def unrecorded_move(alias: str, version: str, recorded: str | None) -> str | None:
    """Why a service must not follow ``alias`` to ``version``, or None when it may.

    Anyone who can move an alias in the registry can make the service load (and run) that model;
    only a move written to the promotion ledger (a gate, a release, a rollback) is followed.
    ``recorded`` is the version the ledger's latest move of ``alias`` put there.
    """
    if recorded == version:
        return None
    where = f"the ledger's last {alias} move was to v{recorded}" if recorded else f"the ledger never moved {alias}"
    return (
        f"alias {alias} points at v{version}, but {where}: refused (moved outside perennial promote/release/rollback)"
    )
