"""Which lock entries ``uv sync --frozen`` installs on a target, and which file of each.

Pure: takes a :class:`Lock`, a :class:`Request` (the sync flags) and a :class:`Target`
(the image platform and Python) and returns :class:`SelectedPackage` values.

The walk follows uv's own installer (``uv-resolver``'s ``Installable::to_resolution``):

* roots are the project, ``--package NAME``, every member for ``--all-packages``, or every
  member of a virtual workspace root (see :mod:`uvbuild.core.selection.request`);
* the project's own dependencies and requested extras unless ``--only-group``/``--only-dev``,
  plus the requested dependency groups of each root;
* every edge whose marker holds, following ``extra = [...]`` on edges;
* uv's conflict markers (``extra == 'extra-8-nanochat-cpu'``) are evaluated against the set
  of activated extras and groups, gathered in a first pass over the graph as uv does;
* declared conflicts are checked as uv checks them (see :mod:`uvbuild.core.selection.markers`).

The target's markers and Python are in :mod:`uvbuild.core.selection.target`, the choice of file of
each package in :mod:`uvbuild.core.selection.wheels`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Container, Iterable
from typing import TypeVar

from uvbuild.core.model import (
    Dependency,
    Lock,
    LockedPackage,
    Request,
    Requirement,
    SelectedPackage,
    Target,
)
from uvbuild.core.selection.markers import (
    MarkerEvaluator,
    check_conflicts,
    check_member_conflicts,
    encode_extra,
    encode_group,
    encode_project,
)
from uvbuild.core.selection.request import (
    check_names,
    check_request,
    find_roots,
    requested_extras,
    requested_groups,
)
from uvbuild.core.selection.target import check_python, parse_platform
from uvbuild.core.selection.wheels import install_choice
from uvbuild.errors import LockError

# A node of the walk: a lock entry (its index in lock.packages) and one of its extras,
# or None for its own dependencies.
_Node = tuple[int, "str | None"]
# A group's edge: a package's Dependency or the workspace root's Requirement.
_Edge = TypeVar("_Edge", Dependency, Requirement)


class _Graph:
    def __init__(self, lock: Lock, evaluate: MarkerEvaluator) -> None:
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

    def edges(self, node: _Node) -> tuple[Dependency, ...]:
        index, extra = node
        package = self.lock.packages[index]
        return package.extra(extra) if extra is not None else package.dependencies


def _root_extras(root: LockedPackage, extras: Container[str]) -> list[str]:
    return [name for name, _ in root.optional_dependencies if name in extras]


class _Walk:
    """The breadth-first walk over (package, extra) nodes, collecting what is installed."""

    def __init__(self, graph: _Graph) -> None:
        self.graph = graph
        self.evaluate = graph.evaluate
        self.installed: set[int] = set()
        self.queue: deque[_Node] = deque()
        self.seen: set[_Node] = set()

    def reach(self, index: int, extras: Iterable[str]) -> None:
        self.installed.add(index)
        for node in ((index, None), *((index, extra) for extra in extras)):
            if node not in self.seen:
                self.seen.add(node)
                self.queue.append(node)

    def start_at_roots(
        self, roots: list[LockedPackage], prod: bool, extras: Container[str], groups: Container[str]
    ) -> None:
        """Queue the roots themselves (unless only groups are asked for) and reach their
        requested groups' dependencies."""
        index_of = {id(p): i for i, p in enumerate(self.graph.lock.packages)}
        for root in roots:
            index = index_of[id(root)]
            if prod:
                # queued even when a root reached it first, as uv does
                self.installed.add(index)
                for node in ((index, None), *((index, e) for e in _root_extras(root, extras))):
                    self.seen.add(node)
                    self.queue.append(node)
            self._reach_groups(root.name, root.dev_dependencies, groups, self.graph.resolve)

    def start_at_workspace_root(self, groups: Container[str]) -> None:
        """A virtual workspace root: its own requirements and requested groups."""
        manifest = self.graph.lock.manifest
        members = set(manifest.members)
        for requirement in manifest.requirements:
            if requirement.name in members or not self.evaluate(requirement.marker):
                continue
            found = self.graph.find_by_markers(requirement.name, "the workspace root")
            self.reach(found, requirement.extras)
        self._reach_groups(
            "the workspace root",
            manifest.dependency_groups,
            groups,
            lambda requirement, owner: self.graph.find_by_markers(requirement.name, owner),
        )

    def _reach_groups(
        self,
        owner: str,
        named: Iterable[tuple[str, Iterable[_Edge]]],
        groups: Container[str],
        find: Callable[[_Edge, str], int],
    ) -> None:
        """Reach the entries ``find`` gives for the requested groups' edges that hold."""
        for group, edges in named:
            if group not in groups:
                continue
            for edge in edges:
                if self.evaluate(edge.marker):
                    self.reach(find(edge, f"{owner} (group {group})"), edge.extras)

    def activate_extras(self) -> None:
        """The first pass, as uv does: activate the extras reached anywhere in the graph,
        so that conflict markers see them all in the second pass. Installs nothing."""
        queue = deque(self.queue)
        seen = set(self.seen)
        while queue:
            node = queue.popleft()
            owner = self.graph.package(node[0]).name
            for dep in self.graph.edges(node):
                added = [
                    encode_extra(dep.name, e)
                    for e in dep.extras
                    if encode_extra(dep.name, e) not in self.evaluate.active
                ]
                if not self.evaluate(dep.marker, added):
                    continue
                self.evaluate.activate(added)
                index = self.graph.resolve(dep, owner)
                for key in ((index, None), *((index, e) for e in dep.extras)):
                    if key not in seen:
                        seen.add(key)
                        queue.append(key)

    def run(self) -> None:
        """The second pass: every edge whose marker holds, until the queue is empty."""
        while self.queue:
            node = self.queue.popleft()
            owner = self.graph.package(node[0]).name
            for dep in self.graph.edges(node):
                if self.evaluate(dep.marker):
                    self.reach(self.graph.resolve(dep, owner), dep.extras)


def _requested_items(
    roots: list[LockedPackage], prod: bool, extras: Container[str], groups: Container[str]
) -> set[str]:
    """uv's encoded names of the projects, extras and groups the roots request."""
    active: set[str] = set()
    for root in roots:
        if prod:
            active.add(encode_project(root.name))
            active.update(encode_extra(root.name, e) for e in _root_extras(root, extras))
        active.update(encode_group(root.name, g) for g, _ in root.dev_dependencies if g in groups)
    return active


def _install_set(
    lock: Lock, installed: Iterable[int], target: Target
) -> tuple[SelectedPackage, ...]:
    """The file of each installed entry, sorted by (name, version); one entry per name."""
    selected: list[SelectedPackage] = []
    by_name: dict[str, LockedPackage] = {}
    for index in installed:
        package = lock.packages[index]
        choice = install_choice(package, target)
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
    evaluate = MarkerEvaluator(target)
    walk = _Walk(_Graph(lock, evaluate))

    roots, virtual_root = find_roots(lock, request, project, lock_file)
    prod, groups = requested_groups(request)
    extras = requested_extras(request)
    check_names(lock, request, roots, dict(lock.manifest.dependency_groups) if virtual_root else {})
    if lock.conflicts:
        requested = _requested_items(roots, prod, extras, groups)
        check_conflicts(lock, requested, transitive=False)
        evaluate.activate(requested)

    walk.start_at_roots(roots, prod, extras, groups)
    if virtual_root:
        walk.start_at_workspace_root(groups)
    if lock.conflicts:
        walk.activate_extras()
        check_conflicts(lock, evaluate.active, transitive=True)
    walk.run()

    if lock.conflicts:
        members = {*lock.manifest.members, *(root.name for root in roots)}
        installed_members = {lock.packages[i].name for i in walk.installed} & members
        check_member_conflicts(lock, installed_members, extras, groups)
    return _install_set(lock, walk.installed, target)
