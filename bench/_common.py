"""What every benchmark shares: the machine and versions line, medians, a throwaway state folder,
and its own section of bench/RESULTS.md between `<!-- bench/NAME.py: start/end -->` markers."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
WRITTEN = ("bench/RESULTS.md", "docs/releases.md", "docs/scenarios.md", "README.md")  # what runs write or quote
# where a flow would otherwise send its runs, ledger rows and artifacts: a benchmark keeps them local
_SERVICE_VARIABLES = ("MLFLOW_TRACKING_URI", "PERENNIAL_LEDGER_URL", "PERENNIAL_ARTIFACT_ROOT", "PREFECT_API_URL")


def markers(name: str) -> tuple[str, str]:
    return f"<!-- bench/{name}.py: start -->", f"<!-- bench/{name}.py: end -->"


def commit() -> str:
    """The checkout's commit (with '+changes' when the code in the work tree differs from it)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=10", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        )
        # the results, the pages benchmarks write (docs/releases.md, docs/scenarios.md) and the README that
        # quotes them are written by the runs: not a change to the code measured (make bench runs
        # release_outcomes before own_data, whose section read "+changes" for its page)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", *(f":!{p}" for p in WRITTEN)],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def machine(*packages: str, at: str | None = None) -> list[str]:
    """Result lines: commit and time, cores, CPU, memory, OS and Python; the versions of ``packages``.

    ``at``: the commit measured, read when the run began (a long run may see later commits land)."""
    cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
    memory = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
    return [
        f"- commit {at or commit()}, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, 1-minute load average {load_average()} when written",
        f"- machine: {os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), "
        f"{cpu.group(1).strip() if cpu else platform.processor()}, "
        f"{int(memory.group(1)) / 1024 / 1024 if memory else float('nan'):.1f} GB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}",
        "- versions: " + ", ".join(f"{p} {metadata.version(p)}" for p in packages),
    ]


def load_average() -> str:
    """The 1-minute load when called: other work on a shared machine shows in the figures."""
    return f"{os.getloadavg()[0]:.1f}"


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    out = call()
    return time.perf_counter() - started, out


def median(times: list[float]) -> float:
    return statistics.median(times)


def spread(times: list[float], digits: int = 2) -> str:
    """'median (min-max)' of repeated measurements."""
    return f"{median(times):.{digits}f} ({min(times):.{digits}f}-{max(times):.{digits}f})"


def _status_mb(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    """This process's peak resident set so far (VmHWM), MB."""
    return _status_mb("VmHWM")


def rss_mb() -> float:
    """This process's resident set now (VmRSS), MB."""
    return _status_mb("VmRSS")


def reset_peak() -> None:
    """Start VmHWM over from the current resident set (Linux: write 5 to clear_refs)."""
    Path("/proc/self/clear_refs").write_text("5")


def throwaway_state(prefix: str) -> Path:
    """A fresh PERENNIAL_STATE_DIR (embedded Prefect, MLflow on SQLite, ledger) for this process.

    Call before importing `flows`: it exports the state folder's defaults when first imported.
    """
    state = Path(tempfile.mkdtemp(prefix=f"perennial-bench-{prefix}-"))
    os.environ["PERENNIAL_STATE_DIR"] = str(state)
    for key in _SERVICE_VARIABLES:
        os.environ.pop(key, None)
    # the ephemeral API's 20 s start-up budget is too short on a loaded 2-core machine
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    return state


def write_results(name: str, lines: list[str]) -> None:
    """Replace (or append) bench/NAME.py's section of bench/RESULTS.md."""
    start, end = markers(name)
    section = "\n".join([start, *lines, end]) + "\n"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
    if start in text and end in text:
        text = text[: text.index(start)] + section + text[text.index(end) + len(end) + 1 :]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text)


def parse_args(
    doc: str | None, quick: str, extra: Callable[[argparse.ArgumentParser], None] | None = None
) -> argparse.Namespace:
    """The options every benchmark takes: --quick (what it cuts, in ``quick``) and --no-write; ``extra``
    adds a benchmark's own."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    parser.add_argument(
        "--full-only", action="store_true", help="(orchestration) all demo rows, not the ~100k size first"
    )
    if extra is not None:
        extra(parser)
    return parser.parse_args()


def publish(name: str, lines: list[str], args: argparse.Namespace) -> None:
    """Print the section; write it to bench/RESULTS.md unless --no-write."""
    print("\n".join(lines))
    if not args.no_write:
        write_results(name, lines)
