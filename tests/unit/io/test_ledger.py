from __future__ import annotations

from pathlib import Path

from perennial.io.ledger import Ledger


def test_entries_are_kept_and_listed_newest_first(tmp_path: Path) -> None:
    # given a ledger with three moves
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    ledger.record("m", "champion", "1", None, "promote", "gate passed", run_id="r1", gate="passed")
    ledger.record("m", "challenger", "2", "1", "challenger", "trained", run_id="r2", gate="failed")
    ledger.record("other", "champion", "7", None, "promote", "gate passed")
    ledger.close()
    # when reopened (a new process would do the same)
    history = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}").history("m")
    # then both moves of model m are there, newest first, with who and why
    assert [(e.alias, e.version, e.previous_version) for e in history] == [
        ("challenger", "2", "1"),
        ("champion", "1", None),
    ]
    assert history[0].actor and history[0].reason == "trained" and history[0].gate == "failed"
    assert [e.version for e in Ledger(f"sqlite:///{tmp_path / 'ledger.db'}").history("m", alias="champion")] == ["1"]
