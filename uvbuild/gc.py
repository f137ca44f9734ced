"""``uvbuild gc``: remove a project's old local base images and the build cache that keeps
their layers alive.

The selection is pure (:func:`select`, :func:`records_to_prune`); :func:`collect` runs it
against an engine (any ``EngineLike``).

Why the cache records matter: with the docker driver, BuildKit's records of the base
build (and the ``from local`` record a named-context build makes for ``uvbuild-base``)
point at the same layers as the image. Removing the image alone frees nothing while those
records exist, and ``docker system df`` does not show that space. Which records belonged
to a base is read from ``docker buildx du --verbose``: the records that were *shared*
(their snapshot also used outside BuildKit's cache) before the image was removed and are
no longer shared after, plus the unshared records built on top of those (the app builds
that read the base). Each is pruned by id, children first. The bytes freed are measured
with ``du -sb`` of the engine's data root, before and after. A base that a running build
uses is never removed (:mod:`uvbuild.keylock`'s use locks).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from uvbuild import keylock
from uvbuild.core.model import BuildPlan
from uvbuild.core.render.dockerfile_names import KEY_LABEL, LABEL_PREFIX
from uvbuild.docker.facts.values import CacheRecord, ImageInfo
from uvbuild.docker.verbs import EngineLike
from uvbuild.flow.inputs import user_cache_dir

GC_SCHEMA = "uvbuild.gc/1"
DEFAULT_KEEP = 2
BASE_LABEL = f"{LABEL_PREFIX}.base"
PROJECT_LABEL = f"{LABEL_PREFIX}.project"
PLATFORM_LABEL = f"{LABEL_PREFIX}.platform"


class Reporter(Protocol):
    def step(self, message: str) -> None: ...
    def detail(self, message: str) -> None: ...
    def warn(self, message: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Base:
    """A local base image of the project."""

    id: str
    tags: tuple[str, ...]  # the tags gc removes (in the base repo, or all with --all-repos)
    key: str
    platform: str
    when: str  # when it was last tagged (else created): RFC 3339, sorts as text in UTC
    layers: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tags": list(self.tags),
            "key": self.key,
            "platform": self.platform,
            "when": self.when,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    base: Base
    remove: bool
    reason: str  # "newest", "used by container X", "image Y is built on it", "old"


def select(
    bases: Iterable[Base], keep: int, protected: Mapping[str, str] | None = None
) -> list[Decision]:
    """Keep the ``keep`` newest bases of each platform and every protected one (id ->
    reason); the rest are removed. Newest first within each platform."""
    if keep < 0:
        raise ValueError("keep must be >= 0")
    protected = protected or {}
    by_platform: dict[str, list[Base]] = {}
    for base in bases:
        by_platform.setdefault(base.platform, []).append(base)
    decisions = []
    for platform in sorted(by_platform):
        ordered = sorted(by_platform[platform], key=lambda b: (b.when, b.id), reverse=True)
        for index, base in enumerate(ordered):
            if index < keep:
                decisions.append(Decision(base, False, "newest"))
            elif base.id in protected:
                decisions.append(Decision(base, False, protected[base.id]))
            else:
                decisions.append(Decision(base, True, "old"))
    return decisions


def built_on(base: Base, images: Iterable[ImageInfo], ignore: Iterable[str] = ()) -> list[str]:
    """Images (other than ``base`` and the ids in ``ignore``) whose layers start with all
    of the base's: images built on it, which keep its layers in use."""
    skip = {base.id, *ignore}
    layers = base.layers
    found = []
    if not layers:
        return found
    for image in images:
        if image.id in skip or len(image.layers) < len(layers):
            continue
        if image.layers[: len(layers)] == layers:
            found.append(image.tags[0] if image.tags else image.id)
    return found


def records_to_prune(before: Sequence[CacheRecord], after: Sequence[CacheRecord]) -> list[str]:
    """Ids of the cache records that kept removed images' layers alive, children first.

    ``before`` and ``after`` are ``buildx du`` listings taken before and after the images
    were removed. Records shared before and not after are the images' own; the unshared,
    unused records built on the topmost of those (app builds that read the base through a
    named context) go too. The ancestors of such a record are never walked down from, so
    the record of a base image (``python:...``) shared by other builds is not expanded.
    """
    now = {record.id: record for record in after}
    shared_before = {record.id for record in before if record.shared}
    flipped = {rid for rid in shared_before if rid in now and not now[rid].shared}
    children: dict[str, list[str]] = {}
    for record in after:
        if record.parent:
            children.setdefault(record.parent, []).append(record.id)
    ancestors: set[str] = set()
    for rid in flipped:
        parent = now[rid].parent
        while parent and parent not in ancestors:
            ancestors.add(parent)
            parent = now[parent].parent if parent in now else None
    chosen = set(flipped)
    stack = [rid for rid in flipped if rid not in ancestors and now[rid].parent is not None]
    while stack:
        for child in children.get(stack.pop(), []):
            record = now[child]
            if child not in chosen and not record.shared:
                chosen.add(child)
                stack.append(child)
    chosen = {rid for rid in chosen if not now[rid].in_use and now[rid].type != "exec.cachemount"}

    def depth(rid: str) -> int:
        count, parent = 0, now[rid].parent
        while parent and parent in now and count < 10_000:
            count, parent = count + 1, now[parent].parent
        return count

    return sorted(chosen, key=lambda rid: (-depth(rid), rid))


@dataclass(slots=True)
class GcResult:
    project: str
    repo: str
    keep: int
    dry_run: bool
    decisions: list[Decision] = field(default_factory=list)
    records: list[CacheRecord] = field(default_factory=list)
    bytes_before: int | None = None
    bytes_after: int | None = None
    data_root: str | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def removed(self) -> list[Base]:
        return [d.base for d in self.decisions if d.remove]

    @property
    def bytes_freed(self) -> int | None:
        if self.bytes_before is None or self.bytes_after is None:
            return None
        return max(0, self.bytes_before - self.bytes_after)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": GC_SCHEMA,
            "dry-run": self.dry_run,
            "project": self.project,
            "repo": self.repo,
            "keep": self.keep,
            "removed": [d.base.to_dict() for d in self.decisions if d.remove],
            "kept": [
                {**d.base.to_dict(), "reason": d.reason} for d in self.decisions if not d.remove
            ],
            "cache-records": [
                {"id": r.id, "description": r.description, "size": r.size} for r in self.records
            ],
            "bytes-freed": self.bytes_freed,
            "measured": (f"du -sb {self.data_root}" if self.bytes_freed is not None else None),
            "errors": list(self.errors),
        }


def _in_repo(tag: str, repo: str) -> bool:
    return tag.rsplit(":", 1)[0] == repo


def find_bases(plan: BuildPlan, engine: EngineLike, *, all_repos: bool = False) -> list[Base]:
    """The project's local bases: label ``io.uvbuild.base=1`` and ``io.uvbuild.project``,
    tagged in the plan's base repo (or any repo, untagged too, with ``all_repos``)."""
    name = plan.project_name or ""
    images = engine.images([f"label={BASE_LABEL}=1", f"label={PROJECT_LABEL}={name}"])
    bases = []
    for image in images:
        tags = tuple(t for t in image.tags if all_repos or _in_repo(t, plan.base_repo))
        if not tags and not (all_repos and not image.tags):
            continue
        bases.append(
            Base(
                id=image.id,
                tags=tags,
                key=image.label(KEY_LABEL) or "",
                platform=image.label(PLATFORM_LABEL) or "",
                when=image.last_tagged or image.created,
                layers=image.layers,
            )
        )
    return bases


def protections(bases: Sequence[Base], engine: EngineLike) -> dict[str, str]:
    """Why a base must stay although it is old: a container or an image uses it."""
    reasons: dict[str, str] = {}
    everything = engine.images()
    candidates = {base.id for base in bases}
    for base in bases:
        containers = engine.containers_using(base.id)
        if containers:
            reasons[base.id] = f"used by container {containers[0]}"
            continue
        users = built_on(base, everything, ignore=candidates)
        if users:
            reasons[base.id] = f"image {users[0]} is built on it"
    return reasons


IN_USE = "a running build uses it"


def _claimed(decision: Decision, claims: contextlib.ExitStack, lock_dir: Path) -> Decision:
    """The decision, kept when a running build uses the base (:func:`keylock.claim`); a
    base removed stays claimed until ``claims`` closes."""
    if not decision.remove or not decision.base.key:
        return decision
    if claims.enter_context(keylock.claim(lock_dir, decision.base.key)):
        return decision
    return Decision(decision.base, False, IN_USE)


def collect(
    plan: BuildPlan,
    engine: EngineLike,
    report: Reporter,
    *,
    keep: int = DEFAULT_KEEP,
    dry_run: bool = False,
    all_repos: bool = False,
    lock_dir: Path | None = None,
) -> GcResult:
    """Remove the old bases of ``plan``'s project and the cache records behind them.

    A base that a running ``uvbuild build`` uses (on this machine, with the same cache
    directory ``lock_dir``, by default uvbuild's) is kept: the build holds its key's use
    lock from looking for the base to the end of its app build, and gc removes a base only
    while it holds that lock itself (never waiting for it). Builds that start meanwhile
    wait until the base's tag is gone, then look for it again.
    """
    result = GcResult(plan.project_name or "", plan.base_repo, keep, dry_run)
    engine.check()
    bases = find_bases(plan, engine, all_repos=all_repos)
    decisions = select(bases, keep, protections(bases, engine))
    lock_dir = user_cache_dir() if lock_dir is None else lock_dir
    before: list[CacheRecord] = []
    if not dry_run and any(d.remove for d in decisions):
        # measured before the bases are claimed: builds wait for a claimed base, du is slow
        result.data_root = engine.storage().root
        result.bytes_before = engine.data_root_bytes()
        before = engine.cache_records()
    with contextlib.ExitStack() as claims:
        result.decisions = [_claimed(d, claims, lock_dir) for d in decisions]
        removed = result.removed
        report.detail(
            f"{len(bases)} base(s) of {result.project or plan.project_dir}, {len(removed)} old"
        )
        if dry_run or not removed:
            result.data_root = result.bytes_before = None
            return result
        for base in removed:
            report.step(f"removing base {', '.join(base.tags) or base.id}")
            for ref in base.tags or (base.id,):
                if not engine.untag(ref):
                    result.errors.append(f"docker refused to remove {ref}")
    # the tags are gone: a build that waited finds no base and builds it
    after = engine.cache_records()
    by_id = {record.id: record for record in after}
    for record_id in records_to_prune(before, after):
        if engine.prune_record(record_id):
            result.records.append(by_id[record_id])
    report.detail(f"pruned {len(result.records)} build cache record(s)")
    if result.bytes_before is not None:
        result.bytes_after = engine.data_root_bytes()
    return result
