"""Reads the project's files: pyproject.toml (with .python-version beside it) and uv.lock.

The only place that opens them; TOML errors become ConfigError or LockError naming the path.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uvbuild.core import grouping, lock
from uvbuild.core.model import Lock
from uvbuild.errors import ConfigError, LockError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


@dataclass(frozen=True, slots=True)
class Project:
    """What uvbuild reads from pyproject.toml."""

    dir: Path
    name: str | None
    tool_uvbuild: Mapping[str, Any] | None
    default_groups: tuple[str, ...] | None  # None: every group ("all")
    python_version_file: str | None
    # [[tool.uv.index]] entries that have a name: (name, url)
    indexes: tuple[tuple[str, str], ...] = ()
    # the index uv falls back to: the [[tool.uv.index]] with default = true, else PyPI
    default_index: str = grouping.PYPI_INDEX
    # [tool.uv] settings a sync reads, as the UV_* variables that override them
    uv_settings: tuple[tuple[str, str], ...] = ()


def _read_toml(path: Path, error: type[ConfigError] | type[LockError]) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text ({_decode_problem(exc)}); fix the file") from exc
    except OSError as exc:
        raise error(f"{path}: cannot read it ({exc})") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML ({exc}); fix the file") from exc
    except ValueError as exc:  # an integer of more digits than Python converts
        reason = str(exc).split("; use sys.")[0]
        raise error(f"{path}: not valid TOML for uvbuild ({reason}); fix the file") from exc
    except RecursionError as exc:
        reason = "nested too deeply"
        raise error(f"{path}: not valid TOML for uvbuild ({reason}); fix the file") from exc
    long_number = _LONG_NUMBER.search(text)
    if long_number:  # in a string: a version, a marker or a file name would fail to parse
        line = text.count("\n", 0, long_number.start()) + 1
        raise error(
            f"{path}:{line}: a number of more than {_MAX_DIGITS} digits, which no version, "
            "marker or size has; fix the file"
        )
    return data


# Python converts no longer digit strings to int (sys.get_int_max_str_digits), nor, then,
# does packaging parse a version, specifier, marker or wheel name that holds one
_MAX_DIGITS = 4300
_LONG_NUMBER = re.compile(f"[0-9]{{{_MAX_DIGITS + 1}}}")


def _decode_problem(exc: UnicodeDecodeError) -> str:
    """``byte 0xff at offset 12``: where the text stops being UTF-8."""
    return f"{exc.reason}: byte 0x{exc.object[exc.start]:02x} at offset {exc.start}"


def read_project(project_dir: Path) -> Project:
    path = project_dir / "pyproject.toml"
    if not project_dir.is_dir():
        raise ConfigError(f"{project_dir}: no such directory; pass the project directory")
    try:
        data = _read_toml(path, ConfigError)
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: not found; run uvbuild in a uv project directory or pass its path"
        ) from None
    project = data.get("project")
    name = project.get("name") if isinstance(project, Mapping) else None
    if project is not None and not isinstance(name, str):
        raise ConfigError(f"{path}: project.name must be a string")
    tool = data.get("tool", {})
    if not isinstance(tool, Mapping):
        raise ConfigError(f"{path}: tool must be a table")
    table = tool.get("uvbuild")
    uv = tool.get("uv", {})
    return Project(
        project_dir,
        name,
        table,
        _default_groups(uv, path),
        _pinned_python(project_dir),
        _named_indexes(uv),
        _default_index(uv),
        _uv_settings(uv),
    )


# [tool.uv] keys that decide what a sync in the user's Dockerfile installs and how, by the
# UV_* variable that overrides each (uv: flag > variable > pyproject)
_UV_KEYS = {
    "compile-bytecode": "UV_COMPILE_BYTECODE",
    "python-downloads": "UV_PYTHON_DOWNLOADS",
    "no-sources": "UV_NO_SOURCES",
    "no-binary": "UV_NO_BINARY",
}


def _uv_settings(uv: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(uv, Mapping):
        return ()
    found = []
    for key, variable in _UV_KEYS.items():
        value = uv.get(key)
        if isinstance(value, bool):
            found.append((variable, "1" if value else "0"))
        elif isinstance(value, str):
            found.append((variable, value))
    return tuple(found)


def _default_groups(uv: Any, path: Path) -> tuple[str, ...] | None:
    """``tool.uv.default-groups``: the names, None for "all", ("dev",) when not set."""
    if not isinstance(uv, Mapping) or "default-groups" not in uv:
        return ("dev",)
    value = uv["default-groups"]
    if value == "all":
        return None
    if isinstance(value, list) and all(isinstance(g, str) for g in value):
        return tuple(value)
    raise ConfigError(f"{path}: tool.uv.default-groups must be an array of names or 'all'")


def _pinned_python(project_dir: Path) -> str | None:
    """The first line of ``.python-version``, if the project has one."""
    pinned = project_dir / ".python-version"
    if not pinned.is_file():
        return None
    try:
        first = pinned.read_text(encoding="utf-8").strip().splitlines()
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{pinned}: not UTF-8 text ({_decode_problem(exc)}); write a version such as 3.11 "
            "in it, or delete it"
        ) from exc
    except OSError as exc:
        raise ConfigError(f"{pinned}: cannot read it ({exc})") from exc
    return first[0].strip() if first else None


def _default_index(uv: Any) -> str:
    """The URL uv falls back to for names no other index serves."""
    entries = uv.get("index", []) if isinstance(uv, Mapping) else []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, Mapping) and entry.get("default") is True:
            url = entry.get("url")
            if isinstance(url, str):
                return url
    legacy = uv.get("index-url") if isinstance(uv, Mapping) else None
    return legacy if isinstance(legacy, str) else grouping.PYPI_INDEX


def _named_indexes(uv: Any) -> tuple[tuple[str, str], ...]:
    """(name, url) of every ``[[tool.uv.index]]`` entry with both; uv checks the rest."""
    entries = uv.get("index", []) if isinstance(uv, Mapping) else []
    if not isinstance(entries, list):
        return ()
    return tuple(
        (entry["name"], entry["url"])
        for entry in entries
        if isinstance(entry, Mapping)
        and isinstance(entry.get("name"), str)
        and isinstance(entry.get("url"), str)
    )


def read_lock(lock_path: Path) -> Lock:
    try:
        data = _read_toml(lock_path, LockError)
    except FileNotFoundError:
        raise LockError(f"{lock_path}: not found; run `uv lock` in the project first") from None
    if not data:
        raise LockError(f"{lock_path}: the file is empty; run `uv lock` to write it again")
    return lock.parse_lock(data, str(lock_path))


def workspace_members(lock_data: Lock, project_dir: Path) -> tuple[str, ...]:
    """Member directories relative to the project, for copying their pyproject.toml."""
    members = set(lock_data.manifest.members)
    dirs = set()
    for package in lock_data.packages:
        if package.name in members and package.source.is_local:
            location = package.source.location.rstrip("/")
            if location not in ("", "."):
                dirs.add(location)
    return tuple(sorted(dirs))
