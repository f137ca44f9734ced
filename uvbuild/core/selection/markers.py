"""Lock markers evaluated on a target, with uv's conflict markers, and the declared conflicts.

uv writes conflict markers as ``extra == 'extra-8-nanochat-cpu'`` (an extra, a group or a
project, with the package name's length in front): they are evaluated against the set of
activated extras and groups. Declared conflicts (``[tool.uv] conflicts``) are checked as
uv checks them: among the roots' requested items, among the extras activated anywhere in
the graph, and over every installed workspace member, to which ``--extra NAME`` and
``--group NAME`` apply whenever it declares ``NAME``.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable
from functools import lru_cache

from packaging.markers import InvalidMarker, Marker

from uvbuild.core.model import ConflictItem, Lock, Target
from uvbuild.core.selection.target import parse_platform, parse_python, python_full_version
from uvbuild.errors import ConfigError, LockError


def marker_environment(
    target: Target,
    extras: Iterable[str] = (),
    groups: Iterable[str] = (),
) -> dict[str, str | frozenset[str]]:
    """The PEP 508 environment of ``target``, for ``Marker.evaluate(..., context="lock_file")``.

    ``extras`` holds uv's encoded names of active extras/groups (``extra-8-nanochat-cpu``).
    """
    arch = parse_platform(target.platform)
    major, minor, _ = parse_python(target.python)
    full = python_full_version(target)
    return {
        "implementation_name": "cpython",
        "implementation_version": full,
        "os_name": "posix",
        "platform_machine": arch,
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": full,
        "python_version": f"{major}.{minor}",
        "sys_platform": "linux",
        "extras": frozenset(extras),
        "dependency_groups": frozenset(groups),
    }


_CONFLICT_LEFT = re.compile(r"""\b(?:extra|group)\s*(==|!=)\s*(['"])(.*?)\2""")
_CONFLICT_RIGHT = re.compile(r"""(['"])(.*?)\1\s*(==|!=)\s*\b(?:extra|group)\b""")


def _in_extras(value: str, op: str) -> str:
    return f"'{value}' {'in' if op == '==' else 'not in'} extras"


@lru_cache(maxsize=16384)
def compile_marker(marker: str) -> tuple[Marker, bool]:
    """Parse a lock marker; uv's ``extra == '...'`` conflict terms become ``in extras``.

    Returns the marker and whether it depends on the activated extras.
    """
    text = _CONFLICT_LEFT.sub(lambda m: _in_extras(m.group(3), m.group(1)), marker)
    text = _CONFLICT_RIGHT.sub(lambda m: _in_extras(m.group(2), m.group(3)), text)
    try:
        return Marker(text), text != marker
    except InvalidMarker as exc:
        raise LockError(
            f"uv.lock: invalid marker {marker!r}: {exc}; re-lock with `uv lock`"
        ) from exc


def encode_extra(package: str, extra: str) -> str:
    """uv's conflict-marker name of ``package[extra]``: ``extra-{len}-{package}-{extra}``."""
    return f"extra-{len(package)}-{package}-{extra}"


def encode_group(package: str, group: str) -> str:
    return f"group-{len(package)}-{package}-{group}"


def encode_project(package: str) -> str:
    return f"project-{len(package)}-{package}"


class MarkerEvaluator:
    """Evaluates markers for one target, with a growing set of activated extras."""

    def __init__(self, target: Target) -> None:
        self.env = marker_environment(target)
        self.active: set[str] = set()
        self._static: dict[str, bool] = {}
        self._dynamic: dict[str, bool] = {}

    def activate(self, names: Iterable[str]) -> None:
        before = len(self.active)
        self.active.update(names)
        if len(self.active) != before:
            self.env["extras"] = frozenset(self.active)
            self._dynamic.clear()

    def __call__(self, marker: str | None, extra: Iterable[str] = ()) -> bool:
        if not marker:
            return True
        cached = self._static.get(marker)
        if cached is not None:
            return cached
        compiled, dynamic = compile_marker(marker)
        if not dynamic:
            result = self._static[marker] = compiled.evaluate(self.env, context="lock_file")
            return result
        extra = tuple(extra)
        if extra:  # a tentative evaluation with more extras: no caching
            env = dict(self.env)
            env["extras"] = frozenset(self.active.union(extra))
            return compiled.evaluate(env, context="lock_file")
        cached = self._dynamic.get(marker)
        if cached is None:
            cached = self._dynamic[marker] = compiled.evaluate(self.env, context="lock_file")
        return cached


def _conflict_label(item: ConflictItem) -> str:
    if item.extra:
        return f"extra '{item.extra}' of {item.package!r}"
    if item.group:
        return f"group '{item.group}' of {item.package!r}"
    return f"project {item.package!r}"


def _encode_item(item: ConflictItem) -> str:
    if item.extra:
        return encode_extra(item.package, item.extra)
    if item.group:
        return encode_group(item.package, item.group)
    return encode_project(item.package)


def check_conflicts(lock: Lock, active: set[str], transitive: bool) -> None:
    """Raise ConfigError when two items of one declared conflict are in ``active`` (uv's
    encoded names): requested by the roots, or with ``transitive`` activated anywhere."""
    for conflict in lock.conflicts:
        hits = [item for item in conflict if _encode_item(item) in active]
        if len(hits) > 1:
            how = "are activated together" if transitive else "are both requested"
            raise ConfigError(
                f"{_conflict_label(hits[0])} and {_conflict_label(hits[1])} {how}, but the "
                "lock declares them conflicting ([tool.uv] conflicts); request only one"
            )


def check_member_conflicts(
    lock: Lock, installed: Iterable[str], extras: Container[str], groups: Container[str]
) -> None:
    """uv's check over the installed workspace members: ``--extra NAME`` and
    ``--group NAME`` count for every installed member that declares NAME, even one
    installed only as another package's dependency (uv 0.13.9 refuses such a sync)."""
    present = set(installed)

    def selected(item: ConflictItem) -> bool:
        if item.package not in present:
            return False
        if item.extra:
            return item.extra in extras
        if item.group:
            return item.group in groups
        return True  # the project itself: installed

    for conflict in lock.conflicts:
        hits = [item for item in conflict if selected(item)]
        if len(hits) > 1:
            raise ConfigError(
                f"{_conflict_label(hits[0])} and {_conflict_label(hits[1])} are both selected "
                "(uv applies --extra and --group to every installed workspace member that "
                "declares them), but the lock declares them conflicting ([tool.uv] conflicts); "
                "request only one"
            )
