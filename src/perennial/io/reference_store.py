"""The champion's references in MLflow: drift statistics for the verdicts, a sample for the report,
and the label-free estimator fitted on its holdout (core/label_free.py).

All are logged on the model's training run (``perennial.training_run_id``) when it is trained,
so a monitoring window pays only for its own rows. The estimator is a joblib pickle: it is trusted
as much as the model artifact beside it, and read only from the same tracking server.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import joblib
import mlflow
import pandas as pd

from perennial.core.drift import ReferenceStats
from perennial.core.label_free import ClassReference, LabelFreeReference, LossReference
from perennial.core.names import Artifact
from perennial.errors import RegistryError
from perennial.io import tracking

REFERENCE_STATS_ARTIFACT = Artifact.REFERENCE_STATS
REFERENCE_SAMPLE_ARTIFACT = Artifact.REFERENCE_SAMPLE
LABEL_FREE_ARTIFACT = Artifact.LABEL_FREE


def log_reference(run_id: str, stats: ReferenceStats, sample: pd.DataFrame) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(REFERENCE_STATS_ARTIFACT).name
        path.write_bytes(stats.to_bytes())
        tracking.client().log_artifact(run_id, str(path), str(Path(REFERENCE_STATS_ARTIFACT).parent))
    tracking.log_frame(run_id, sample, REFERENCE_SAMPLE_ARTIFACT)


def load_reference(run_id: str, model: str) -> tuple[ReferenceStats, pd.DataFrame]:
    """The statistics and the report sample logged on ``run_id``; a clear error when they are missing."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            stats_path = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=REFERENCE_STATS_ARTIFACT, dst_path=tmp
            )
            sample_path = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=REFERENCE_SAMPLE_ARTIFACT, dst_path=tmp
            )
        except Exception as exc:  # MLflow raises several types for a missing artifact
            raise RegistryError(
                f"{model}: training run {run_id} has no drift reference ({REFERENCE_STATS_ARTIFACT}): "
                f"retrain, or see `perennial doctor` ({type(exc).__name__})"
            ) from None
        return ReferenceStats.from_bytes(Path(stats_path).read_bytes()), pd.read_parquet(sample_path)


def log_label_free(run_id: str, reference: LabelFreeReference) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(LABEL_FREE_ARTIFACT).name
        joblib.dump(reference, path)
        tracking.client().log_artifact(run_id, str(path), str(Path(LABEL_FREE_ARTIFACT).parent))


def load_label_free(run_id: str) -> tuple[LabelFreeReference | None, str | None]:
    """The label-free estimator logged on ``run_id``, or None and why there is none.

    A run trained before it was recorded has none; so has one whose pickle this environment cannot
    read (written under another scikit-learn or numpy): monitoring then goes on without the estimate
    and says why, instead of failing the window over an optional figure.
    """
    folder = str(Path(LABEL_FREE_ARTIFACT).parent)
    if LABEL_FREE_ARTIFACT not in {a.path for a in tracking.client().list_artifacts(run_id, folder)}:
        return None, f"training run {run_id} recorded none (trained before it was recorded): retrain to record one"
    with tempfile.TemporaryDirectory() as tmp:
        path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=LABEL_FREE_ARTIFACT, dst_path=tmp)
        try:
            reference = joblib.load(path)
        except Exception as exc:  # unpickling another version's objects raises any type
            return None, (
                f"{LABEL_FREE_ARTIFACT} on training run {run_id} cannot be read here "
                f"({type(exc).__name__}: {str(exc)[:200]}), likely written under other library versions: "
                "retrain to record one"
            )
    if not isinstance(reference, LossReference | ClassReference):
        return (
            None,
            f"{LABEL_FREE_ARTIFACT} on training run {run_id} holds a {type(reference).__name__}, not an estimator",
        )
    return reference, None
