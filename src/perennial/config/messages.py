"""What a user reads when a config is wrong: one line per mistake, with the key path as written
and the closest valid key for an unknown one."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any, get_args

from pydantic import BaseModel, ValidationError


def describe(exc: ValidationError, root: type[BaseModel]) -> str:
    """One line per mistake. An unknown key says which known key it is closest to (a required key
    missing beside it first: that is the typo's intent), and the 'field required' the typo caused
    at the same place is not repeated."""
    errors = exc.errors()
    missing: dict[tuple[Any, ...], list[str]] = {}
    for e in errors:
        if e["type"] == "missing":
            missing.setdefault(tuple(e["loc"][:-1]), []).append(str(e["loc"][-1]))
    unknown = {tuple(e["loc"][:-1]) for e in errors if e["type"] == "extra_forbidden"}
    parts = []
    for err in errors:
        parent = tuple(err["loc"][:-1])
        if err["type"] == "missing" and parent in unknown:
            continue  # `target_colum: x` makes `target` missing too: the unknown key says it all
        shown, keys = _walk(tuple(err["loc"]), root)
        where = ".".join(shown) or "<root>"
        if err["type"] == "extra_forbidden":
            key = str(err["loc"][-1])
            hint = _did_you_mean(key, missing.get(parent, [])) or _did_you_mean(key, keys)
            parts.append(f"unknown key `{where}`{hint}")
        else:  # a model's own rule reads as its sentence, without pydantic's "Value error, "
            message = err["msg"].removeprefix("Value error, ")
            parts.append(f"{where}: {message}" if shown else message)
    return "; ".join(parts)


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f", did you mean `{close[0]}`?" if close else ""


def _walk(loc: tuple[Any, ...], root: type[BaseModel]) -> tuple[list[str], set[str]]:
    """(the key path as a user wrote it, the keys valid beside its last part).

    Union tags that pydantic adds to a location (``split.time...``) are not keys: they are left out.
    """
    models: list[type[BaseModel]] = [root]
    shown: list[str] = []
    for depth, part in enumerate(loc):
        last = depth == len(loc) - 1
        if isinstance(part, int):
            shown.append(str(part))
            continue
        owners = [m for m in models if part in m.model_fields]
        if not owners and not last:
            continue  # a tag
        shown.append(str(part))
        if not last:
            models = [inner for m in owners for inner in models_in(m.model_fields[part].annotation)] or models
    return shown, {name for m in models for name in m.model_fields}


def models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in models_in(arg)]
