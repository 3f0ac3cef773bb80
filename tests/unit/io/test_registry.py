"""The registry against a real MLflow on SQLite: versions, aliases, ledger, rollback."""

from __future__ import annotations

from pathlib import Path

import pytest

from perennial.core.data import features_of, labels_of
from perennial.core.names import Tag
from perennial.core.training import train_baseline
from perennial.errors import RegistryError
from perennial.io import tracking
from perennial.io.ledger import Ledger
from perennial.io.registry import CHALLENGER, CHAMPION, ModelRef, Registry, move_alias, release, rollback


@pytest.fixture
def registry(tmp_path: Path, experiment: str, flights, tiny_config) -> tuple[Registry, Ledger, list[str]]:
    """Three registered versions of a small model, none aliased yet."""
    model = train_baseline(features_of(flights, tiny_config), labels_of(flights, tiny_config), tiny_config).model
    registry, versions = Registry("reg-model"), []
    for i in range(3):
        with tracking.tracked_run(experiment, f"r{i}", {}) as run_id:
            uri_ = tracking.log_model(run_id, model, features_of(flights, tiny_config))
            versions.append(registry.register(uri_, run_id, {"perennial.gate": "passed", "i": i}))
    return registry, Ledger(f"sqlite:///{tmp_path / 'ledger.db'}"), versions


def test_aliases_move_with_a_ledger_entry_and_models_load_by_alias(registry, flights, tiny_config) -> None:
    reg, ledger, versions = registry
    # when v1 then v2 become champion
    move_alias(reg, ledger, CHAMPION, versions[0], "promote", "first")
    entry = move_alias(reg, ledger, CHAMPION, versions[1], "promote", "better")
    # then the alias points at v2, the ledger knows it came from v1, and the model loads by alias
    assert reg.alias_version(CHAMPION) == "2" and entry.previous_version == "1"
    assert reg.load(CHAMPION).predict_proba(features_of(flights, tiny_config).head(2)).shape == (2, 2)
    assert reg.info("2").tags["i"] == "1"


def test_rollback_goes_back_through_the_ledger(registry) -> None:
    reg, ledger, versions = registry
    for v in versions:
        move_alias(reg, ledger, CHAMPION, v, "promote", "gate passed")
    # when rolled back twice
    first = rollback(reg, ledger, "bad canary")
    second = rollback(reg, ledger, "still bad")
    # then champion walks v3 → v2 → v1 and each step is recorded with its reason
    assert (first.version, second.version) == ("2", "1") and reg.alias_version(CHAMPION) == "1"
    assert [e.reason for e in ledger.history("reg-model", limit=2)] == ["still bad", "bad canary"]
    # and a third has nowhere to go: a clear error, nothing moves
    with pytest.raises(RegistryError, match="no earlier champion"):
        rollback(reg, ledger, "again")
    assert reg.alias_version(CHAMPION) == "1"


def test_unknown_versions_and_missing_aliases_are_clear(registry) -> None:
    reg, ledger, _ = registry
    assert reg.alias_version(CHAMPION) is None
    with pytest.raises(RegistryError, match="has no version 9"):
        move_alias(reg, ledger, CHAMPION, "9", "promote", "typo")
    with pytest.raises(RegistryError, match="cannot load"):
        reg.load(CHAMPION)
    assert ledger.history("reg-model") == []


def test_a_release_mode_needs_a_challenger_is_recorded_and_ends_with_a_rollback(registry) -> None:
    reg, ledger, versions = registry
    move_alias(reg, ledger, CHAMPION, versions[0], "promote", "first")
    # given no challenger apart from the champion, then shadow is refused and nothing is set
    with pytest.raises(RegistryError, match="no challenger"):
        release(reg, ledger, "shadow", "too early")
    assert reg.serving_state() == ({"champion": "1"}, None)
    # when v2 is challenger and goes to canary, then services see it in one call, and the ledger has it
    move_alias(reg, ledger, CHALLENGER, versions[1], "challenger", "trained")
    entry = release(reg, ledger, "canary", "v2 looked fine in shadow")
    assert reg.serving_state() == ({"champion": "1", "challenger": "2"}, "canary")
    assert (entry.alias, entry.version, entry.action, entry.reason) == (
        "challenger",
        "2",
        "release canary",
        "v2 looked fine in shadow",
    )
    with pytest.raises(RegistryError, match="release mode must be one of"):
        release(reg, ledger, "blue-green", "unknown")
    # when the champion is rolled back, then the release is over: champion alone
    move_alias(reg, ledger, CHAMPION, versions[1], "promote", "promoted")
    rollback(reg, ledger, "bad")
    assert reg.release_mode() == "champion" and reg.alias_version(CHAMPION) == "1"
    # and clearing the mode leaves services to their config
    reg.set_release_mode(None)
    assert reg.release_mode() is None


def test_the_champion_comes_with_the_run_that_trained_it(registry) -> None:
    reg, ledger, versions = registry
    # given no champion yet, then there is none to ask about, and requiring one says what to do
    assert reg.champion() is None
    with pytest.raises(RegistryError, match="no 'champion' alias: train and promote a model first"):
        reg.require(CHAMPION)
    # when v2 (whose lineage tag names its training run) becomes champion
    reg.set_tag(versions[1], Tag.TRAINING_RUN, "run-of-v2")
    move_alias(reg, ledger, CHAMPION, versions[1], "promote", "gate passed")
    # then the champion is v2 with that run; v1 has no lineage, and requiring it is a clear error
    assert reg.champion() == ModelRef("reg-model", "2", "run-of-v2") == reg.require(CHAMPION)
    assert reg.training_run(versions[1]) == "run-of-v2" and reg.training_run(versions[0]) is None
    move_alias(reg, ledger, CHAMPION, versions[0], "promote", "back")
    with pytest.raises(RegistryError, match=r"v1 has no perennial.training_run_id tag"):
        reg.champion().require_training_run()
