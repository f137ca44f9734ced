"""Which lock entries ``uv sync --frozen`` installs on a target, and which file of each.

Pure: takes a :class:`Lock`, a :class:`Request` (the sync flags) and a :class:`Target`
(the image platform and Python) and returns :class:`SelectedPackage` values.

The walk follows uv's own installer (``uv-resolver``'s ``Installable::to_resolution``):

* roots are the project, ``--package NAME``, every member for ``--all-packages``, or every
  member when the workspace root has no ``[project]`` (checked with uv 0.13.9: ``uv sync``
  in a virtual workspace root installs all members, each member's default groups and the
  root's ``[dependency-groups]``, recorded in ``[manifest.dependency-groups]``;
  ``--package a`` drops the root-level groups; ``--all-packages`` and ``--package`` given
  more than once keep them);
* the project's own dependencies and requested extras unless ``--only-group``/``--only-dev``,
  plus the requested dependency groups of each root;
* every edge whose marker holds, following ``extra = [...]`` on edges;
* uv's conflict markers (``extra == 'extra-8-nanochat-cpu'``) are evaluated against the set
  of activated extras and groups, gathered in a first pass over the graph as uv does;
* declared conflicts are checked as uv checks them: among the roots' requested items, among
  the extras activated anywhere in the graph, and over every installed workspace member,
  to which ``--extra NAME``/``--group NAME`` apply whenever it declares ``NAME``.

The flags follow uv's ``ExtrasSpecification`` and ``DependencyGroups``: an exclusion
(``--no-extra``, ``--no-group``, ``--no-dev``) always wins over an inclusion; flags clap
refuses together are refused by :func:`check_request`.

Target Python ``X.Y`` (no patch) is taken as the newest patch release of that minor version,
``X.Y.99``: images use ``python:X.Y`` tags, which follow the newest patch, so markers such as
``python_full_version >= '3.11.4'`` hold, as they would for the interpreter uv would see.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import replace
from functools import lru_cache

from packaging.markers import InvalidMarker, Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import (
    InvalidWheelFilename,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion

from uvbuild.core.model import (
    Artifact,
    ConflictItem,
    Dependency,
    Lock,
    LockedPackage,
    Request,
    SelectedPackage,
    Target,
)
from uvbuild.errors import ConfigError, LockError, short_list

ARCHITECTURES = {
    "amd64": "x86_64",
    "x86_64": "x86_64",
    "x86-64": "x86_64",
    "arm64": "aarch64",
    "aarch64": "aarch64",
}

# The oldest glibc each architecture has manylinux wheels for.
_GLIBC_FLOOR = {"x86_64": 5, "aarch64": 17}
_LEGACY_MANYLINUX = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}

_LOCAL_KINDS = ("editable", "directory", "virtual")
_BUILT_KINDS = ("git", "url", "path")


# -- target ----------------------------------------------------------------------------------


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
    match = re.fullmatch(r"\s*(\d+)\.(\d+)(?:\.(\d+))?\s*", python)
    if not match or int(match.group(1)) != 3:
        raise ConfigError(f"--python {python}: expected a CPython version like 3.11 or 3.11.4")
    patch = match.group(3)
    return int(match.group(1)), int(match.group(2)), int(patch) if patch is not None else None


def python_full_version(target: Target) -> str:
    """The ``python_full_version`` markers see; ``X.Y`` means the newest patch (``X.Y.99``)."""
    major, minor, patch = parse_python(target.python)
    return f"{major}.{minor}.{99 if patch is None else patch}"


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


def _platforms(arch: str, glibc: tuple[int, int]) -> list[str]:
    major, top = glibc
    floor = _GLIBC_FLOOR[arch]
    platforms = []
    if major == 2:
        for minor in range(top, floor - 1, -1):
            platforms.append(f"manylinux_2_{minor}_{arch}")
            legacy = _LEGACY_MANYLINUX.get(minor)
            if legacy and (minor == 17 or arch == "x86_64"):
                platforms.append(f"{legacy}_{arch}")
    platforms.append(f"linux_{arch}")
    return platforms


@lru_cache(maxsize=64)
def wheel_tags(target: Target) -> tuple[Tag, ...]:
    """Wheel tags the target's CPython accepts, most preferred first."""
    arch = parse_platform(target.platform)
    major, minor, _ = parse_python(target.python)
    platforms = _platforms(arch, target.glibc)
    version = (major, minor)
    abi = f"cp{major}{minor}"
    tags = list(cpython_tags(version, abis=[abi], platforms=platforms))
    tags.extend(compatible_tags(version, interpreter=abi, platforms=platforms))
    return tuple(dict.fromkeys(tags))


@lru_cache(maxsize=64)
def _tag_ranks(target: Target) -> Mapping[Tag, int]:
    return {tag: rank for rank, tag in enumerate(wheel_tags(target))}


@lru_cache(maxsize=8192)
def _wheel_file_tags(filename: str) -> frozenset[Tag] | None:
    try:
        return parse_wheel_filename(filename)[3]
    except (InvalidWheelFilename, InvalidVersion):
        return None


def wheel_rank(filename: str, target: Target) -> int | None:
    """Position of the wheel's best tag in :func:`wheel_tags` (lower is better), or None."""
    tags = _wheel_file_tags(filename)
    if not tags:
        return None
    ranks = _tag_ranks(target)
    best = None
    for tag in tags:
        rank = ranks.get(tag)
        if rank is not None and (best is None or rank < best):
            best = rank
    return best


def best_wheel(package: LockedPackage, target: Target) -> Artifact | None:
    """The wheel uv would pick on ``target``: the best-ranked tag, first one on a tie."""
    best: tuple[int, Artifact] | None = None
    for wheel in package.wheels:
        rank = wheel_rank(wheel.filename, target)
        if rank is not None and (best is None or rank < best[0]):
            best = (rank, wheel)
    return best[1] if best else None


# -- markers ---------------------------------------------------------------------------------

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


class _Evaluator:
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


# -- the lock as a graph ---------------------------------------------------------------------


class _Graph:
    def __init__(self, lock: Lock, evaluate: _Evaluator) -> None:
        self.lock = lock
        self.evaluate = evaluate
        self.by_name: dict[str, list[int]] = {}
        for index, package in enumerate(lock.packages):
            self.by_name.setdefault(package.name, []).append(index)
        self._edges: dict[int, int] = {}

    def package(self, index: int) -> LockedPackage:
        return self.lock.packages[index]

    def find_by_markers(self, name: str, owner: str) -> int:
        """The one entry named ``name`` whose resolution markers hold (uv's find_by_markers)."""
        candidates = self.by_name.get(name)
        if not candidates:
            raise LockError(
                f"uv.lock: {owner} needs {name!r}, which the lock does not contain; "
                "re-lock with `uv lock`"
            )
        if len(candidates) == 1:
            return candidates[0]
        matching = [
            i
            for i in candidates
            if not self.package(i).resolution_markers
            or any(self.evaluate(m) for m in self.package(i).resolution_markers)
        ]
        if len(matching) == 1:
            return matching[0]
        versions = ", ".join(str(self.package(i).version) for i in matching or candidates)
        raise LockError(
            f"uv.lock: {owner} needs {name!r}, and {len(matching)} of its entries "
            f"({versions}) fit the target; re-lock with `uv lock`"
        )

    def resolve(self, dep: Dependency, owner: str) -> int:
        """The lock entry a dependency edge points to."""
        key = id(dep)
        found = self._edges.get(key)
        if found is not None:
            return found
        candidates = self.by_name.get(dep.name, [])
        if len(candidates) > 1 and (dep.version is not None or dep.source is not None):
            candidates = [
                i
                for i in candidates
                if (dep.version is None or self.package(i).version == dep.version)
                and (dep.source is None or self.package(i).source == dep.source)
            ]
        found = candidates[0] if len(candidates) == 1 else self.find_by_markers(dep.name, owner)
        self._edges[key] = found
        return found


# -- the request -----------------------------------------------------------------------------


def _find_project(lock: Lock, project: str | None, lock_file: str) -> LockedPackage | None:
    if project is not None:
        name = canonicalize_name(project)
        entries = lock.by_name(name)
        local = [p for p in entries if p.source.kind in _LOCAL_KINDS]
        if len(local) == 1:
            return local[0]
        if len(entries) == 1:
            return entries[0]
        if not entries:
            raise LockError(
                f"{lock_file}: the project {project!r} (project.name of pyproject.toml) is not "
                "in this lock; run `uv lock` in the project, or pass --lock with its own lock"
            )
        raise LockError(
            f"{lock_file}: the project {project!r} is there {len(entries)} times and none is "
            "the local project; run `uv lock` in the project to write the lock again"
        )
    for package in lock.packages:
        if package.source.kind in _LOCAL_KINDS and package.source.location in (".", "./", ""):
            return package
    return None


def _member(lock: Lock, name: str, lock_file: str) -> LockedPackage:
    entries = [p for p in lock.by_name(name) if p.source.kind in _LOCAL_KINDS] or list(
        lock.by_name(name)
    )
    if len(entries) != 1:
        raise LockError(
            f"{lock_file}: workspace member {name!r} is missing from the lock; run `uv lock`"
        )
    return entries[0]


def _roots(
    lock: Lock, request: Request, project: str | None, lock_file: str
) -> tuple[list[LockedPackage], bool]:
    """The root packages and whether the workspace root is virtual (no ``[project]``)."""
    root = _find_project(lock, project, lock_file)
    members = list(lock.manifest.members)
    if not members and root is not None:
        members = [root.name]
    if request.members:
        roots = []
        for package in request.members:
            name = canonicalize_name(package)
            if name not in members:
                raise ConfigError(
                    f"--package {package}: not a workspace member (members: {short_list(members)})"
                )
            member = _member(lock, name, lock_file)
            if member not in roots:
                roots.append(member)
        # uv 0.13.9: one --package drops a virtual root's own groups; several keep them
        # (the target is then the workspace's projects), even the same name twice.
        return roots, root is None and len(request.members) > 1
    if root is None:
        if not members:
            raise LockError(
                f"{lock_file}: no project package (source '.') and no workspace members; "
                "pass the project name or re-lock with `uv lock`"
            )
        # Virtual workspace root: `uv sync` installs every member (checked with uv 0.13.9).
        return [_member(lock, m, lock_file) for m in members], True
    if request.all_packages:
        return [_member(lock, m, lock_file) for m in members], False
    return [root], False


# uv sync's flags that clap refuses together (uv 0.13.9), as Request fields
_FLAGS = {
    "extras": "--extra",
    "all_extras": "--all-extras",
    "dev": "--dev",
    "no_dev": "--no-dev",
    "only_dev": "--only-dev",
    "groups": "--group",
    "only_groups": "--only-group",
    "all_groups": "--all-groups",
    "members": "--package",
    "all_packages": "--all-packages",
}
_EXCLUSIVE = (
    ("extras", "all_extras"),
    ("extras", "only_groups"),
    ("all_extras", "only_groups"),
    ("dev", "only_groups"),
    ("no_dev", "only_dev"),
    ("groups", "only_dev"),
    ("all_groups", "only_dev"),
    ("groups", "only_groups"),
    ("all_groups", "only_groups"),
    ("members", "all_packages"),
)


def check_request(request: Request) -> None:
    """Raise ConfigError for flags ``uv sync`` refuses together (``--extra`` with
    ``--all-extras``, ``--group`` with ``--only-group``, ...)."""
    for first, second in _EXCLUSIVE:
        if getattr(request, first) and getattr(request, second):
            raise ConfigError(
                f"{_FLAGS[first]} and {_FLAGS[second]} cannot be used together (uv sync "
                "refuses them too); drop one, on the command line or in [tool.uvbuild]"
            )


class _Names:
    """uv's ExtrasSpecification / DependencyGroups: what is included, what excluded.

    Exclusion always wins (``--no-group`` over ``--group``, ``--all-groups`` and the
    default groups; ``--no-extra`` over ``--extra`` and ``--all-extras``).
    """

    def __init__(self, include: Iterable[str] | None, exclude: Iterable[str]) -> None:
        self.include = None if include is None else {canonicalize_name(n) for n in include}
        self.exclude = {canonicalize_name(n) for n in exclude}

    def __contains__(self, name: object) -> bool:
        return name not in self.exclude and (self.include is None or name in self.include)


def _extras(request: Request) -> _Names:
    return _Names(None if request.all_extras else request.extras, request.no_extras)


def _groups(request: Request) -> tuple[bool, _Names]:
    """(install the projects themselves?, the active dependency groups), as uv's
    ``DependencyGroups::from_args`` and ``with_defaults`` decide them."""
    group = list(request.groups)
    only = list(request.only_groups)
    exclude = list(request.no_groups)
    if request.only_dev:  # --only-dev > --no-dev > --dev, as in uv
        only.append("dev")
    elif request.no_dev:
        exclude.append("dev")
    elif request.dev:
        group.append("dev")
    prod = not only
    if request.all_groups:
        return prod, _Names(None, exclude)
    include = group + only
    if prod and not request.no_default_groups:
        include += request.default_groups
    return prod, _Names(include, exclude)


def _describe(names: Iterable[str]) -> str:
    return short_list(names)


def _validate(
    lock: Lock,
    request: Request,
    roots: list[LockedPackage],
    root_groups: Mapping[str, object],
) -> None:
    have_extras = {name for root in roots for name, _ in root.optional_dependencies}
    for conflict in lock.conflicts:
        for item in conflict:
            if item.extra and any(item.package == root.name for root in roots):
                have_extras.add(item.extra)
    who = f"{roots[0].name!r}" if len(roots) == 1 else "no selected workspace member"
    they = "it has:" if len(roots) == 1 else "they have:"
    for flag, names in (("--extra", request.extras), ("--no-extra", request.no_extras)):
        for extra in names:
            if canonicalize_name(extra) not in have_extras:
                verb = "has no extra" if len(roots) == 1 else "has extra"
                raise ConfigError(
                    f"{flag} {extra}: {who} {verb} {extra!r} ({they} {_describe(have_extras)})"
                )
    have_groups = {name for root in roots for name, _ in root.dev_dependencies}
    have_groups.update(root_groups)
    for flag, names in (
        ("--group", request.groups),
        ("--only-group", request.only_groups),
        ("--no-group", request.no_groups),
    ):
        for group in names:
            if canonicalize_name(group) not in have_groups:
                verb = "has no dependency group" if len(roots) == 1 else "has dependency group"
                raise ConfigError(
                    f"{flag} {group}: {who} {verb} {group!r} ({they} {_describe(have_groups)})"
                )


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


def _check_member_conflicts(
    lock: Lock, installed: Iterable[str], extras: _Names, groups: _Names
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


def _check_conflicts(lock: Lock, active: set[str], transitive: bool) -> None:
    for conflict in lock.conflicts:
        hits = [item for item in conflict if _encode_item(item) in active]
        if len(hits) > 1:
            how = "are activated together" if transitive else "are both requested"
            raise ConfigError(
                f"{_conflict_label(hits[0])} and {_conflict_label(hits[1])} {how}, but the "
                "lock declares them conflicting ([tool.uv] conflicts); request only one"
            )


# -- selection -------------------------------------------------------------------------------


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


def _installable(package: LockedPackage, target: Target) -> SelectedPackage | None:
    kind = package.source.kind
    if kind == "virtual":
        return None
    if kind in ("editable", "directory"):
        return SelectedPackage(package=package, wheel=None, from_sdist=False)
    wheel = best_wheel(package, target)
    if wheel is not None:
        return SelectedPackage(package=package, wheel=wheel, from_sdist=False)
    if package.sdist is not None or kind in _BUILT_KINDS:
        return SelectedPackage(package=package, wheel=None, from_sdist=True)
    return SelectedPackage(
        package=package, wheel=None, from_sdist=False, unavailable=_why_unavailable(package, target)
    )


def _why_unavailable(package: LockedPackage, target: Target) -> str:
    where = (
        f"{target.platform} CPython {target.python} with glibc {target.glibc[0]}.{target.glibc[1]}"
    )
    for minor in range(target.glibc[1] + 1, 60):
        if best_wheel(package, replace(target, glibc=(target.glibc[0], minor))) is not None:
            return (
                f"{package.name} {package.version} has no wheel for {where} and no sdist; "
                f"its wheels need glibc {target.glibc[0]}.{minor}: pass --glibc "
                f"{target.glibc[0]}.{minor} (tool.uvbuild.glibc) with a base image that has it"
            )
    return (
        f"{package.name} {package.version} has no wheel for {where} and no sdist: "
        "uv sync cannot install it there; pick another --platform or --python"
    )


def select(
    lock: Lock,
    request: Request,
    target: Target,
    project: str | None = None,
    *,
    lock_file: str = "uv.lock",
) -> tuple[SelectedPackage, ...]:
    """What ``uv sync --frozen`` with ``request``'s flags installs on ``target``.

    Sorted by (name, version). ``project`` is ``[project].name`` of the root pyproject, or
    None for a virtual workspace root. Raises ConfigError for a request the lock cannot
    serve (unknown extra/group/member, bad platform, conflicting extras, flags uv refuses
    together) and LockError when the lock itself is inconsistent; ``lock_file`` names the
    lock in those messages.
    """
    check_request(request)
    parse_platform(target.platform)
    check_python(lock, target)
    evaluate = _Evaluator(target)
    graph = _Graph(lock, evaluate)

    roots, virtual_root = _roots(lock, request, project, lock_file)
    prod, groups = _groups(request)
    extras = _extras(request)
    root_groups = dict(lock.manifest.dependency_groups) if virtual_root else {}
    _validate(lock, request, roots, root_groups)

    def root_extras(root: LockedPackage) -> list[str]:
        return [name for name, _ in root.optional_dependencies if name in extras]

    if lock.conflicts:
        active: set[str] = set()
        for root in roots:
            if prod:
                active.add(encode_project(root.name))
                active.update(encode_extra(root.name, e) for e in root_extras(root))
            active.update(
                encode_group(root.name, g) for g, _ in root.dev_dependencies if g in groups
            )
        _check_conflicts(lock, active, transitive=False)
        evaluate.activate(active)

    index_of = {id(p): i for i, p in enumerate(lock.packages)}
    installed: set[int] = set()
    queue: deque[tuple[int, str | None]] = deque()
    seen: set[tuple[int, str | None]] = set()

    def reach(index: int, extras: Iterable[str]) -> None:
        installed.add(index)
        if (index, None) not in seen:
            seen.add((index, None))
            queue.append((index, None))
        for extra in extras:
            if (index, extra) not in seen:
                seen.add((index, extra))
                queue.append((index, extra))

    for root in roots:
        index = index_of[id(root)]
        if prod:
            installed.add(index)
            seen.add((index, None))
            queue.append((index, None))
            for extra in root_extras(root):
                seen.add((index, extra))
                queue.append((index, extra))
        for group, deps in root.dev_dependencies:
            if group not in groups:
                continue
            for dep in deps:
                if evaluate(dep.marker):
                    reach(graph.resolve(dep, f"{root.name} (group {group})"), dep.extras)

    if virtual_root:
        members = set(lock.manifest.members)
        for requirement in lock.manifest.requirements:
            if requirement.name in members or not evaluate(requirement.marker):
                continue
            reach(graph.find_by_markers(requirement.name, "the workspace root"), requirement.extras)
        for group, requirements in lock.manifest.dependency_groups:
            if group not in groups:
                continue
            for requirement in requirements:
                if evaluate(requirement.marker):
                    owner = f"the workspace root (group {group})"
                    found = graph.find_by_markers(requirement.name, owner)
                    reach(found, requirement.extras)

    def edges(index: int, extra: str | None) -> tuple[Dependency, ...]:
        package = lock.packages[index]
        return package.extra(extra) if extra is not None else package.dependencies

    if lock.conflicts:
        # First pass, as uv does: collect the extras activated anywhere in the graph, so
        # that conflict markers see them all in the second pass.
        first_queue = deque(queue)
        first_seen = set(seen)
        while first_queue:
            index, extra = first_queue.popleft()
            owner = lock.packages[index].name
            for dep in edges(index, extra):
                added = [
                    encode_extra(dep.name, e)
                    for e in dep.extras
                    if encode_extra(dep.name, e) not in evaluate.active
                ]
                if not evaluate(dep.marker, added):
                    continue
                evaluate.activate(added)
                target_index = graph.resolve(dep, owner)
                for key in ((target_index, None), *((target_index, e) for e in dep.extras)):
                    if key not in first_seen:
                        first_seen.add(key)
                        first_queue.append(key)
        _check_conflicts(lock, evaluate.active, transitive=True)

    while queue:
        index, extra = queue.popleft()
        owner = lock.packages[index].name
        for dep in edges(index, extra):
            if evaluate(dep.marker):
                reach(graph.resolve(dep, owner), dep.extras)

    if lock.conflicts:
        members = {*lock.manifest.members, *(root.name for root in roots)}
        installed_members = {lock.packages[i].name for i in installed} & members
        _check_member_conflicts(lock, installed_members, extras, groups)

    selected: list[SelectedPackage] = []
    by_name: dict[str, LockedPackage] = {}
    for index in installed:
        package = lock.packages[index]
        choice = _installable(package, target)
        if choice is None:
            continue
        other = by_name.setdefault(package.name, package)
        if other is not package:
            raise LockError(
                f"uv.lock: both {other.id} and {package.id} would be installed on "
                f"{target.platform}; re-lock with `uv lock` or report a uvbuild bug"
            )
        selected.append(choice)
    selected.sort(key=lambda s: (s.name, s.version or ""))
    return tuple(selected)
