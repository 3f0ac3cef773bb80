"""Where Perennial keeps its state, and the embedded defaults for Prefect and MLflow.

Everything lives under one project-local state folder (``.perennial/`` beside
``pyproject.toml``, or ``$PERENNIAL_STATE_DIR``). A real MLflow or Prefect server is one
environment variable away (``MLFLOW_TRACKING_URI``, ``PREFECT_API_URL``).
Nothing here runs at import time: entry points call ``apply_defaults()`` first.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _project_table(folder: Path) -> dict[str, Any] | None:
    """The [tool.perennial] table of ``folder``'s pyproject.toml, or None."""
    candidate = folder / "pyproject.toml"
    if not candidate.is_file():
        return None
    try:
        table = tomllib.loads(candidate.read_text()).get("tool", {}).get("perennial")
    except tomllib.TOMLDecodeError:
        return None
    return table if isinstance(table, dict) else None


def find_project_root(start: Path | None = None) -> Path:
    """The nearest folder upwards holding a pyproject.toml with a [tool.perennial] table."""
    here = (start or Path.cwd()).resolve()
    return next((folder for folder in (here, *here.parents) if _project_table(folder) is not None), here)


# what --config defaults to outside a project: loading it says to pass --config
NO_DEFAULT_CONFIG = "<no config given>"


def default_config(start: Path | None = None) -> str:
    """The config every command and flow uses unless told: ``[tool.perennial] default_config``.

    Relative to the project root. Outside a project there is none, and the placeholder says so
    when a command tries to load it.
    """
    table = _project_table(find_project_root(start)) or {}
    return str(table.get("default_config") or NO_DEFAULT_CONFIG)


@dataclass(frozen=True, slots=True)
class Settings:
    root: Path
    state_dir: Path
    tracking_uri: str
    artifact_root: str
    ledger_url: str

    @property
    def prefect_home(self) -> Path:
        return self.state_dir / "prefect"

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def local_tracking_uri(self) -> str:
        """The embedded MLflow store (what `perennial up`'s tracking server serves)."""
        return f"sqlite:///{self.state_dir / 'mlflow.db'}"


# `perennial up` records the servers it started here; while they live, everything uses them
STACK_FILE = "stack.json"


def process_identity(pid: int) -> tuple[str, str] | None:
    """(command line, start time in clock ticks since boot) of a running process; None when it is gone.

    Read from /proc (Linux). A process id is reused once its process ends: the pair tells the
    process `perennial up` started from whatever holds its id now.
    """
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return cmdline, stat.rsplit(")", 1)[1].split()[19]  # field 22 of proc(5), counted after the command name


def is_recorded_process(proc: dict[str, Any]) -> bool:
    """The process a stack record names still runs, and is that process (not another one with its id)."""
    try:
        os.kill(int(proc["pid"]), 0)
    except (ProcessLookupError, PermissionError, KeyError, ValueError):
        return False
    if "started" not in proc:  # recorded where /proc is missing: the id is all there is to go on
        return True
    identity = process_identity(int(proc["pid"]))
    if identity is None or identity[1] != proc["started"]:
        return False
    return identity[0] in ("", proc.get("cmdline"))  # a zombie's command line reads empty; its start time stays


def stack_alive(record: dict[str, Any]) -> bool:
    """Every process the stack record names is still running."""
    return bool(record.get("processes")) and all(is_recorded_process(p) for p in record["processes"])


def running_stack(state: Path) -> dict[str, Any] | None:
    """The record of a live `perennial up` stack in ``state``, or None (none, or its processes died)."""
    path = state / STACK_FILE
    try:
        record = json.loads(path.read_text()) if path.is_file() else None
    except (OSError, ValueError):
        return None
    return record if record and stack_alive(record) else None


def load_settings(root: Path | None = None) -> Settings:
    """Resolve settings from the environment, defaulting everything under the state folder."""
    root = root or find_project_root()
    state = Path(os.environ.get("PERENNIAL_STATE_DIR", root / ".perennial")).resolve()
    stack = running_stack(state)
    return Settings(
        root=root,
        state_dir=state,
        tracking_uri=os.environ.get(
            "MLFLOW_TRACKING_URI", stack["mlflow"] if stack else f"sqlite:///{state / 'mlflow.db'}"
        ),
        artifact_root=os.environ.get("PERENNIAL_ARTIFACT_ROOT", (state / "mlartifacts").as_uri()),
        ledger_url=os.environ.get("PERENNIAL_LEDGER_URL", f"sqlite:///{state / 'ledger.db'}"),
    )


# MLflow's client retries a dead server 7 times with exponential backoff (minutes of silence); Perennial's
# I/O tasks retry on their own, a bounded number of times, so each attempt gives up sooner
MLFLOW_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}


def apply_defaults(settings: Settings | None = None) -> Settings:
    """Export the embedded defaults to the environment before Prefect or MLflow is imported.

    Prefect reads its settings when first imported, so this must run first; values a user
    already set win.
    """
    settings = settings or load_settings()
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    defaults = {
        "PERENNIAL_STATE_DIR": str(settings.state_dir),
        "MLFLOW_TRACKING_URI": settings.tracking_uri,
        "PREFECT_HOME": str(settings.prefect_home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # the first start migrates a new database: 20 s (Prefect's default) is too short on a busy laptop
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        "PREFECT_LOGGING_LEVEL": "INFO",
        # Great Expectations and others draw tqdm bars: keep logs readable
        "TQDM_DISABLE": "1",
        "GIT_PYTHON_REFRESH": "quiet",
        "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
        **MLFLOW_HTTP_DEFAULTS,
    }
    stack = running_stack(settings.state_dir)
    if stack:  # `perennial up` is running: flows, events and runs go to its Prefect server
        defaults["PREFECT_API_URL"] = stack["prefect_api"]
        if stack.get("dask"):  # `perennial up --dask`: Dask work joins its cluster (tasks/runners.py)
            defaults["PERENNIAL_DASK_ADDRESS"] = stack["dask"]
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    return settings
