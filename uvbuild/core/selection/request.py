"""The sync flags of a :class:`Request`, checked against uv's rules and against the lock.

The flags follow uv's ``ExtrasSpecification`` and ``DependencyGroups``: an exclusion
(``--no-extra``, ``--no-group``, ``--no-dev``) always wins over an inclusion; flags clap
refuses together are refused by :func:`check_request`.

The roots are the project, ``--package NAME``, every member for ``--all-packages``, or every
member when the workspace root has no ``[project]`` (checked with uv 0.13.9: ``uv sync``
in a virtual workspace root installs all members, each member's default groups and the
root's ``[dependency-groups]``, recorded in ``[manifest.dependency-groups]``;
``--package a`` drops the root-level groups; ``--all-packages`` and ``--package`` given
more than once keep them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from packaging.utils import canonicalize_name

from uvbuild.core.model import Lock, LockedPackage, Request
from uvbuild.errors import ConfigError, LockError, short_list

_LOCAL_KINDS = ("editable", "directory", "virtual")

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


class NameFilter:
    """uv's ExtrasSpecification / DependencyGroups: what is included, what excluded.

    Exclusion always wins (``--no-group`` over ``--group``, ``--all-groups`` and the
    default groups; ``--no-extra`` over ``--extra`` and ``--all-extras``).
    """

    def __init__(self, include: Iterable[str] | None, exclude: Iterable[str]) -> None:
        self.include = None if include is None else {canonicalize_name(n) for n in include}
        self.exclude = {canonicalize_name(n) for n in exclude}

    def __contains__(self, name: object) -> bool:
        return name not in self.exclude and (self.include is None or name in self.include)


def requested_extras(request: Request) -> NameFilter:
    return NameFilter(None if request.all_extras else request.extras, request.no_extras)


def requested_groups(request: Request) -> tuple[bool, NameFilter]:
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
        return prod, NameFilter(None, exclude)
    include = group + only
    if prod and not request.no_default_groups:
        include += request.default_groups
    return prod, NameFilter(include, exclude)


def check_names(
    lock: Lock,
    request: Request,
    roots: list[LockedPackage],
    root_groups: Mapping[str, object],
) -> None:
    """Raise ConfigError for an extra or group that no root declares."""
    have_extras = {name for root in roots for name, _ in root.optional_dependencies}
    for conflict in lock.conflicts:
        for item in conflict:
            if item.extra and any(item.package == root.name for root in roots):
                have_extras.add(item.extra)
    have_groups = {name for root in roots for name, _ in root.dev_dependencies}
    have_groups.update(root_groups)
    flags = (
        ("--extra", request.extras, have_extras, "extra"),
        ("--no-extra", request.no_extras, have_extras, "extra"),
        ("--group", request.groups, have_groups, "dependency group"),
        ("--only-group", request.only_groups, have_groups, "dependency group"),
        ("--no-group", request.no_groups, have_groups, "dependency group"),
    )
    who = f"{roots[0].name!r}" if len(roots) == 1 else "no selected workspace member"
    they = "it has:" if len(roots) == 1 else "they have:"
    for flag, names, have, what in flags:
        for name in names:
            if canonicalize_name(name) not in have:
                verb = f"has no {what}" if len(roots) == 1 else f"has {what}"
                raise ConfigError(
                    f"{flag} {name}: {who} {verb} {name!r} ({they} {short_list(have)})"
                )


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


def find_roots(
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
