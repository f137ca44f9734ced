"""The image's platform and Python, as ``uv sync`` sees them on that target.

Target Python ``X.Y`` (no patch) is taken as the newest patch release of that minor version,
``X.Y.99``: images use ``python:X.Y`` tags, which follow the newest patch, so markers such as
``python_full_version >= '3.11.4'`` hold, as they would for the interpreter uv would see.
"""

from __future__ import annotations

import re

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from uvbuild.core.model import Lock, Target
from uvbuild.errors import ConfigError, LockError

ARCHITECTURES = {
    "amd64": "x86_64",
    "x86_64": "x86_64",
    "x86-64": "x86_64",
    "arm64": "aarch64",
    "aarch64": "aarch64",
}


def parse_platform(platform: str) -> str:
    """``linux/amd64`` (or ``linux/x86_64``, ``linux/arm64/v8``, ...) -> ``x86_64``/``aarch64``."""
    parts = platform.strip().lower().split("/")
    if len(parts) in (2, 3) and parts[0] == "linux" and parts[1] in ARCHITECTURES:
        return ARCHITECTURES[parts[1]]
    raise ConfigError(
        f"--platform {platform}: uvbuild builds linux/amd64 and linux/arm64 images; "
        "pass one of those"
    )


def parse_python(python: str) -> tuple[int, int, int | None]:
    """``3.11`` -> (3, 11, None); ``3.11.4`` -> (3, 11, 4)."""
    match = re.fullmatch(r"\s*([0-9]{1,4})\.([0-9]{1,4})(?:\.([0-9]{1,4}))?\s*", python)
    if not match or int(match.group(1)) != 3:
        raise ConfigError(f"--python {python}: expected a CPython version like 3.11 or 3.11.4")
    patch = match.group(3)
    return int(match.group(1)), int(match.group(2)), int(patch) if patch is not None else None


def python_full_version(target: Target) -> str:
    """The ``python_full_version`` markers see; ``X.Y`` means the newest patch (``X.Y.99``)."""
    major, minor, patch = parse_python(target.python)
    return f"{major}.{minor}.{99 if patch is None else patch}"


def check_python(lock: Lock, target: Target) -> None:
    """Raise ConfigError when the target Python is outside the lock's ``requires-python``."""
    if not lock.requires_python:
        return
    try:
        spec = SpecifierSet(lock.requires_python)
    except InvalidSpecifier as exc:
        raise LockError(
            f"uv.lock: invalid requires-python {lock.requires_python!r}; re-lock with `uv lock`"
        ) from exc
    full = python_full_version(target)
    if not spec.contains(full, prereleases=True):
        raise ConfigError(
            f"--python {target.python}: the lock requires Python {lock.requires_python}; "
            "pick a matching --python"
        )
