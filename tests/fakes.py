"""The one fake engine and the recording reporter, for the tests that follow the flow,
``doctor`` and ``bake`` without Docker."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import string
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from uvbuild import planner
from uvbuild.core.hashing import TAG_LENGTH
from uvbuild.core.model import BuildPlan
from uvbuild.core.render.dockerfile_names import BASE_STAGE, KEY_LABEL, LIGHT_WARM_STAGE
from uvbuild.docker.facts.faults import FIX_BUILDER, FIX_BUILDX, FIX_CLI, FIX_ENGINE
from uvbuild.docker.facts.values import (
    BlobCheck,
    BuilderInfo,
    CacheRecord,
    EngineInfo,
    ImageInfo,
    Layer,
    LineSink,
    Probe,
    RegistryImage,
    Storage,
)
from uvbuild.docker.requests import BuildRequest
from uvbuild.errors import BuildFailed, EngineUnavailable, Interrupted

BASE_ID = "sha256:" + "b" * 64
APP_ID = "sha256:" + "a" * 64

# The parts of a machine ``broken=`` can break, each failing the doctor check of that name
# (``push``: the base repository refuses a push; ``images``: neither the base image nor the
# uv image is in the engine or a registry).
BROKEN_PARTS = ("cli", "engine", "buildx", "builder", "frontend", "push", "images")


def is_base_tag(ref: str) -> bool:
    """A uvbuild base is tagged with the first TAG_LENGTH hex digits of its key."""
    tag = ref.rpartition(":")[2]
    return len(tag) == TAG_LENGTH and set(tag) <= set(string.hexdigits.lower())


def fake_digest(ref: str, salt: str = "") -> str:
    """The digest the fake engine gives ``ref`` unless told another: one per name."""
    return "sha256:" + hashlib.sha256(f"{salt}{ref}".encode()).hexdigest()


def keyed_plan(project_dir: str | Path, flags: Mapping | None = None, **how) -> BuildPlan:
    """``planner.make_plan``'s plan keyed on the digests the fake engine gives its images
    (:func:`fake_digest`), as a flow on a FakeEngine keys it: the flow leaves a keyed plan
    as it is, so the test's plan has the tag the flow uses."""
    plan = planner.make_plan(project_dir, flags, **how)
    return planner.with_digests(plan, {i.ref: fake_digest(i.ref) for i in plan.image_refs})


class TagKey(str):
    """The ``io.uvbuild.key`` label of a fake base whose label a test did not choose: the
    fake knows a base by its tag only (the key's first TAG_LENGTH hex digits), so this
    label equals every full key that starts with them, which is the key of the plan whose
    tag it is. ``str(label)`` is those digits."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and len(other) == 64 and other.startswith(str(self))

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = str.__hash__


# ``base_label``'s default: the right key, the one the base's tag names.
RIGHT_KEY = "<the key of the tag>"


def base_labels(ref: str, label: str | None = RIGHT_KEY) -> dict[str, str]:
    """The labels of a fake base under ``ref``: ``io.uvbuild.key`` is ``label``, by default
    the key the tag names (:class:`TagKey`); None: no such label."""
    if label is None:
        return {"io.uvbuild.base": "1"}
    if label == RIGHT_KEY:
        label = TagKey(ref.rpartition(":")[2])
    return {"io.uvbuild.base": "1", KEY_LABEL: label}


#: the blobs a fake registry's base names: its config, then one layer
REGISTRY_BLOBS = ("sha256:" + "c" * 64, "sha256:" + "b" * 64)


def registry_base(
    ref: str,
    diff_ids: Sequence[str] = ("sha256:l1",),
    layer_bytes: int = 1,
    label: str | None = RIGHT_KEY,
    blobs: Sequence[str] = REGISTRY_BLOBS,
) -> RegistryImage:
    """A base as a fake registry holds it, labelled as :func:`base_labels` says; its
    manifest names ``blobs`` (the config's, then the layers')."""
    labels = tuple(sorted(base_labels(ref, label).items()))
    digest = "sha256:" + "d" * 64
    return RegistryImage(ref, digest, tuple(diff_ids), layer_bytes, labels, tuple(blobs))


class FakeEngine:
    """A healthy local engine: the docker CLI, Docker Engine, buildx and a ``default``
    builder with the ``docker`` driver, a registry that lacks every image asked for, and
    every image but the uvbuild bases. Every verb of ``uvbuild.docker.verbs.EngineLike`` is
    here; one that a test does not configure answers as that healthy engine would. Each
    call is recorded in ``calls`` as ``(verb, arguments...)`` (``command_line`` excepted).

    The keywords change one thing each:

    * ``exists``: the uvbuild bases are in the engine too, labelled with the key their tag
      names; ``base_label``: another ``io.uvbuild.key`` label for them (None: none).
    * ``driver``: the builder's driver.
    * ``fail`` / ``interrupt``: the ``"base"`` or ``"app"`` build fails (BuildFailed) or
      is interrupted by SIGTERM; ``output``: the lines the app build prints,
      ``base_output`` those of the base build.
    * ``unavailable``: ``check`` finds no engine.
    * ``free``: bytes free in the engine's storage (None: not measurable).
    * ``store``: the engine uses the containerd image store (also settable afterwards).
    * ``broken``: one part of :data:`BROKEN_PARTS` is broken, as ``doctor`` would find it.
    * ``bake_drops``: the bake-file attributes this buildx's ``bake`` drops.
    * ``digests``: what ``image_digest`` and ``image_digests`` answer for a ref (None: no
      such image anywhere; default :func:`fake_digest`); ``pulled``: their answers with
      ``pull=True`` (the registry's, when the tag moved upstream; default: as without pull).
    * ``lost``: the blobs ``missing_blobs`` says the registry lacks (of those the image's
      manifest names); ``unchecked``: it cannot ask the registry (this reason).
    """

    platforms = ("linux/amd64", "linux/arm64")

    def __init__(
        self,
        *,
        exists: bool = False,
        base_label: str | None = RIGHT_KEY,
        driver: str = "docker",
        fail: str | None = None,
        unavailable: bool = False,
        output: Sequence[str] = (),
        base_output: Sequence[str] = ("#1 building the base",),
        free: int | None = 10**15,
        interrupt: str | None = None,
        store: bool = False,
        broken: str | None = None,
        bake_drops: Collection[str] = (),
        digests: Mapping[str, str | None] | None = None,
        pulled: Mapping[str, str | None] | None = None,
        lost: Collection[str] = (),
        unchecked: str = "",
    ) -> None:
        assert broken is None or broken in BROKEN_PARTS, f"broken: one of {BROKEN_PARTS}"
        self.exists = exists
        self.base_label = base_label
        self.driver = driver
        self.fail = fail
        self.interrupt = interrupt
        self.unavailable = unavailable
        self.output = list(output)
        self.base_output = list(base_output)
        self.free = free
        self.store = store
        self.broken = broken
        self.bake_drops = frozenset(bake_drops)
        self.digests = dict(digests or {})
        self.pulled = dict(pulled or {})
        self.lost = frozenset(lost)
        self.unchecked = unchecked
        self.calls: list[tuple] = []
        self.builds: list[BuildRequest] = []

    def _record(self, *call: object) -> None:
        self.calls.append(call)

    # -- the docker CLI, engine, buildx and builder -----------------------------------------

    @property
    def docker_cmd(self) -> list[str]:
        if self.broken == "cli":
            raise EngineUnavailable(self.missing_cli_message())
        return ["docker"]

    def missing_cli_message(self) -> str:
        return f"the docker CLI (docker) is not on PATH; {FIX_CLI}"

    def docker_path(self) -> str | None:
        self._record("docker_path")
        return None if self.broken == "cli" else "/usr/bin/docker"

    def command_line(self, args: Sequence[str]) -> str:
        return shlex.join(["docker", *args])

    def cli_version(self) -> str:
        self._record("cli_version")
        return "Docker version 28.2.2"

    def engine_info(self) -> EngineInfo:
        self._record("engine_info")
        self._raise_if_broken("engine")
        return EngineInfo("26.1.5", "the current context (unix:///var/run/docker.sock)", True)

    def buildx_version(self) -> str:
        self._record("buildx_version")
        self._raise_if_broken("buildx")
        return "github.com/docker/buildx 0.13.1"

    def inspect_builder(self) -> BuilderInfo:
        self._record("inspect_builder")
        self._raise_if_broken("builder")
        return self._builder()

    def check(self) -> BuilderInfo:
        self._record("check")
        if self.unavailable:
            raise EngineUnavailable("no Docker engine answers at DOCKER_HOST=unix:///x.sock")
        for part in ("cli", "engine", "buildx", "builder"):
            self._raise_if_broken(part)
        return self._builder()

    def _builder(self) -> BuilderInfo:
        return BuilderInfo("default", self.driver, "v0.0.0+unknown")

    def _raise_if_broken(self, part: str) -> None:
        """Raise what the real Engine raises when ``part`` is the broken one."""
        messages = {
            "cli": self.missing_cli_message(),
            "engine": f"no Docker engine answers at DOCKER_HOST=x; {FIX_ENGINE}",
            "buildx": f"the docker buildx plugin is missing; {FIX_BUILDX}",
            "builder": f"buildx builder 'nope' cannot be used; {FIX_BUILDER}",
        }
        if self.broken == part:
            raise EngineUnavailable(messages[part])

    # -- probes (doctor) and the registry -----------------------------------------------------

    def probe_frontend(self, workdir: Path) -> Probe:
        self._record("probe_frontend")
        assert workdir.is_dir()
        if self.broken == "frontend":
            return Probe(False, "dockerfile parse error on line 2: unknown flag: link")
        return Probe(True, "a probe build worked")

    def probe_push(self, repo: str, workdir: Path) -> Probe:
        self._record("probe_push", repo)
        if self.broken == "push":
            return Probe(False, "connection refused")
        return Probe(True, f"pushed to {repo}:uvbuild-doctor")

    def resolve_image(self, ref: str) -> Probe:
        self._record("resolve_image", ref)
        if self.broken == "images":
            return Probe(False, f"{ref}: not found")
        return Probe(True, f"{ref} is in the engine")

    def image_digest(self, ref: str, *, pull: bool = False) -> str | None:
        self._record("image_digest", ref, pull)
        return self._digest(ref, pull)

    def image_digests(self, refs: Sequence[str], *, pull: bool = False) -> dict[str, str | None]:
        self._record("image_digests", tuple(refs), pull)
        return {ref: self._digest(ref, pull) for ref in refs}

    def _digest(self, ref: str, pull: bool) -> str | None:
        if self.unavailable:
            raise EngineUnavailable("no Docker engine answers at DOCKER_HOST=unix:///x.sock")
        if self.broken == "images":
            return None
        if pull and ref in self.pulled:
            return self.pulled[ref]
        return self.digests.get(ref, fake_digest(ref))

    def registry_image(self, ref: str, platform: str | None = None) -> RegistryImage | None:
        self._record("registry_image", ref)
        return None

    def missing_blobs(self, image: RegistryImage) -> BlobCheck:
        self._record("missing_blobs", image.ref)
        if self.unchecked:
            return BlobCheck((), checked=False, reason=self.unchecked)
        return BlobCheck(tuple(blob for blob in image.blobs if blob in self.lost))

    def push_image(self, ref: str, on_line: LineSink) -> None:
        self._record("push_image", ref)

    def imagetools_create(self, tags: Sequence[str], sources: Sequence[str]) -> None:
        self._record("imagetools_create", tuple(tags), tuple(sources))

    # -- the engine's images and storage --------------------------------------------------------

    def containerd_store(self) -> bool:
        self._record("containerd_store")
        return self.store

    def storage(self, local: bool | None = None) -> Storage:
        self._record("storage")
        if self.free is None:
            return Storage("/var/lib/docker", None, "the engine is not on this machine")
        return Storage("/var/lib/docker", self.free)

    def image_exists(self, ref: str) -> bool:
        self._record("image_exists", ref)
        if is_base_tag(ref):
            return self.exists
        return self.broken != "images"

    def image_labels(self, ref: str) -> dict[str, str] | None:
        self._record("image_labels", ref)
        if is_base_tag(ref):
            return base_labels(ref, self.base_label) if self.exists else None
        return {} if self.broken != "images" else None

    def diff_ids(self, ref: str) -> list[str]:
        self._record("diff_ids", ref)
        return ["sha256:l1"]

    def image_layers(self, ref: str) -> list[Layer]:
        self._record("image_layers", ref)
        base = [Layer("sha256:l1", "FROM python", 100)]
        if ref == APP_ID:
            return [*base, Layer("sha256:l2", "RUN uv sync", 7)]
        return base

    def tag(self, source: str, target: str) -> None:
        self._record("tag", source, target)

    def save_image(self, refs: Sequence[str], dest: str) -> None:
        self._record("save_image", tuple(refs), dest)

    def remove_image(self, ref: str) -> None:
        self._record("remove_image", ref)

    # -- builds and bake --------------------------------------------------------------------

    def build(
        self, request: BuildRequest, on_line: LineSink, step: str, terminal: int | None = None
    ) -> None:
        """Prints ``output`` (the app) or one line (the base), can be told to fail or be
        interrupted, and writes the iidfile."""
        stage = {BASE_STAGE: "base", LIGHT_WARM_STAGE: "light"}.get(request.target, "app")
        self._record("build", stage)
        self.builds.append(request)
        lines = {"app": self.output, "base": self.base_output}.get(stage, ())
        for line in lines:
            on_line(line)
        if self.interrupt == stage:
            raise Interrupted("interrupted by SIGTERM", 15)
        if self.fail == stage:
            raise BuildFailed(f"{step} failed: ERROR: failed to solve")
        if request.iidfile:
            Path(request.iidfile).write_text(BASE_ID if stage == "base" else APP_ID)

    def builder_platforms(self) -> tuple[str, ...]:
        self._record("builder_platforms")
        return self.platforms

    def bake_print(self, bake_file: Path, targets: Sequence[str] = ()) -> dict[str, object]:
        self._record("bake_print", tuple(targets))
        return json.loads(bake_file.read_text())

    def bake_keeps(self, attribute: str, value: object, workdir: Path) -> bool:
        self._record("bake_keeps", attribute, value)
        return attribute not in self.bake_drops

    # -- gc ---------------------------------------------------------------------------------

    def images(self, filters: Sequence[str] = ()) -> list[ImageInfo]:
        self._record("images", tuple(filters))
        return []

    def inspect_images(self, refs: Sequence[str]) -> list[ImageInfo]:
        self._record("inspect_images", tuple(refs))
        return []

    def containers_using(self, image_id: str) -> list[str]:
        self._record("containers_using", image_id)
        return []

    def untag(self, ref: str) -> bool:
        self._record("untag", ref)
        return True

    def cache_records(self) -> list[CacheRecord]:
        self._record("cache_records")
        return []

    def prune_record(self, record_id: str) -> bool:
        self._record("prune_record", record_id)
        return True

    def data_root_bytes(self) -> int | None:
        self._record("data_root_bytes")
        return 10**9

    # -- helpers for the assertions -----------------------------------------------------------

    def named(self, name: str) -> list[tuple]:
        return [call for call in self.calls if call[0] == name]

    def stage(self, stage: str) -> BuildRequest:
        (request,) = [r for r in self.builds if (r.target == BASE_STAGE) == (stage == "base")]
        return request


class FakeReport:
    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    def _add(kind):
        def add(self, message: str) -> None:
            self.messages.append((kind, message))

        return add

    step = _add("step")
    info = _add("info")
    warn = _add("warn")
    detail = _add("detail")
    stream = _add("stream")

    def of(self, kind: str) -> list[str]:
        return [m for k, m in self.messages if k == kind]


def recording_docker(tmp_path: Path, monkeypatch, script: str, **env: str) -> Path:
    """:func:`docker_on_path` for a stand-in that appends each command line it gets to
    ``$CALLS``; ``env`` sets the other variables it reads. Returns the calls file."""
    docker_on_path(tmp_path, monkeypatch, script)
    calls = tmp_path / "calls"
    monkeypatch.setenv("CALLS", str(calls))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return calls


def docker_on_path(tmp_path: Path, monkeypatch, script: str) -> Path:
    """Put ``script`` first on PATH as ``docker`` (a stand-in the real engine code runs);
    returns the script's path."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(script)
    docker.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return docker
