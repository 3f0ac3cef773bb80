"""MLflow tracking: runs, params, metrics, datasets, artifacts and models, by explicit run id.

Tasks pass run ids around instead of relying on MLflow's implicit active run, so parallel
candidate tasks (threads) never log into each other's runs.
"""

from __future__ import annotations

import json
import logging
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.data.dataset_source import DatasetSource
from mlflow.entities import RunStatus
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from perennial.core.names import Tag, tracking_key
from perennial.core.predict import classes_of, predict, predict_method
from perennial.core.secrets import mask_secrets
from perennial.core.task import Task
from perennial.settings import Settings

MODEL_REQUIREMENTS = ("scikit-learn", "pandas", "numpy", "scipy", "cloudpickle")

# MLflow advice that does not apply to how we log, repeated on every run: we choose cloudpickle on
# purpose (see log_model), pin requirements explicitly (so pip's version is moot in a uv venv), name
# the dataset source ourselves, and describe integer columns from real rows.
_KNOWN_ADVICE = (
    "Saving scikit-learn models in the pickle or cloudpickle format",
    "Failed to resolve installed pip version",
)


class _DropKnownAdvice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(_KNOWN_ADVICE)


@contextmanager
def _quiet() -> Iterator[None]:
    quiet = _DropKnownAdvice()
    loggers = [logging.getLogger(n) for n in ("mlflow.sklearn", "mlflow.utils.environment")]
    for logger in loggers:
        logger.addFilter(quiet)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(quiet)


def client() -> MlflowClient:
    return MlflowClient()


def _ignore_known_warnings() -> None:
    # Process-wide, set once: warnings.catch_warnings is not thread-safe, and candidates log in threads
    for message in (r"Hint: Inferred schema contains integer", r"The specified dataset source can be interpreted"):
        warnings.filterwarnings("ignore", message=message, category=UserWarning)
    # a slice whose resamples all hold one class: core/metrics.py keeps its interval NaN on purpose,
    # and its catch_warnings cannot hold while another candidate's thread restores the filters.
    # Matched by message (scipy's DegenerateDataWarning is a RuntimeWarning): importing scipy.stats
    # for its class cost every `perennial status` 0.7 s
    warnings.filterwarnings(
        "ignore", message=r"The BCa confidence interval cannot be calculated", category=RuntimeWarning
    )


def configure(settings: Settings) -> None:
    point_at(settings.tracking_uri)


def point_at(tracking_uri: str) -> None:
    """MLflow's client of this process talks to ``tracking_uri``."""
    _ignore_known_warnings()
    mlflow.set_tracking_uri(tracking_uri)


def ensure_experiment(name: str, artifact_root: str) -> str:
    """The experiment's id, creating it with its artifacts under the state folder."""
    existing = client().get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    return client().create_experiment(name, artifact_location=f"{artifact_root.rstrip('/')}/{name}")


def _start_run(experiment_id: str, name: str, tags: Mapping[str, str], parent_run_id: str | None = None) -> str:
    all_tags = dict(tags)
    if parent_run_id:
        all_tags["mlflow.parentRunId"] = parent_run_id  # shows as nested in the UI
    run_id: str = client().create_run(experiment_id, run_name=name, tags=all_tags).info.run_id
    return run_id


def _end_run(run_id: str, failed: bool = False) -> None:
    status = RunStatus.to_string(RunStatus.FAILED if failed else RunStatus.FINISHED)
    client().set_terminated(run_id, status=status)


def failure_text(exc: BaseException) -> str:
    """What a FAILED run records of its exception: type and message, secrets in URLs masked."""
    return mask_secrets(f"{type(exc).__name__}: {exc}")[
        :5000
    ]  # MLflow caps a tag at 5,000 chars (8,000 on new servers)


@contextmanager
def tracked_run(
    experiment_id: str, name: str, tags: Mapping[str, str], parent_run_id: str | None = None
) -> Iterator[str]:
    """The one bracket for an MLflow run: open it with its tags, yield its id, end it FINISHED or FAILED.

    Anything raised inside (an error, a gate, Ctrl-C) is recorded on the run as its failure
    (``perennial.failure``), the run ends FAILED, and the exception goes on. The run id is passed
    explicitly (no implicit active run), so runs opened in parallel threads never mix.
    """
    run_id = _start_run(experiment_id, name, tags, parent_run_id)
    try:
        yield run_id
    except BaseException as exc:
        try:
            client().set_tag(run_id, Tag.FAILURE, failure_text(exc))
        finally:
            _end_run(run_id, failed=True)
        raise
    _end_run(run_id)


def set_tags(run_id: str, tags: Mapping[str, Any]) -> None:
    for key, value in tags.items():
        client().set_tag(run_id, key, str(value))


def log_params(run_id: str, params: Mapping[str, Any], prefix: str = "") -> None:
    flat = {tracking_key(f"{prefix}{k}"): str(v)[:6000] for k, v in params.items()}
    for key, value in flat.items():
        client().log_param(run_id, key, value)


def log_metrics(run_id: str, metrics: Mapping[str, float], step: int = 0) -> None:
    import time

    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    batch = [Metric(tracking_key(k), float(v), now, step) for k, v in metrics.items() if v is not None]
    for start in range(0, len(batch), 500):  # the REST API caps a batch at 1000 entries
        client().log_batch(run_id, metrics=batch[start : start + 500])


def log_json(run_id: str, payload: Any, artifact_file: str) -> None:
    client().log_dict(run_id, payload, artifact_file)


def log_text(run_id: str, text: str, artifact_file: str) -> None:
    client().log_text(run_id, text, artifact_file)


def log_figure(run_id: str, figure: Any, artifact_file: str) -> None:
    client().log_figure(run_id, figure, artifact_file)


def log_frame(run_id: str, frame: pd.DataFrame, artifact_file: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(artifact_file).name
        frame.to_parquet(path, index=False) if path.suffix == ".parquet" else frame.to_csv(path, index=False)
        client().log_artifact(run_id, str(path), str(Path(artifact_file).parent) if "/" in artifact_file else None)


@contextmanager
def _in_run(run_id: str) -> Iterator[None]:
    # Fluent APIs (datasets, models) need an active run; the stack is thread-local
    with mlflow.start_run(run_id=run_id, nested=True):
        yield


def log_dataset(
    run_id: str, frame: pd.DataFrame, name: str, source: str, context: str, digest: str, target: str
) -> None:
    """Log a frame as an MLflow dataset input by its digest (our full-content fingerprint) and schema.

    Not ``mlflow.data.from_pandas``: it infers the schema and a profile from every row, a second
    pass over data the fingerprint has just read; the schema of a sample is the same schema, and
    the row count is the run's ``rows_*`` parameter.
    """
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.types.utils import _infer_schema

    with _quiet():
        try:
            schema = _infer_schema(frame.head(1000))
        except MlflowException as exc:  # a type MLflow cannot name: lineage keeps the digest, not the schema
            logging.getLogger(__name__).warning("dataset %s logged without a schema: %.200s", name, exc.message)
            schema = None
        # MLflow's Dataset marks `profile` abstract without ABCMeta; MetaDataset is concrete at run time
        dataset = MetaDataset(_dataset_source(source), name=name, digest=digest, schema=schema)  # type: ignore[abstract]
    with _in_run(run_id):
        mlflow.log_input(dataset, context=context, tags={"target": target})


class SqlDatasetSource(DatasetSource):
    """A database query's source, named by its URL with the password hidden (MLflow resolves none)."""

    def __init__(self, url: str) -> None:
        self._url = url

    @staticmethod
    def _get_source_type() -> str:
        return "sql"

    def load(self, **kwargs: Any) -> Any:
        raise NotImplementedError("a query's rows are read by perennial's sources, not by MLflow")

    @staticmethod
    def _can_resolve(raw_source: Any) -> bool:
        return False

    @classmethod
    def _resolve(cls, raw_source: Any) -> SqlDatasetSource:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        return {"url": self._url}

    @classmethod
    def from_dict(cls, source_dict: dict[Any, Any]) -> SqlDatasetSource:
        return cls(str(source_dict.get("url", "")))


def _dataset_source(source: str) -> DatasetSource:
    """MLflow's source for a file path; a SQL URL (``describe_source`` hid its password) as a sql source."""
    from mlflow.data.dataset_source_registry import resolve_dataset_source

    try:
        return resolve_dataset_source(source)
    except MlflowException:  # no resolver for a database URL
        return SqlDatasetSource(source)


def signature_rows(example: pd.DataFrame, rows: int = 5) -> pd.DataFrame:
    """The first ``rows`` rows, plus the first row holding a value of each column they leave empty:
    MLflow types a column from its values, and a text column empty in five rows (Titanic's Cabin,
    77% missing) was typed a number, so the service refused every cabin as 'not a valid number'."""
    head = example.head(rows)
    empty = [c for c in example.columns if head[c].isna().all()]
    extra = [example[c].first_valid_index() for c in empty]
    found = [i for i in dict.fromkeys(extra) if i is not None and i not in head.index]
    return pd.concat([head, example.loc[found]]) if found else head


def log_model(run_id: str, model: Any, example: pd.DataFrame, task: Task = "binary") -> str:
    """Log a scikit-learn pipeline with its signature and input example; returns its model URI.

    The signature's output is the task's prediction: the positive probability (binary), one
    probability column per class named by the class (multiclass), or the value (regression).
    """
    from mlflow.models import infer_signature

    # MLflow's schema has no time zones: describe timestamps as naive UTC (the model reads both)
    sample = signature_rows(example).apply(
        lambda col: col.dt.tz_convert("UTC").dt.tz_localize(None) if isinstance(col.dtype, pd.DatetimeTZDtype) else col
    )
    requirements = [f"{p}=={package_version(p)}" for p in MODEL_REQUIREMENTS]
    with _quiet(), _in_run(run_id):
        output: np.ndarray | pd.DataFrame = predict(model, sample, task)
        if task == "multiclass":
            output = pd.DataFrame(output, columns=list(classes_of(model, task)))
        signature = infer_signature(sample, output)
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=signature,
            input_example=sample,
            pyfunc_predict_fn=predict_method(task),
            # our feature transformers are project classes, which skops would refuse to load
            serialization_format="cloudpickle",
            pip_requirements=requirements,
        )
    model_uri: str = info.model_uri
    return model_uri


def load_json(run_id: str, artifact_file: str) -> Any | None:
    """A JSON artifact of a run, or None when the run has none by that name."""
    try:
        text = mlflow.artifacts.load_text(f"runs:/{run_id}/{artifact_file}")
    except Exception:  # MLflow raises several types for a missing artifact
        return None
    return json.loads(text)


def run_url(run_id: str) -> str:
    """Where to look at a run: the MLflow UI path (when served by `perennial ui`)."""
    run = client().get_run(run_id)
    return f"#/experiments/{run.info.experiment_id}/runs/{run_id}"


def runs_tagged(experiment: str, tag: str) -> dict[str, str]:
    """Each run of ``experiment`` that carries ``tag``: its id and the tag's value (one search, paged)."""
    found = client().get_experiment_by_name(experiment)
    if found is None:
        return {}
    tagged: dict[str, str] = {}
    token = None
    while True:
        page = client().search_runs(
            [found.experiment_id], filter_string=f"tags.`{tag}` LIKE '%'", max_results=1000, page_token=token
        )
        tagged.update({run.info.run_id: run.data.tags[tag] for run in page})
        token = page.token
        if not token:
            return tagged
