"""Every name Perennial writes into MLflow and reads back: tags, aliases, release modes, artifact paths.

One home for each spelling, so a reader (or a grep) finds what a tag means and who writes it,
and a typo is an AttributeError instead of a tag nothing ever reads.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Final


class Alias:
    """The registered model's aliases."""

    CHAMPION: Final = "champion"
    CHALLENGER: Final = "challenger"


class ReleaseMode(StrEnum):
    """How running services use the challenger (`serving.mode`, `perennial release`)."""

    CHAMPION = "champion"  # the champion alone
    SHADOW = "shadow"  # the challenger scores every request; logged, never returned
    CANARY = "canary"  # a sticky share of ids is answered by the challenger


RELEASE_MODES: Final = tuple(m.value for m in ReleaseMode)


def release_action(what: str) -> str:
    """The ledger's action for a release: by hand ("release shadow", a mode) or decided on
    outcomes ("release pull", one of RELEASE_DECISIONS)."""
    return f"release {what}"


RELEASE_DECISIONS: Final = ("promote", "pull", "advance", "wait")  # core/release.py's Action


class Tag:
    """Tags on MLflow runs (R), model versions (V) and the registered model (M)."""

    # every flow's run (R), set when it opens
    KIND: Final = "perennial.kind"
    REASON: Final = "perennial.reason"
    CONFIG: Final = "perennial.config"
    CONFIG_HASH: Final = "perennial.config_hash"  # also V
    GIT_COMMIT: Final = "perennial.git_commit"  # also V
    PREFECT_FLOW_RUN: Final = "prefect.flow_run_id"
    FAILURE: Final = "perennial.failure"  # why a run ended FAILED: the exception's type and message
    # training (R) and lineage on the version (V)
    DATA_FINGERPRINT: Final = "perennial.data_fingerprint"
    HOLDOUT_FINGERPRINT: Final = "perennial.holdout_fingerprint"
    VALIDATION: Final = "perennial.validation"
    SUITE_FROM: Final = "perennial.suite_from"
    GATE: Final = "perennial.gate"
    GATE_MODE: Final = "perennial.gate_mode"
    CANDIDATE: Final = "perennial.candidate"
    PROFILE_DIFF_CHANGES: Final = "perennial.profile_diff_changes"
    WORST_SLICE: Final = "perennial.worst_slice"
    NO_POSITIVE_DECIDED: Final = "perennial.no_positive_decided"  # binary: why every decided label is negative
    TRAINING_RUN: Final = "perennial.training_run_id"  # V: the flow's run that trained and gated it
    CANDIDATE_RUN: Final = "perennial.candidate_run_id"  # V: the nested run holding the model
    VERSION_FLOW_RUN: Final = "perennial.prefect_flow_run_id"  # V
    IMPORTANCE: Final = "perennial.importance"  # V: its top features (the JSON artifact holds all)
    IMPORTANCE_ARTIFACT: Final = "perennial.importance_artifact"  # V
    DECISION_THRESHOLD: Final = "perennial.decision_threshold"  # V
    EXPECTED_COST: Final = "perennial.expected_cost"  # V
    PREDICTION_SHIFT: Final = "perennial.prediction_shift"  # V: regression cost, the shift that minimises it
    SPLIT: Final = "perennial.split"  # V: the split it was trained and held out under (time window or hash)
    LABELS: Final = "perennial.labels"  # V: binary, its positive and negative labels (core/target.Labels)
    DROPPED_FEATURES: Final = "perennial.dropped_features"  # R: all-null or constant in training
    INTERRUPTED: Final = "perennial.interrupted"  # R: a run `perennial doctor` found abandoned
    # batch scoring (R)
    MODEL_VERSION: Final = "perennial.model_version"
    ROWS: Final = "perennial.rows"
    # the file of new rows it scored (`score --data`, its absolute path); absent: the config's source
    SCORED_DATA: Final = "perennial.scored_data"
    # the model inputs of the rows it scored from that file (core/fingerprint.inputs_fingerprint)
    SCORED_INPUTS: Final = "perennial.scored_inputs"
    # monitoring (R)
    WINDOW: Final = "perennial.window"
    CHAMPION_VERSION: Final = "perennial.champion_version"
    RETRAIN: Final = "perennial.retrain"
    DECISION: Final = "perennial.decision"
    EVENT: Final = "perennial.event"
    EVENT_ID: Final = "perennial.event_id"
    DECAYED_FEATURES: Final = "perennial.decayed_features"
    DRIFT_REFERENCE: Final = "perennial.drift_reference"  # what the window's drift was measured against
    # the registered model (M): the release mode every replica follows
    RELEASE: Final = "perennial.release"
    # the highest canary step delayed outcomes allow (release.decide: auto); absent: the first step
    CANARY_STEP: Final = "perennial.release.canary_step"
    # monitoring (R): the release decision of the window
    RELEASE_DECISION: Final = "perennial.release_decision"


class Artifact:
    """Artifact paths on a model's training run that later commands read back (monitoring, doctor)."""

    SUITE: Final = "validation/suite.json"  # the data contract
    REFERENCE_STATS: Final = "drift/reference.npz"  # the drift reference statistics
    REFERENCE_SAMPLE: Final = "drift/reference_sample.parquet"  # rows for the drift report
    LABEL_FREE: Final = "label_free/reference.joblib"  # the label-free estimator


# MLflow accepts metric and param keys of word characters, `.`, `-`, ` ` and `:`, up to 250 long;
# a column's name (`sepal width (cm)`, `price/unit`) is whatever the user's table says
_NOT_A_KEY_CHARACTER: Final = re.compile(r"[^\w.\- :]")
_KEY_LENGTH: Final = 250


def tracking_key(name: str) -> str:
    """``name`` as an MLflow metric or param key: each character MLflow refuses becomes ``_``."""
    return _NOT_A_KEY_CHARACTER.sub("_", name)[:_KEY_LENGTH]


# The prediction store's columns beside a row's features (io/prediction_rows.py), in the order written
ROW_COLUMNS: Final = (
    "id",
    "event_time",
    "scored_at",
    "model_name",
    "model_version",
    "prediction",
    "predicted_label",
    "source",
)
# a multiclass row's predicted class and its probability of each class (proba__<class>), stored beside it
PREDICTED_CLASS: Final = "predicted_class"
PROBA_PREFIX: Final = "proba__"
# and the names scoring and the label join add: a feature named so would be overwritten or doubled
RESERVED_FEATURE_NAMES: Final = (*ROW_COLUMNS, PREDICTED_CLASS, "run_id", "label")


def reserved_feature_reason(name: str) -> str | None:
    """Why a column cannot be a feature under its own name, or None. A name starting ``proba__`` would be
    read back as a class's probability (a phantom class in every multiclass estimate)."""
    if name in RESERVED_FEATURE_NAMES or name.startswith(PROBA_PREFIX):
        return (
            f"named like a column the prediction store writes ({', '.join(RESERVED_FEATURE_NAMES)}, "
            f"{PROBA_PREFIX}<class>): rename it to use it"
        )
    return None
