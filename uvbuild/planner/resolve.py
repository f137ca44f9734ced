"""What the config leaves open, resolved: the Python (``--python`` or tool.uvbuild.python,
else .python-version's, else 3.11 when the lock allows it, else the oldest minor it
allows), the platform (this machine's architecture) and the indexes ``index-credentials``
names."""

from __future__ import annotations

import platform as host
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from uvbuild.core.config import DEFAULT_PYTHON, Config, load_config
from uvbuild.errors import ConfigError, short_list
from uvbuild.planner.project_files import Project


def host_platform() -> str:
    machine = host.machine().lower()
    return "linux/arm64" if machine in ("arm64", "aarch64") else "linux/amd64"


def resolve_config(
    project: Project, flags: Mapping[str, Any] | None, requires_python: str | None = None
) -> Config:
    try:  # the project's own values first, so that their errors name the file
        load_config(project.tool_uvbuild)
    except ConfigError as exc:
        raise ConfigError(f"{project.dir / 'pyproject.toml'}: {exc}") from exc
    config = load_config(project.tool_uvbuild, flags)
    explicit = (project.tool_uvbuild or {}).get("python") or (flags or {}).get("python")
    if not explicit:
        pinned = _python_from_file(project.python_version_file)
        if pinned:
            _check_pinned(pinned, requires_python, project.dir / ".python-version")
        config = replace(config, python=pinned or default_python(requires_python))
    if config.platform is None:
        config = replace(config, platform=host_platform())
    return config


def _python_from_file(text: str | None) -> str | None:
    """``.python-version`` may say 3.11, 3.11.9 or cpython-3.11...; keep X.Y when it can."""
    if not text:
        return None
    version = text.removeprefix("cpython-").removeprefix("cpython@").split("-")[0]
    parts = version.split(".")
    if len(parts) >= 2 and parts[0] == "3" and re.fullmatch("[0-9]{1,2}", parts[1]):
        return f"3.{parts[1]}"
    return None


def default_python(requires_python: str | None) -> str:
    """3.11 when the lock allows it, else the oldest 3.x minor it allows."""
    if not requires_python:
        return DEFAULT_PYTHON
    try:
        allowed = SpecifierSet(requires_python)
    except InvalidSpecifier:
        return DEFAULT_PYTHON
    candidates = [DEFAULT_PYTHON, *(f"3.{minor}" for minor in range(8, 20))]
    for candidate in candidates:
        if allowed.contains(f"{candidate}.99") or allowed.contains(f"{candidate}.0"):
            return candidate
    return DEFAULT_PYTHON


def _check_pinned(python: str, requires_python: str | None, origin: Path) -> None:
    """``.python-version``'s Python against the lock's requires-python (uv refuses it too)."""
    try:
        allowed = SpecifierSet(requires_python or "")
    except InvalidSpecifier:
        return  # the lock's own error comes with the selection
    if not allowed.contains(f"{python}.99", prereleases=True):
        raise ConfigError(
            f"{origin}: Python {python} is outside the lock's requires-python "
            f"{requires_python!r}; change the file, or pass --python"
        )


def credential_indexes(project: Project, config: Config) -> tuple[tuple[str, str], ...]:
    """The (name, url) of each index named by ``index-credentials``."""
    known = dict(project.indexes)
    found = []
    for name in config.index_credentials:
        if name not in known:
            names = short_list(known)
            raise ConfigError(
                f"tool.uvbuild.index-credentials: no [[tool.uv.index]] named {name!r} in "
                f"{project.dir / 'pyproject.toml'} (named indexes: {names})"
            )
        found.append((name, known[name]))
    return tuple(found)
