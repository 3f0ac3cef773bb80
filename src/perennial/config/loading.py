"""From a YAML file to a Config: ``${VAR}`` and ``${VAR:-default}`` read from the environment, errors
that name the file and each key path."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from perennial.config.messages import describe
from perennial.config.project import Config
from perennial.errors import ConfigError
from perennial.settings import NO_DEFAULT_CONFIG

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(value: Any, path: str = "") -> Any:
    """Replace ${VAR} / ${VAR:-default} in every string; a missing variable is an error."""
    if isinstance(value, dict):
        return {k: expand_env(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise ConfigError(f"{path}: environment variable ${{{name}}} is not set")

    return _ENV_REF.sub(substitute, value)


def parse_config(raw: Any, source: str = "<config>") -> Config:
    """Validate an already-loaded mapping; errors name the source and each key path."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping, got {type(raw).__name__}")
    try:
        return Config.model_validate(expand_env(raw))
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except ValidationError as exc:
        raise ConfigError(f"{source}: {describe(exc, Config)}") from None


def load_config(path: str | Path) -> Config:
    """Read a YAML config file into a frozen Config."""
    path = Path(path)
    if path.name == NO_DEFAULT_CONFIG:
        raise ConfigError(
            "no config given: pass --config FILE (-c; `perennial init DATA --target COLUMN` writes one), "
            "or name it as default_config under [tool.perennial] in the project's pyproject.toml"
        )
    if not path.is_file():
        raise ConfigError(f"{path}: config file does not exist")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    config = parse_config(raw, str(path))
    config._path = _shown(path)
    return config


def _shown(path: Path) -> str:
    """The path as a command would take it from here: relative to the working folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
