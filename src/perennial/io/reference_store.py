"""The champion's drift reference in MLflow: statistics for the verdicts, a sample for the report.

Both are logged on the model's training run (``perennial.training_run_id``) when it is trained,
so a monitoring window pays only for its own rows.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow
import pandas as pd

from perennial.core.drift import ReferenceStats
from perennial.errors import RegistryError
from perennial.io import tracking

REFERENCE_STATS_ARTIFACT = "drift/reference.npz"
REFERENCE_SAMPLE_ARTIFACT = "drift/reference_sample.parquet"


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
