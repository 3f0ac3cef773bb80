"""The one bracket for an MLflow run, against a real MLflow on SQLite."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from perennial.core.names import Tag
from perennial.io import tracking


def test_work_that_finishes_ends_the_run_finished_with_its_tags(experiment: str) -> None:
    # when the work inside the bracket returns
    with tracking.tracked_run(experiment, "ok", {Tag.KIND: "training"}) as run_id:
        tracking.log_metrics(run_id, {"x": 1.0})
    # then the run is FINISHED, tagged as opened, with no failure recorded
    run = MlflowClient().get_run(run_id)
    assert (run.info.status, run.info.run_name, run.data.tags[Tag.KIND]) == ("FINISHED", "ok", "training")
    assert Tag.FAILURE not in run.data.tags and run.data.metrics == {"x": 1.0}


def test_work_that_raises_ends_the_run_failed_with_the_reason_and_the_error_goes_on(experiment: str) -> None:
    # when the work inside the bracket raises
    with pytest.raises(ValueError, match="column 'dep_delay' is all null"):
        with tracking.tracked_run(experiment, "broken", {}) as run_id:
            raise ValueError("column 'dep_delay' is all null")
    # then the run is FAILED and says why: the exception's type and message
    run = MlflowClient().get_run(run_id)
    assert run.info.status == "FAILED"
    assert run.data.tags[Tag.FAILURE] == "ValueError: column 'dep_delay' is all null"


def test_work_killed_by_an_interrupt_ends_the_run_failed(experiment: str) -> None:
    # when the work is stopped from outside halfway (Ctrl-C, a cancelled flow run)
    with pytest.raises(KeyboardInterrupt):
        with tracking.tracked_run(experiment, "interrupted", {}) as run_id:
            tracking.log_metrics(run_id, {"done": 0.5})
            raise KeyboardInterrupt
    # then the interrupt is not swallowed, and the run is FAILED with the reason
    run = MlflowClient().get_run(run_id)
    assert (run.info.status, run.data.tags[Tag.FAILURE]) == ("FAILED", "KeyboardInterrupt: ")


def test_a_failure_reason_never_records_a_secret(experiment: str) -> None:
    # when the failure's message holds a database URL with a password, in userinfo and in the query
    with pytest.raises(ConnectionError):
        with tracking.tracked_run(experiment, "db", {}) as run_id:
            raise ConnectionError("postgresql://app:hunter2@db/x?sslpassword=s3cr3t&sslmode=require refused")
    # then the recorded reason keeps the message, masked
    reason = MlflowClient().get_run(run_id).data.tags[Tag.FAILURE]
    assert reason == "ConnectionError: postgresql://app:***@db/x?sslpassword=***&sslmode=require refused"


def test_nested_runs_point_at_their_parent(experiment: str) -> None:
    # when a candidate's run opens inside the flow's run
    with tracking.tracked_run(experiment, "flow", {}) as parent:
        with tracking.tracked_run(experiment, "candidate", {}, parent_run_id=parent) as child:
            pass
    # then the UI shows it nested, and both ended FINISHED
    client = MlflowClient()
    assert client.get_run(child).data.tags["mlflow.parentRunId"] == parent
    assert {client.get_run(r).info.status for r in (parent, child)} == {"FINISHED"}


_CONFIGURE_THEN_BOOTSTRAP = """
import sys, warnings
from pathlib import Path
import numpy as np
from perennial.io import tracking
from perennial.settings import Settings
state = Path(sys.argv[1])
tracking.configure(Settings(state, state, f"sqlite:///{state / 'mlflow.db'}", state.as_uri(), "sqlite://"))
loaded_by_configure = "scipy.stats" in sys.modules
from scipy import stats
with warnings.catch_warnings(record=True) as caught:
    stats.bootstrap((np.ones(20),), np.mean, n_resamples=50, random_state=0)  # every resample the same
    warnings.warn("a warning of another kind", RuntimeWarning)
print(loaded_by_configure, [str(w.message)[:20] for w in caught if str(w.message).startswith(("The BCa", "a warning"))])
"""


def test_configure_silences_the_degenerate_bootstrap_warning_without_importing_scipy_stats(
    tmp_path: Path,
) -> None:
    # given a fresh interpreter (a `perennial status` pays for every module configure imports)
    # when tracking is configured, then a bootstrap over identical values runs
    out = subprocess.run(
        [sys.executable, "-c", _CONFIGURE_THEN_BOOTSTRAP, str(tmp_path)], capture_output=True, text=True, check=True
    )
    # then configure did not load scipy.stats, the BCa warning is silent, and other warnings still show
    assert out.stdout.strip() == "False ['a warning of another']", out.stdout + out.stderr


def test_a_database_source_is_named_by_its_redacted_url_and_a_file_by_mlflows_own_source() -> None:
    # given the name describe_source gives a query's database (password hidden) and a file's path
    url = "postgresql+psycopg://scorer:***@db.internal:5432/clinic"
    # when each becomes an MLflow dataset source / then the URL is kept as it was given, no more
    sql, file = tracking._dataset_source(url), tracking._dataset_source("/data/clinic.parquet")
    assert (sql._get_source_type(), sql.to_dict()) == ("sql", {"url": url})
    assert file._get_source_type() != "sql" and "clinic.parquet" in str(file.to_dict())


def test_a_dataset_mlflow_cannot_type_is_logged_by_its_digest_without_failing_the_run(experiment: str) -> None:
    # given a frame whose column MLflow's schema inference refuses (Decimal objects), and one it can type
    odd = pd.DataFrame({"amount": [Decimal("1001.00"), Decimal("2.50")], "y": [0.0, 1.0]})
    plain = odd.assign(amount=odd["amount"].astype("float64"))
    with tracking.tracked_run(experiment, "lineage", {}) as run_id:
        # when each is logged as the run's dataset
        tracking.log_dataset(run_id, odd, "odd", "/data/odd.parquet", "training", "d1", "y")
        tracking.log_dataset(run_id, plain, "plain", "/data/plain.parquet", "evaluation", "d2", "y")
    # then the run finishes with both datasets, named by digest; only the typable one carries a schema
    run = MlflowClient().get_run(run_id)
    logged = {d.dataset.name: d.dataset for d in run.inputs.dataset_inputs}
    assert run.info.status == "FINISHED" and {n: d.digest for n, d in logged.items()} == {"odd": "d1", "plain": "d2"}
    assert not logged["odd"].schema and "amount" in logged["plain"].schema


def test_a_text_column_empty_in_the_first_rows_is_typed_as_text_in_the_signature() -> None:
    # given a training frame whose cabin is missing in its first rows, as Titanic's is (77% missing)
    from mlflow.models import infer_signature

    from perennial.io.tracking import signature_rows

    frame = pd.DataFrame({"fare": [7.25, 71.3, 7.9, 53.1, 8.05, 8.46, 51.9], "cabin": [float("nan")] * 6 + ["E46"]})
    # when the rows the signature is inferred from are chosen
    sample = signature_rows(frame)
    types = {c["name"]: c["type"] for c in infer_signature(sample).inputs.to_dict()}
    # then the cabin's first value rides along and it is text (five empty rows alone typed it a number)
    assert list(sample.index) == [0, 1, 2, 3, 4, 6] and types == {"fare": "double", "cabin": "string"}
    assert {c["name"]: c["type"] for c in infer_signature(frame.head(5)).inputs.to_dict()}["cabin"] == "double"
