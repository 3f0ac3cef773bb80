"""The core never imports Prefect, and importing it does no work (no files, no servers)."""

from __future__ import annotations

import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import perennial


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
