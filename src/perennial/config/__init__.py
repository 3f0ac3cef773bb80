"""The project config: YAML loaded once into frozen, strict pydantic models.

An unknown key or a wrong type is an error that names the file and the key path;
``${VAR}`` and ``${VAR:-default}`` are read from the environment so that secrets
(database URLs, tokens) never live in committed files.

One module per section of the file; every name is importable from here, so callers
write ``from perennial.config import Config, load_config``.
"""

from __future__ import annotations

from perennial.config.base import Frozen
from perennial.config.data import Data, DatetimeFeature, Features, FileSource, LabelValue, Source, SqlSource, Target
from perennial.config.evaluation import (
    Bootstrap,
    ClassCost,
    CostMatrix,
    Evaluation,
    Importance,
    Metric,
    RegressionCost,
)
from perennial.config.gate import Gate, MinEvidence
from perennial.config.loading import expand_env, load_config, parse_config
from perennial.config.monitoring import DriftReference, Monitoring, Retraining
from perennial.config.project import Config, Tracking
from perennial.config.runners import CandidateRunner, DaskCluster, DataEngine
from perennial.config.serving import Canary, ParquetStore, Release, Serving, SqlStore
from perennial.config.split import HashSplit, Split, TimeSplit
from perennial.config.training import Candidate, Family, Search, Training
from perennial.config.validation import Freshness, Validation, Volume, WarnableRule

__all__ = [
    "Bootstrap",
    "Canary",
    "Candidate",
    "CandidateRunner",
    "ClassCost",
    "Config",
    "CostMatrix",
    "DaskCluster",
    "Data",
    "DataEngine",
    "DatetimeFeature",
    "DriftReference",
    "Evaluation",
    "Family",
    "Features",
    "FileSource",
    "Freshness",
    "Frozen",
    "Gate",
    "HashSplit",
    "Importance",
    "LabelValue",
    "Metric",
    "MinEvidence",
    "Monitoring",
    "ParquetStore",
    "RegressionCost",
    "Release",
    "Retraining",
    "Search",
    "Serving",
    "Source",
    "Split",
    "SqlSource",
    "SqlStore",
    "Target",
    "TimeSplit",
    "Tracking",
    "Training",
    "Validation",
    "Volume",
    "WarnableRule",
    "expand_env",
    "load_config",
    "parse_config",
]
