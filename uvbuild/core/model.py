"""Frozen dataclasses shared by the pure core: the lock, the target, the selection and the plan.

Everything here is immutable and uses tuples, so a plan can be hashed, compared and
serialised without surprises; the plan's JSON document is :mod:`uvbuild.core.plan_json`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from uvbuild.core.plan_json import plan_document

SOURCE_KINDS = ("registry", "git", "url", "path", "directory", "editable", "virtual")


@dataclass(frozen=True, slots=True)
class Source:
    """Where a locked package comes from.

    ``kind`` is one of SOURCE_KINDS. ``location`` is the registry index URL, the git URL
    (without the ``#commit`` fragment), the archive URL, or the path relative to the
    lock. ``commit`` is the full git commit for git sources; ``subdirectory`` the
    ``subdirectory`` query of git and url sources.
    """

    kind: str
    location: str
    commit: str | None = None
    subdirectory: str | None = None
    tag: str | None = None
    branch: str | None = None
    rev: str | None = None

    @property
    def is_local(self) -> bool:
        return self.kind in ("path", "directory", "editable", "virtual")

    def describe(self) -> str:
        if self.kind == "git":
            text = f"git+{self.location}@{self.commit or self.rev or '?'}"
            return f"{text}#{self.subdirectory}" if self.subdirectory else text
        if self.kind == "registry":
            return self.location
        return f"{self.kind}:{self.location}"


@dataclass(frozen=True, slots=True)
class Artifact:
    """A wheel or sdist entry: ``filename`` is always set (derived from url or path)."""

    filename: str
    url: str | None = None
    path: str | None = None
    hash: str | None = None
    size: int | None = None
    upload_time: str | None = None


@dataclass(frozen=True, slots=True)
class Dependency:
    """An edge in the lock. ``version``/``source`` are only set when the name is ambiguous."""

    name: str
    marker: str | None = None
    extras: tuple[str, ...] = ()
    version: str | None = None
    source: Source | None = None


@dataclass(frozen=True, slots=True)
class LockedPackage:
    """One ``[[package]]`` entry; ``name`` is normalised (PEP 503)."""

    name: str
    version: str | None
    source: Source
    sdist: Artifact | None = None
    wheels: tuple[Artifact, ...] = ()
    dependencies: tuple[Dependency, ...] = ()
    optional_dependencies: tuple[tuple[str, tuple[Dependency, ...]], ...] = ()
    dev_dependencies: tuple[tuple[str, tuple[Dependency, ...]], ...] = ()
    resolution_markers: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        """Unique within a lock: name, version and source together."""
        return f"{self.name}=={self.version or '?'}@{self.source.describe()}"

    def extra(self, name: str) -> tuple[Dependency, ...]:
        return dict(self.optional_dependencies).get(name, ())

    def group(self, name: str) -> tuple[Dependency, ...]:
        return dict(self.dev_dependencies).get(name, ())


@dataclass(frozen=True, slots=True)
class Requirement:
    """A requirement as the ``[manifest]`` records it (overrides, constraints, groups)."""

    name: str
    specifier: str | None = None
    marker: str | None = None
    extras: tuple[str, ...] = ()
    source: str | None = None


@dataclass(frozen=True, slots=True)
class ConflictItem:
    """One member of a ``conflicts`` set: a package's extra or dependency group."""

    package: str
    extra: str | None = None
    group: str | None = None


@dataclass(frozen=True, slots=True)
class Manifest:
    members: tuple[str, ...] = ()
    requirements: tuple[Requirement, ...] = ()
    overrides: tuple[Requirement, ...] = ()
    constraints: tuple[Requirement, ...] = ()
    build_constraints: tuple[Requirement, ...] = ()
    dependency_groups: tuple[tuple[str, tuple[Requirement, ...]], ...] = ()


@dataclass(frozen=True, slots=True)
class Lock:
    version: int
    revision: int
    requires_python: str | None
    packages: tuple[LockedPackage, ...]
    resolution_markers: tuple[str, ...] = ()
    supported_markers: tuple[str, ...] = ()
    conflicts: tuple[tuple[ConflictItem, ...], ...] = ()
    manifest: Manifest = field(default_factory=Manifest)
    options: tuple[tuple[str, str], ...] = ()

    def by_name(self, name: str) -> tuple[LockedPackage, ...]:
        return tuple(p for p in self.packages if p.name == name)


@dataclass(frozen=True, slots=True)
class Target:
    """What the image runs on: ``platform`` as docker spells it, Python as ``X.Y[.Z]``."""

    platform: str = "linux/amd64"
    python: str = "3.11"
    glibc: tuple[int, int] = (2, 28)


@dataclass(frozen=True, slots=True)
class Request:
    """What ``uv sync`` is asked to install, as the sync flags say it."""

    package: str | None = None
    all_packages: bool = False
    extras: tuple[str, ...] = ()
    all_extras: bool = False
    groups: tuple[str, ...] = ()
    only_groups: tuple[str, ...] = ()
    no_dev: bool = False
    default_groups: tuple[str, ...] = ("dev",)
    # uv's other selection flags; `package` above is the first of `packages`
    no_extras: tuple[str, ...] = ()
    no_groups: tuple[str, ...] = ()
    all_groups: bool = False
    no_default_groups: bool = False
    dev: bool = False
    only_dev: bool = False
    packages: tuple[str, ...] = ()

    @property
    def members(self) -> tuple[str, ...]:
        """The workspace members of ``--package`` (uv takes several), in the given order."""
        if self.packages:
            return self.packages
        return (self.package,) if self.package is not None else ()


@dataclass(frozen=True, slots=True)
class SelectedPackage:
    """A package ``uv sync --frozen`` would install on the target, and how."""

    package: LockedPackage
    wheel: Artifact | None
    from_sdist: bool = False
    # Why uv could not install it on the target (no compatible wheel and nothing to
    # build); plan reports it, the build's own `uv sync` then fails the same way.
    unavailable: str | None = None

    @property
    def name(self) -> str:
        return self.package.name

    @property
    def version(self) -> str | None:
        return self.package.version

    @property
    def size(self) -> int | None:
        return self.wheel.size if self.wheel else None


@dataclass(frozen=True, slots=True)
class HeavyChoice:
    """Why a package is heavy: the pattern it matched, or its size crossing the threshold."""

    selected: SelectedPackage
    reason: str


@dataclass(frozen=True, slots=True)
class Grouping:
    heavy: tuple[HeavyChoice, ...]
    light: tuple[SelectedPackage, ...]


@dataclass(frozen=True, slots=True)
class LayerGroup:
    """Heavy packages installed in a stage of their own and copied into the base with
    ``COPY --link``, so their layer does not depend on the layers below it.

    ``key`` hashes the group's lock subset plus the inputs every group shares (set by the
    planner); ``patterns`` are the layout's patterns that formed it (empty for the group
    of leftovers); ``part`` numbers the pieces of a group the auto mode split by size.
    """

    name: str
    packages: tuple[HeavyChoice, ...]
    patterns: tuple[str, ...] = ()
    key: str = ""
    part: int | None = None

    @property
    def size(self) -> int:
        """Bytes of the selected wheels (about the compressed layer); unknown sizes count 0."""
        return sum(c.selected.size or 0 for c in self.packages)

    @property
    def unknown_size(self) -> int:
        return sum(1 for c in self.packages if c.selected.size is None)


@dataclass(frozen=True, slots=True)
class ImageRef:
    """An image the base starts from or copies from (``FROM``, ``--mount=from=``), as
    written, and the setting (or Dockerfile line) that names it, for the error that says
    it exists nowhere."""

    ref: str
    setting: str


def pinned_digest(ref: str) -> str | None:
    """The digest of a pinned ``name@sha256:...`` reference, as written; None otherwise."""
    _name, at, digest = ref.rpartition("@")
    return digest if at and digest.startswith("sha256:") else None


@dataclass(frozen=True, slots=True)
class UserDockerfile:
    """The Dockerfile a build runs, when it is the user's.

    mode "base": it uses ``FROM uvbuild-base`` (the base replaces that stage), and
    ``system`` is its stage ``uvbuild-system`` if it has one; mode "seed": it does not
    mention uvbuild and ``seed`` is it cut at its dependency sync. No path: the generated
    Dockerfile.
    """

    path: str | None = None
    mode: str = "generated"
    system: Any = None  # seed.SystemPart: what the keyed layers are built on
    seed: Any = None  # seed.SeedSplit
    # (source, sha256) of each build-context path the system part copies or mounts
    context_digests: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class BuildPlan:
    """Everything decided before Docker is touched; ``plan``, ``dockerfile`` and ``build``
    all start from this one object."""

    project_dir: str
    project_name: str | None
    lock_path: str
    config: Any
    target: Target
    request: Request
    selected: tuple[SelectedPackage, ...]
    grouping: Grouping
    key: str
    tag: str
    key_document: str  # canonical JSON of what the key hashes
    members: tuple[str, ...] = ()  # workspace member directories, relative, without "."
    notes: tuple[str, ...] = ()
    # The heavy packages' layer groups, in layer order; empty: one layer (layer-mode
    # "single", or every heavy package fell into one group).
    layers: tuple[LayerGroup, ...] = ()
    layer_mode: str = "groups"
    # The light packages' keyed layers (grouping.pool_layers), joined with COPY --link in
    # the deps stage above the base, bottom first; the other light packages are the pool.
    light_layers: tuple[LayerGroup, ...] = ()
    # The names of the light layers each light stage installs (grouping.light_stages)
    light_stages: tuple[tuple[str, ...], ...] = ()
    # (name, url) of each index of config.index_credentials, as [[tool.uv.index]] names it
    credential_indexes: tuple[tuple[str, str], ...] = ()
    dockerfile: UserDockerfile = UserDockerfile()

    @property
    def system(self) -> Any:
        """The user's system part the keyed layers are built on (seed.SystemPart), or None."""
        return self.dockerfile.system

    @property
    def seed(self) -> Any:
        """The user's Dockerfile cut at its sync (seed.SeedSplit), or None."""
        return self.dockerfile.seed

    # The images the base and layer stages start from or copy from, in the order written;
    # the flow resolves them (uvbuild.flow.images) and the planner keys on their digests.
    image_refs: tuple[ImageRef, ...] = ()
    # (ref, digest) of each image ref, sorted, when the key covers them; empty: the key
    # covers the images by name only (the plan was made without an engine's answer)
    digests: tuple[tuple[str, str], ...] = ()
    # Why the key covers the images by name only, when the flow asked and got no answer
    # (no engine, a registry out of reach); None: not asked, or resolved.
    provisional: str | None = None

    def layer_of(self, name: str) -> LayerGroup | None:
        """The layer group (heavy or light) that holds ``name``; None: the single base
        layer, or the pool."""
        for group in (*self.layers, *self.light_layers):
            if any(c.selected.name == name for c in group.packages):
                return group
        return None

    @property
    def heavy(self) -> tuple[SelectedPackage, ...]:
        return tuple(choice.selected for choice in self.grouping.heavy)

    @property
    def light(self) -> tuple[SelectedPackage, ...]:
        return self.grouping.light

    @property
    def light_stage_groups(self) -> tuple[tuple[LayerGroup, ...], ...]:
        """The light layers of each light stage, in light_layers order within a stage."""
        by_name = {group.name: group for group in self.light_layers}
        return tuple(tuple(by_name[name] for name in stage) for stage in self.light_stages)

    def light_stage_of(self, layer: str) -> int | None:
        """The light stage (from 1) that installs the light layer ``layer``."""
        for number, stage in enumerate(self.light_stages, start=1):
            if layer in stage:
                return number
        return None

    @property
    def pool(self) -> tuple[SelectedPackage, ...]:
        """The light packages no keyed layer holds: the deps stage's ``uv sync`` installs
        them."""
        layered = {c.selected.name for group in self.light_layers for c in group.packages}
        return tuple(s for s in self.light if s.name not in layered)

    @property
    def unavailable(self) -> tuple[SelectedPackage, ...]:
        """Selected packages uv cannot install on the target (no wheel fits, no sdist)."""
        return tuple(s for s in self.selected if s.unavailable)

    @property
    def base_repo(self) -> str:
        return self.tag.rsplit(":", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        """The stable, versioned document ``plan --json`` prints (schema in README)."""
        return plan_document(self)

    def describe_dockerfile(self) -> str | None:
        """One line on the user's Dockerfile and how the build uses it (None: generated)."""
        user = self.dockerfile
        if user.path is None:
            return None
        if user.seed is not None:
            split = user.seed
            return (
                f"Dockerfile {user.path}: cut at its `uv sync` on line {split.sync_line}; the "
                f"keyed layers sit on its system part ({len(split.system.system)} instructions"
                + (" and the commands before the sync" if split.system.system_run else "")
                + ")"
            )
        where = "its stage uvbuild-system" if user.system is not None else "the base image"
        return f"Dockerfile {user.path}: uses FROM uvbuild-base; the keyed layers sit on {where}"
