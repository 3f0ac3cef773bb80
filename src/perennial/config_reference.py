"""The config reference (docs/config-reference.md), generated from the pydantic models.

Every key with its type, default and meaning: the meaning is the field's description, else the
comment beside or above it in the config package, else ``MEANINGS`` below (a new key without either fails
``tests/unit/test_config_reference.py``: give it a ``Field(description=...)``). A test
regenerates the page and fails when the committed one differs:

    .venv/bin/python -m perennial.config_reference > docs/config-reference.md
"""

from __future__ import annotations

import inspect
import json
import re
import types
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from perennial.config import Config
from perennial.config.messages import models_in

# Meanings of keys whose model says nothing (a Field description or a comment in perennial/config/ wins)
MEANINGS = {
    "Config.name": "the project's name: lowercase, used in run names, artifacts and events",
    "Config.task": "what the target is: two classes (binary), several, or a quantity",
    "Config.data": "where the rows come from and which columns play which role",
    "Config.split": "how rows are divided into training and holdout: by time, or by a hash of each row's key",
    "Config.validation": "the data contract's declared rules",
    "Config.training": "the candidate models and how they are searched",
    "Config.evaluation": "metrics, bootstrap intervals, slices and business cost on the holdout",
    "Config.gate": "what a candidate must show to become champion",
    "Config.tracking": "the MLflow experiment and registered model",
    "Config.serving": "the REST service",
    "Config.release": "shadow and canary releases decided on delayed outcomes",
    "Config.monitoring": "windows, delayed labels, drift and the retrain policy",
    "Config.predictions": "where every batch and served prediction is stored",
    "Data.source": "a file (csv, parquet, jsonl) or a SQL query",
    "Data.target": "the label column, or {column, positive_label}",
    "Data.features": "the columns the model reads, by type",
    "TimeSplit.kind": "time (the default when train_end or holdout_end is given)",
    "TimeSplit.train_start": "first day of the training window (none: from the first row)",
    "TimeSplit.train_end": "first day after the training window, and the holdout's first day",
    "TimeSplit.holdout_end": "first day after the holdout",
    "HashSplit.kind": "hash (the default without a time window)",
    "Validation.freshness": "the newest row may be at most this old (needs data.time_column)",
    "Validation.volume": "rows per day against the reference (skipped without data.time_column)",
    "Training.seed": "seeds every estimator and search",
    "Training.candidates": "the models to train; the best by cross-validation is evaluated and gated",
    "Training.task_runner": "where candidates train: the flow's threads or a Dask cluster",
    "Evaluation.primary_metric": "the metric the gate and the champion comparison judge",
    "Evaluation.secondary_metrics": "also reported, with intervals",
    "Evaluation.threshold": "probability at or above which the positive label is decided",
    "Evaluation.bootstrap": "resampling for the confidence intervals",
    "Evaluation.slices": "columns whose values are evaluated (and gated) apart",
    "Evaluation.min_slice_rows": "slices with fewer holdout rows are not judged",
    "Evaluation.latency_rows": "rows scored to measure prediction latency",
    "Evaluation.regression_cost": "regression: the cost of under- and over-prediction",
    "Evaluation.importance": "permutation importance on the holdout",
    "Gate.min_evidence": "the least evidence a verdict needs (below it: inconclusive, the champion stays)",
    "MinEvidence.holdout_rows": "holdout rows a verdict needs at least",
    "Gate.mode": "enforced: a failing candidate is not promoted; dry-run: reported only; off",
    "Gate.min_primary": "the primary metric's floor",
    "Gate.min_lift_over_baseline": "the candidate must beat the feature-blind baseline by this",
    "Gate.min_slice_primary": "every judged slice's floor",
    "Gate.max_slice_regression_vs_champion": "a slice may trail the champion's by at most this",
    "Gate.max_latency_ms_per_row": "prediction latency budget",
    "Gate.max_model_size_mb": "serialised model size budget",
    "Gate.class_recall_drop": "multiclass: per class, how far its recall may fall below the champion's",
    "Tracking.experiment": "MLflow experiment of the runs",
    "Tracking.registered_model": "MLflow registered model of the versions",
    "Serving.host": "bind address (localhost unless you mean otherwise)",
    "Serving.port": "port",
    "Serving.alias": "the registry alias served",
    "Serving.reload_interval_seconds": "how often the service polls the registry for a moved alias",
    "Serving.max_body_bytes": "larger request bodies are refused (413)",
    "Serving.max_batch_rows": "records per request at most",
    "Serving.batch_max_rows": "rows per coalesced predict call at most",
    "Serving.mode": "how the challenger is used: not at all, in shadow, or as a canary",
    "Serving.canary": "the canary's ramp and limits",
    "Monitoring.window": "the monitoring window's length",
    "Monitoring.min_labelled_rows": "windows with fewer labelled rows measure no performance",
    "Monitoring.retraining": "when monitoring asks for a retrain",
    "ParquetStore.kind": "parquet",
    "ParquetStore.path": "folder of the partitioned store (relative: from the project root); default "
    "${PERENNIAL_STATE_DIR:-.perennial}/predictions/<tracking.registered_model>: one store per model",
    "SqlStore.kind": "sql",
    "SqlStore.url": "SQLAlchemy URL; credentials in ${ENV} references",
    "SqlStore.table": "table of the predictions; default predictions_<tracking.registered_model>: one per model",
    "FileSource.kind": "csv (also .gz .bz2 .xz .zip .zst), parquet (a file or a partitioned directory), jsonl",
    "FileSource.path": "the file or directory (relative: from the project root)",
    "SqlSource.kind": "sql",
    "SqlSource.query": "the query whose rows are the data",
    "Features.numeric": "numeric columns (trees read them raw; linear models imputed and scaled)",
    "Features.categorical": "text, boolean or coded columns (ordinal codes for trees, one-hot for linear models)",
    "Features.datetime": "timestamp columns expanded into parts",
    "Freshness.max_age_hours": "hours between the newest row and the window's end",
    "Volume.min_ratio": "rows per day at least this share of the reference's",
    "Volume.max_ratio": "rows per day at most this multiple of the reference's",
    "Candidate.name": "the candidate's name (lowercase)",
    "Candidate.family": "the estimator family (which ones fit depends on the task)",
    "Candidate.params": "the estimator's parameters",
    "Candidate.search": "a hyper-parameter search over a grid",
    "CandidateRunner.kind": "thread: in the flow's process; dask: on a Dask cluster",
    "Bootstrap.resamples": "resamples of the holdout (more: tighter intervals, slower)",
    "Bootstrap.max_rows": "past this many rows, resample a seeded subset this large and narrow its interval by "
    "sqrt(subset / rows): a 20M-row window in seconds",
    "Bootstrap.confidence": "the intervals' confidence level",
    "Bootstrap.seed": "seeds the resampling",
    "CostMatrix.false_positive": "cost of flagging a negative",
    "CostMatrix.false_negative": "cost of missing a positive",
    "CostMatrix.true_positive_value": "value of catching a positive",
    "CostMatrix.unit": "what the costs are counted in",
    "CostMatrix.validation_share": "latest share of the training rows on which the threshold is chosen",
    "RegressionCost.unit": "what the costs are counted in",
    "RegressionCost.shift_prediction": "serve the cost-minimising quantile instead of the mean",
    "RegressionCost.validation_share": "share of the training rows on which the shift is chosen",
    "ClassCost.matrix": "cost of predicting each class (inner) for each true class (outer)",
    "ClassCost.unit": "what the costs are counted in",
    "Importance.max_rows": "holdout rows permuted at most",
    "Importance.repeats": "permutations per feature",
    "Canary.ramp": "the challenger's traffic shares, step by step",
    "Canary.max_error_rate": "a step with more errors stops the canary",
    "Canary.max_p99_ms": "a step slower at p99 stops the canary",
    "Retraining.k": "bad windows (of the last n) that ask for a retrain",
    "Retraining.n": "windows looked back over",
    "Retraining.cooldown_days": "no retrain within this many days of the last",
    "DatetimeFeature.column": "the timestamp column",
    "DatetimeFeature.parts": "the parts the model reads",
    "Search.grid": "parameter -> values to try",
    "Search.folds": "cross-validation folds (time-ordered with a time split)",
}

PIPE = "\\|"  # a literal | inside a Markdown table cell
HEADER = """# Config reference

Generated from the pydantic models in `src/perennial/config/` by
`.venv/bin/python -m perennial.config_reference > docs/config-reference.md`
(`tests/unit/test_config_reference.py` fails when this page is stale). Every model is strict:
an unknown key is an error that names the closest valid key. Strings may use `${VAR}` and
`${VAR:-default}` to read the environment.
"""


def type_name(annotation: Any) -> str:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return " \\| ".join(json.dumps(a) for a in args)
    if origin in (Union, types.UnionType):
        return " \\| ".join(type_name(a) for a in args)
    if origin is not None and getattr(origin, "__name__", "") == "Annotated":
        return type_name(args[0])
    if str(origin).startswith("typing.Annotated") or (origin is None and hasattr(annotation, "__metadata__")):
        return type_name(args[0])
    if origin is tuple:
        return f"list of {type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"mapping {type_name(args[0])} → {type_name(args[1])}"
    if annotation is type(None):
        return "null"
    if isinstance(annotation, type):
        return (
            annotation.__name__
            if not issubclass(annotation, BaseModel)
            else f"[{annotation.__name__}](#{annotation.__name__.lower()})"
        )
    return str(annotation).replace("typing.", "")


def _comments(model: type[BaseModel]) -> dict[str, str]:
    """The comment beside a field, or the comment lines just above it, from the model's source."""
    found: dict[str, str] = {}
    above: list[str] = []
    for line in inspect.getsource(model).splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            above.append(stripped.lstrip("# ").strip())
            continue
        match = re.match(r"\s+([a-z_][a-z0-9_]*)\s*:", line)
        if match:
            beside = line.split("  # ", 1)[1].strip() if "  # " in line else ""
            found[match.group(1)] = beside or " ".join(above)
        above = []
    return found


def _default(field: Any) -> str:
    if field.is_required():
        return "**required**"
    value = field.default if field.default is not PydanticUndefined else field.default_factory()
    if isinstance(value, BaseModel):
        return "(defaults below)"
    return f"`{json.dumps(value, default=str)}`"


def _section(model: type[BaseModel], path: str) -> list[str]:
    own = model.__dict__.get("__doc__")  # not Frozen's, which every model inherits
    doc = inspect.cleandoc(own).split("\n\n")[0].replace("\n", " ") if own else ""
    comments = _comments(model)
    lines = [
        f"## {model.__name__}",
        "",
        f"Key: `{path}`" + (f" — {doc}" if doc else ""),
        "",
        "| key | type | default | meaning |",
        "|---|---|---|---|",
    ]
    for name, field in model.model_fields.items():
        meaning = field.description or comments.get(name) or MEANINGS.get(f"{model.__name__}.{name}", "")
        meaning = meaning.replace("|", PIPE)
        lines.append(f"| `{name}` | {type_name(field.annotation)} | {_default(field)} | {meaning} |")
    return [*lines, ""]


def render() -> str:
    """The whole reference, each model once, in the order a config file reads."""
    out, seen = [HEADER], set()
    queue: list[tuple[type[BaseModel], str]] = [(Config, "(top level)")]
    while queue:
        model, path = queue.pop(0)
        if model in seen:
            continue
        seen.add(model)
        out += _section(model, path)
        for name, field in model.model_fields.items():
            key = name if path == "(top level)" else f"{path}.{name}"
            queue += [(inner, key) for inner in models_in(field.annotation)]
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    print(render(), end="")
