"""The core never imports Prefect, importing it does no work (no files, no servers), and the commands
that only look never load the flow stack."""

from __future__ import annotations

import json
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import perennial
from tests.conftest import config_dict


def test_no_perennial_module_imports_prefect(tmp_path: Path) -> None:
    modules = [m.name for m in pkgutil.walk_packages(perennial.__path__, "perennial.")]
    script = "import importlib, sys\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules)
    script += "print(sorted(m for m in sys.modules if m == 'prefect' or m.startswith('prefect.')))\n"
    # run from an empty folder: an import that writes state would leave files there
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
    assert len(modules) > 10
    assert list(tmp_path.iterdir()) == []


def test_core_does_not_import_the_io_layer() -> None:
    core = Path(perennial.__file__).parent / "core"
    pattern = re.compile(r"^\s*(from|import)\s+(perennial\.io|mlflow|prefect)\b", re.MULTILINE)
    offenders = [p.name for p in core.rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


# Runs a `perennial` command in this process, then writes which packages it loaded
_COMMAND_THEN_MODULES = """
import json, runpy, sys
out, sys.argv, code = sys.argv[1], ["perennial", *sys.argv[2:]], 0
try:
    runpy.run_module("perennial.cli", run_name="__main__")
except SystemExit as end:
    code = end.code
with open(out, "w") as file:
    json.dump({"code": code, "packages": sorted({m.split(".")[0] for m in sys.modules})}, file)
"""

# Prefect and the data-validation stack start only for flows; a command that only looks at the
# state or the config must not load them (each costs seconds, and --help is typed often)
FLOWS_ONLY = {"prefect", "great_expectations", "evidently", "dask", "sklearn"}


@pytest.mark.parametrize(
    ("command", "absent", "store"),
    [
        (["--help"], FLOWS_ONLY | {"mlflow", "pandas", "sqlalchemy"}, False),
        (["check"], FLOWS_ONLY | {"mlflow", "sqlalchemy"}, False),
        (["status"], FLOWS_ONLY, False),  # no store yet: MLflow's client makes it
        (["doctor"], FLOWS_ONLY, False),
        # the default store MLflow made is read directly (io/registry_view.py): MLflow costs 2 s to load
        (["status"], FLOWS_ONLY | {"mlflow"}, True),
        (["doctor"], FLOWS_ONLY | {"mlflow"}, True),
    ],
    ids=["help", "check", "status", "doctor", "status-on-a-store", "doctor-on-a-store"],
)
def test_commands_that_look_do_not_load_the_flow_stack(
    command: list[str], absent: set[str], store: bool, tmp_path: Path, flights_file: Path
) -> None:
    # given a config on real data and a fresh state folder (with a store MLflow made, where asked)
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(config_dict(str(flights_file))))
    state = tmp_path / "state"
    if store:
        state.mkdir()
        subprocess.run(
            [
                sys.executable,
                "-c",
                f"from mlflow.tracking import MlflowClient; MlflowClient('sqlite:///{state}/mlflow.db').search_experiments()",
            ],
            check=True,
            capture_output=True,
        )
    env = {**os.environ, "PERENNIAL_STATE_DIR": str(state), "MLFLOW_TRACKING_URI": f"sqlite:///{state / 'mlflow.db'}"}
    env |= {"PERENNIAL_LEDGER_URL": f"sqlite:///{state / 'ledger.db'}"}
    args = command if command == ["--help"] else [*command, "-c", str(config)]
    # when the command runs in a fresh interpreter
    report = tmp_path / "loaded.json"
    run = subprocess.run(
        [sys.executable, "-c", _COMMAND_THEN_MODULES, str(report), *args], env=env, capture_output=True, text=True
    )
    loaded = json.loads(report.read_text())
    # then it succeeded without loading any of them
    assert loaded["code"] == 0 and run.returncode == 0, run.stderr
    assert absent & set(loaded["packages"]) == set()
