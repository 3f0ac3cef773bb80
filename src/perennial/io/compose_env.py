"""The secrets `docker compose` reads: generated once into a git-ignored ``.env``, never defaulted.

A compose file with ``POSTGRES_PASSWORD:-perennial`` runs everywhere with a password everybody
knows. Instead the file refuses to start without one, and this writes a random one the first
time, readable by its owner only. An existing file is never rewritten: the database keeps the
password it was created with.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

ENV_FILE = ".env"
GENERATED = ("POSTGRES_PASSWORD",)


def ensure_compose_env(root: Path) -> tuple[Path, list[str]]:
    """``root/.env`` with every generated secret present; the names it had to add (never their values)."""
    path = root / ENV_FILE
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    have = {line.split("=", 1)[0].strip() for line in existing.splitlines() if "=" in line}
    added = [name for name in GENERATED if name not in have and not os.environ.get(name)]
    if not added:
        return path, []
    lines = [f"{name}={secrets.token_urlsafe(24)}" for name in added]
    text = existing + ("" if not existing or existing.endswith("\n") else "\n")
    text += "# written by `perennial up` for docker compose; keep it out of git\n" + "\n".join(lines) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)
    return path, added
