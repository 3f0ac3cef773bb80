from __future__ import annotations

from dataclasses import dataclass

from perennial.core.promotion import rollback_target, unrecorded_move


@dataclass
class Move:
    alias: str
    version: str
    previous_version: str | None
    action: str


def test_rollback_walks_back_and_never_flips_between_two_versions() -> None:
    # given v1, v2, v3 promoted in turn (newest first)
    history = [
        Move("champion", "3", "2", "promote"),
        Move("champion", "2", "1", "promote"),
        Move("champion", "1", None, "promote"),
    ]
    # when rolled back once, then again
    first = rollback_target(history, "3")
    history.insert(0, Move("champion", "2", "3", "rollback"))
    second = rollback_target(history, "2")
    # then it goes to v2, then v1 — not back to v3
    assert (first, second) == ("2", "1")


def test_no_earlier_version_means_no_target_and_other_aliases_are_ignored() -> None:
    history = [Move("challenger", "2", "1", "challenger"), Move("champion", "1", None, "promote")]
    assert rollback_target(history, "1") is None


def test_a_service_follows_only_alias_moves_the_ledger_recorded() -> None:
    # given the alias where the ledger's last move put it / then it may be followed
    assert unrecorded_move("champion", "3", "3") is None
    # given a version the ledger did not put there, or no move at all / then refused, saying why
    assert "points at v4, but the ledger's last champion move was to v3: refused" in unrecorded_move(
        "champion", "4", "3"
    )
    assert "the ledger never moved challenger" in unrecorded_move("challenger", "4", None)
