"""Commands that start and stop servers: the model's service (serve), the Prefect and MLflow stack with
the deployments (up, down), the two UIs alone (ui)."""

from __future__ import annotations

import subprocess
import time
from typing import Annotated

import typer

from perennial.cli.common import DEFAULT_CONFIG, ConfigOpt, fail, project
from perennial.cli.views import console
from perennial.core.names import ReleaseMode
from perennial.io.dask_cluster import DASHBOARD_PORT, SCHEDULER_PORT


def serve(
    config: ConfigOpt = DEFAULT_CONFIG,
    host: Annotated[str | None, typer.Option(help="bind address (default from config: 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default from config)")] = None,
    mode: Annotated[
        ReleaseMode | None,
        typer.Option(help="start in this mode instead of the config's; `perennial release` switches it live"),
    ] = None,
) -> None:
    """Serve the champion over HTTP (FastAPI + uvicorn), with hot reload, shadow and canary."""
    settings = project()
    from perennial.config import load_config

    load_config(settings.root / config)  # a config mistake is one message before the server starts
    from perennial.serving.run import serve as run_service

    run_service(str(settings.root / config), host, port, mode.value if mode else None)


def up(
    config: ConfigOpt = DEFAULT_CONFIG,
    prefect_port: int = 4200,
    mlflow_port: int = 5000,
    compose_env: Annotated[
        bool, typer.Option(help="only write docker compose's secrets (.env, git-ignored) and exit")
    ] = False,
    dask: Annotated[
        bool, typer.Option(help="also a Dask scheduler and two workers: Dask work of this project runs on them")
    ] = False,
    dask_port: int = SCHEDULER_PORT,
    dask_dashboard_port: int = DASHBOARD_PORT,
) -> None:
    """Start the Prefect server, the MLflow server and the deployments on localhost (stop: `perennial down`).

    With --dask, a Dask scheduler and two workers too; while they run, flows with `data.engine.kind: dask`
    or `training.task_runner.kind: dask` join them (PERENNIAL_DASK_ADDRESS, unless you set it).
    """
    settings = project()
    from perennial.io.compose_env import ensure_compose_env
    from perennial.io.stack import StackError
    from perennial.io.stack import up as start_stack

    env_file, added = ensure_compose_env(settings.root)
    if added:  # the names only: a secret is never printed
        console.print(f"docker compose: generated {', '.join(added)} into {env_file.name} (git-ignored)")
    if compose_env:
        return

    cluster = ", a Dask scheduler and two workers" if dask else ""
    console.print(f"starting the Prefect server, the MLflow server{cluster} and the deployments ...")
    try:
        record, started = start_stack(
            settings,
            config,
            prefect_port=prefect_port,
            mlflow_port=mlflow_port,
            dask=dask,
            dask_port=dask_port,
            dashboard_port=dask_dashboard_port,
        )
    except StackError as exc:
        fail(str(exc))
    console.print(
        ("[green]up[/]" if started else "[yellow]already up[/]")
        + f" (since {record['started']}, config {record['config']})"
    )
    console.print(f"  Prefect dashboard: {record['prefect_ui']}\n  MLflow:            {record['mlflow']}")
    if record.get("dask"):
        console.print(f"  Dask dashboard:    {record['dask_dashboard']}\n  Dask scheduler:    {record['dask']}")
    elif dask:
        console.print("[yellow]this stack runs no Dask cluster[/]: `perennial down`, then `perennial up --dask`")
    for proc in record["processes"]:
        console.print(f"  {proc['name']:<15} pid {proc['pid']:<8} log {proc['log']}")
    console.print("Commands of this project now use these servers; `perennial down` stops them.")


def down() -> None:
    """Stop what `perennial up` started, by process id."""
    settings = project()
    from perennial.io.stack import down as stop_stack

    stopped = stop_stack(settings)
    console.print(f"stopped {', '.join(stopped)}" if stopped else "nothing was up")


def ui(
    prefect_port: int = 4200,
    mlflow_port: int = 5000,
    host: Annotated[str, typer.Option(help="bind address; localhost unless you mean otherwise")] = "127.0.0.1",
) -> None:
    """Start the Prefect server and the MLflow UI on this machine's state; Ctrl-C stops both."""
    settings = project()
    from perennial.io.stack import StackError, check_ports, server_commands
    from perennial.settings import running_stack

    stack = running_stack(settings.state_dir)
    if stack:  # `perennial up` already serves both on this state folder
        console.print(
            f"[yellow]already up[/] (`perennial up`): Prefect UI {stack['prefect_ui']}, MLflow UI {stack['mlflow']}"
        )
        return
    try:
        check_ports(host, prefect_port, mlflow_port)
    except StackError as exc:
        fail(str(exc))
    processes = {
        name: subprocess.Popen(command, cwd=settings.root, env=env)
        for name, command, env in server_commands(settings, host, prefect_port, mlflow_port)
    }
    console.print(f"Prefect UI: http://{host}:{prefect_port}\nMLflow UI:  http://{host}:{mlflow_port}\nCtrl-C to stop.")
    try:
        while all(p.poll() is None for p in processes.values()):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            process.wait(timeout=20)
