"""What every task module shares: the retry rule for I/O and Prefect artifact helpers."""

from __future__ import annotations

import os
import signal
from typing import Any

from prefect import Task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.client.schemas.objects import State, TaskRun
from prefect.context import FlowRunContext

from perennial.errors import PerennialError


def retry_transient(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry I/O that may come back (a database, a server), never a permanent error."""
    exc = state.data if isinstance(state.data, BaseException) else None
    if isinstance(exc, PerennialError):
        return bool(getattr(exc, "transient", False))
    return True


IO_RETRIES: dict[str, Any] = {
    "retries": 2,
    "retry_delay_seconds": [1, 4],
    "retry_condition_fn": retry_transient,
}


def flow_run_id() -> str:
    """The current Prefect flow run id ('' outside a flow): MLflow runs are tagged with it."""
    ctx = FlowRunContext.get()
    return str(ctx.flow_run.id) if ctx and ctx.flow_run else ""


def artifact_key(*parts: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    text = "-".join(parts).lower()
    return "".join(ch if ch.isalnum() else "-" for ch in text).strip("-")


def publish_markdown(key: str, markdown: str, description: str) -> None:
    create_markdown_artifact(markdown=markdown, key=artifact_key(key), description=description)


def publish_table(key: str, rows: list[dict[str, Any]], description: str) -> None:
    create_table_artifact(table=rows, key=artifact_key(key), description=description)


# Test hook, not a feature: tests/integration/test_training_faults.py sets PERENNIAL_FAULT_AT to a
# point's name to kill the run there with SIGKILL, exactly as a crash or an OOM kill would. Unset, it does nothing.
FAULT_ENV = "PERENNIAL_FAULT_AT"


def fault_point(name: str) -> None:
    """Die here (SIGKILL, no cleanup) when ``$PERENNIAL_FAULT_AT`` names this point."""
    if os.environ.get(FAULT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
