"""A memory cap on a whole process tree: one fresh memory cgroup for one benchmark step.

The step's command is started by a shell that first writes its own pid into the group's
``cgroup.procs``, then execs the command: the step, and every process it starts (Dask's nannies and
workers), run inside the group from their first instruction. The limit is the group's:

- cgroup v1: ``memory.limit_in_bytes`` (and ``memory.memsw.limit_in_bytes`` when present, so swap
  cannot stretch it); the peak is ``memory.max_usage_in_bytes``, kills are ``oom_kill`` in
  ``memory.oom_control``;
- cgroup v2: ``memory.max`` (and ``memory.swap.max`` 0); the peak is ``memory.peak``, kills are
  ``oom_kill`` in ``memory.events``.

The peak is what the kernel charged the group: the processes' resident memory and the page cache of the
files they read or wrote first (a file another process read before is not charged again). The group is
made under the cgroup this process runs in (so whatever accounts for this process still accounts for the
step), else at the hierarchy's root; it is removed after the step, any process left in it killed first
(all of them started by the step).

Without a writable memory controller (not root, no delegation, v2 without ``memory`` in the parent's
``cgroup.subtree_control``) ``MemoryCap.create`` gives None and nothing is capped: callers must say so.
``prlimit --as`` is not used in its place: it caps each process's address space (virtual memory, which
Dask's and Arrow's threads reserve generously), not the tree's resident memory.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

V1 = Path("/sys/fs/cgroup/memory")
V2 = Path("/sys/fs/cgroup")
GIB = 1024**3


def _own(hierarchy: str) -> str | None:
    """This process's cgroup in a hierarchy: ``memory`` (v1) or ``""`` (v2's unified one)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if (hierarchy and hierarchy in controllers.split(",")) or (not hierarchy and controllers == ""):
            return path
    return None


def _parents() -> list[tuple[Path, int]]:
    """Where a group could be made: under this process's own group, else at the root; v1 first."""
    found: list[tuple[Path, int]] = []
    if (V1 / "memory.limit_in_bytes").exists():
        own = _own("memory")
        found += [(V1 / own.lstrip("/"), 1)] if own not in (None, "/") else []
        found.append((V1, 1))
    elif (V2 / "cgroup.controllers").exists():
        own = _own("")
        for parent in ([V2 / own.lstrip("/")] if own not in (None, "/") else []) + [V2]:
            control = parent / "cgroup.subtree_control"
            if control.exists() and "memory" in control.read_text().split():
                found.append((parent, 2))
    return found


@dataclass
class MemoryCap:
    """One memory cgroup of ``limit`` bytes (version 1 or 2) at ``path``."""

    path: Path
    version: int
    limit: int

    @classmethod
    def create(cls, limit: int, name: str) -> MemoryCap | None:
        """A fresh group named ``name`` limited to ``limit`` bytes, or None where none can be made."""
        for parent, version in _parents():
            path = parent / name
            try:
                path.mkdir()
            except OSError:
                continue
            cap = cls(path, version, limit)
            try:
                cap._set_limit()
            except OSError:
                cap.close()
                continue
            return cap
        return None

    def _set_limit(self) -> None:
        if self.version == 1:
            (self.path / "memory.limit_in_bytes").write_text(str(self.limit))
            if (self.path / "memory.memsw.limit_in_bytes").exists():  # memory + swap: after memory (it must be >=)
                (self.path / "memory.memsw.limit_in_bytes").write_text(str(self.limit))
        else:
            (self.path / "memory.max").write_text(str(self.limit))
            if (self.path / "memory.swap.max").exists():
                (self.path / "memory.swap.max").write_text("0")

    def describe(self) -> str:
        files = (
            "memory.limit_in_bytes"
            + (" and memory.memsw.limit_in_bytes" if (self.path / "memory.memsw.limit_in_bytes").exists() else "")
            if self.version == 1
            else "memory.max" + (", memory.swap.max 0" if (self.path / "memory.swap.max").exists() else "")
        )
        return (
            f"{self.limit / GIB:g} GiB ({self.limit:,} bytes) on each step's whole process tree: a fresh cgroup "
            f"v{self.version} per step ({files}), the step started inside it"
        )

    def launcher(self) -> list[str]:
        """A command prefix: the shell joins the group, then execs the command that follows."""
        return ["sh", "-c", 'echo $$ > "$0" && exec "$@"', str(self.path / "cgroup.procs")]

    def peak(self) -> int | None:
        """The group's peak charge, bytes (v2 before memory.peak: None)."""
        file = self.path / ("memory.max_usage_in_bytes" if self.version == 1 else "memory.peak")
        return int(file.read_text()) if file.exists() else None

    def oom_kills(self) -> int:
        """How many processes the kernel killed in the group for want of memory."""
        file = self.path / ("memory.oom_control" if self.version == 1 else "memory.events")
        for line in file.read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def processes(self) -> list[int]:
        return [int(p) for p in (self.path / "cgroup.procs").read_text().split()]

    def close(self) -> None:
        """Kill what the step left in the group (its own processes), then remove the group."""
        for _ in range(100):
            left = self.processes() if self.path.exists() else []
            if not left:
                break
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:  # EBUSY while the last process is reaped
                time.sleep(0.1)
        raise RuntimeError(f"could not remove {self.path}: remove it with rmdir once its processes are gone")
