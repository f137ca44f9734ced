"""What the engine says, as plain values, and the parsers that read its output.

Nothing here imports python-on-whales or runs a process: the value types travel through
the flow, the CLI and the tests without loading the Docker client. The ``FIX_*`` texts are
the one next step per fault, shared by every command's error line and by ``uvbuild doctor``.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

LineSink = Callable[[str], None]


# One fix per fault, shared by every command's error line and by `uvbuild doctor`.
FIX_CLI = (
    "install Docker Engine with the buildx plugin (https://docs.docker.com/engine/install/) "
    "or put `docker` on PATH"
)


FIX_ENGINE = (
    "start the engine (`sudo systemctl start docker`, or `dockerd`), or point DOCKER_HOST "
    "or `docker context use` at a running one"
)


FIX_BUILDX = (
    "install the buildx plugin (package docker-buildx-plugin or docker-buildx) into "
    "~/.docker/cli-plugins or /usr/local/lib/docker/cli-plugins"
)


FIX_BUILDER = (
    "list builders with `docker buildx ls`, then pass --builder with one of them "
    "(or drop --builder and BUILDX_BUILDER to use the current one)"
)


FIX_DRIVER = (
    "use a builder with the docker driver (`--builder default`), which builds straight "
    "into the engine's image store"
)


FIX_REGISTRY = (
    "start the registry or correct --base-repo (tool.uvbuild.base-repo); "
    "run `docker login <registry>` when it needs credentials"
)


FIX_DISK = (
    "free space with `uvbuild gc` (this project's old bases and their build cache) or "
    "`docker builder prune` (all unused build cache), then run the build again"
)


FIX_PUSH = "Check write access (`docker login <registry>`) and --base-repo (tool.uvbuild.base-repo)"


FIX_BROKEN_PUSH = (
    "The base is complete in the engine: run again with --push-base and it is pushed "
    "without being built again (the blobs the registry got are not sent twice)"
)


@dataclass(frozen=True, slots=True)
class Layer:
    """A layer of an image: its diff id, the history step that made it, and its size."""

    diff_id: str
    created_by: str
    size: int


@dataclass(frozen=True, slots=True)
class BuilderInfo:
    name: str
    driver: str
    buildkit: str | None
    running: bool = True


def builder_running(driver: str, statuses: Sequence[str]) -> bool:
    """Whether a builder can build now: `buildx inspect` exits 0 even when the engine is
    down (then no node runs); a docker-container (or kubernetes) builder is "inactive"
    until a build boots it."""
    return bool(driver) and any(
        status == "running" or (status == "inactive" and driver != "docker") for status in statuses
    )


def parse_builder(text: str) -> tuple[BuilderInfo, tuple[str, ...]] | None:
    """``docker buildx inspect [NAME]`` (text: buildx has no JSON form of it) -> the
    builder and the platforms its nodes build, each once; None when the text does not
    read as a builder (the caller then asks another way).

    The builder's ``Name:`` and ``Driver:`` come before ``Nodes:``; each node's ``Name:``
    starts it, with its ``Status:``, ``BuildKit version:`` (``Buildkit:`` before buildx
    0.11) and ``Platforms:``. Indented lines (labels, GC policies) are skipped."""
    top: dict[str, str] = {}
    nodes: list[dict[str, str]] = []
    for line in text.splitlines():
        if not line.strip() or line[0].isspace():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip().lower(), value.strip()
        if key == "nodes" and not value:
            nodes.append({})
            continue
        if not nodes:
            top.setdefault(key, value)
        elif key == "name" and "name" in nodes[-1]:
            nodes.append({key: value})
        else:
            nodes[-1].setdefault(key, value)
    name, driver = top.get("name"), top.get("driver")
    if not name or not driver:
        return None
    nodes = [node for node in nodes if node]
    statuses = [node.get("status", "") for node in nodes]
    version = next(
        (v for node in nodes for v in (node.get("buildkit version"), node.get("buildkit")) if v),
        None,
    )
    platforms: dict[str, None] = {}
    for node in nodes:
        for item in node.get("platforms", "").split(","):
            if item.strip():
                platforms[item.strip()] = None
    info = BuilderInfo(name, driver, version, builder_running(driver, statuses))
    return info, tuple(platforms)


@dataclass(frozen=True, slots=True)
class EngineInfo:
    """The engine answering: its version and where it was reached."""

    version: str
    where: str  # "context default (unix:///var/run/docker.sock)" or "DOCKER_HOST=..."
    local: bool  # reached over a unix socket on this machine


@dataclass(frozen=True, slots=True)
class Storage:
    """The engine's storage: its data root and the free bytes there, when measurable."""

    root: str | None
    free: int | None
    reason: str = ""  # why ``free`` is None


@dataclass(frozen=True, slots=True)
class RegistryImage:
    """A base image as its registry holds it (read without pulling)."""

    ref: str
    digest: str  # the manifest's digest
    diff_ids: tuple[str, ...]  # layers, oldest first
    layer_bytes: int  # the compressed layers: at most what a pull downloads
    labels: tuple[tuple[str, str], ...] = ()  # the image config's labels, sorted
    blobs: tuple[str, ...] = ()  # the digests its manifest names: the config's, then the layers'

    def label(self, name: str) -> str | None:
        return dict(self.labels).get(name)


@dataclass(frozen=True, slots=True)
class BlobCheck:
    """Whether a registry still holds every blob of an image's manifest: the ones it
    lacks, or, when it could not be asked (``checked`` False), why."""

    missing: tuple[str, ...] = ()
    checked: bool = True
    reason: str = ""


def push_failed(ref: str, tail: str) -> str:
    """The one line for a ``docker push`` of the base that failed: refused (credentials,
    permissions), or broken off by the registry or the network half-way."""
    lowered = tail.lower()
    refused = any(
        word in lowered
        for word in ("denied", "unauthorized", "authentication required", "forbidden", "403")
    )
    fix = FIX_PUSH if refused else FIX_BROKEN_PUSH
    what = "refused" if refused else "broke off"
    return (
        f"pushing {ref} failed ({what}: {tail}); the registry did not get its manifest, so "
        f"no tag was made or moved. {fix}"
    )


@dataclass(frozen=True, slots=True)
class Probe:
    """The outcome of a probe: ``ok`` and one line saying what was seen."""

    ok: bool
    detail: str


def text_tail(text: str, fallback: str) -> str:
    meaningful = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return shorten(meaningful[-1].removeprefix("ERROR: "), 200) if meaningful else fallback


def last_line(lines: Sequence[str], code: int) -> str:
    meaningful = [line.strip() for line in lines if line.strip()]
    return shorten(meaningful[-1], 200) if meaningful else f"exit {code}"


def registry_not_found(stderr: str) -> bool:
    """``imagetools inspect`` of a tag or repository the registry does not hold."""
    last = text_tail(stderr, "")
    return last.endswith(": not found") or "MANIFEST_UNKNOWN" in stderr or "NAME_UNKNOWN" in stderr


def registry_denied(stderr: str) -> bool:
    """``imagetools inspect`` of a name the registry will not show (private, or, on Docker
    Hub, a repository that does not exist)."""
    lowered = stderr.lower()
    return any(
        word in lowered
        for word in ("401 unauthorized", "insufficient_scope", "access to the resource is denied")
    )


def registry_error(ref: str, stderr: str) -> str:
    """One line for a registry that did not answer about ``ref``."""
    text = text_tail(stderr, "no answer")
    lowered = stderr.lower()
    if any(word in lowered for word in ("unauthorized", "authorization", "denied", "401")):
        what = "refused the credentials"
    else:
        what = "cannot be reached"
    host = ref.split("/", 1)[0]
    return f"the registry {host} {what} ({text}); {FIX_REGISTRY}"


def sorted_labels(labels: object) -> tuple[tuple[str, str], ...]:
    """An image config's ``Labels`` (a mapping, or null) as sorted pairs."""
    if not isinstance(labels, dict):
        return ()
    return tuple(sorted((str(k), str(v)) for k, v in labels.items()))


# `docker image inspect --format`: an image's labels and its layers' diff ids, in one line
LABELS_AND_LAYERS_FORMAT = '{"labels":{{json .Config.Labels}},"layers":{{json .RootFS.Layers}}}'


def parse_labels_and_layers(text: str) -> tuple[dict[str, str], tuple[str, ...]]:
    """``docker image inspect --format LABELS_AND_LAYERS_FORMAT`` -> the labels (none for
    ``null``) and the diff ids, oldest first."""
    found = json.loads(text.strip() or "null")
    if not isinstance(found, dict):
        raise ValueError(f"not an object: {text.strip()[:200]!r}")
    layers = tuple(str(layer) for layer in found.get("layers") or ())
    return dict(sorted_labels(found.get("labels"))), layers


def no_such_image(stderr: str) -> bool:
    """``docker image inspect`` of an image the engine does not have."""
    return "no such image" in stderr.lower()


def invalid_reference(ref: str) -> str:
    """One line for a base reference docker refuses (``invalid reference format``)."""
    return (
        f"{ref!r} is not a valid image reference; check tool.uvbuild.base-repo "
        "(--base-repo): a repository such as registry:5000/team/base, without a tag"
    )


# `docker image inspect --format`: the image ID and the digests of the registries it came
# from, in one line of JSON (read by local_digest).
LOCAL_DIGEST_FORMAT = '{"id":{{json .Id}},"repo-digests":{{json .RepoDigests}}}'

_HUB_HOSTS = ("docker.io/", "index.docker.io/", "registry-1.docker.io/")


def registry_host(ref: str) -> str:
    """The registry a reference names: ``host:5000/team/x:1`` -> ``host:5000``;
    ``python:3.11`` -> ``docker.io``."""
    first, slash, _rest = ref.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def familiar_repo(ref: str) -> str:
    """The repository of ``ref`` as docker spells it in ``RepoDigests``:
    ``docker.io/library/python:3.11`` -> ``python``."""
    repo = repo_of(ref)
    for host in _HUB_HOSTS:
        if repo.startswith(host):
            repo = repo.removeprefix(host)
            break
    if registry_host(repo) == "docker.io":
        repo = repo.removeprefix("library/")
    return repo


def local_digest(ref: str, text: str) -> str:
    """What names the engine's image of ``ref`` (``docker image inspect --format
    LOCAL_DIGEST_FORMAT``): the digest of its manifest in ``ref``'s repository when it came
    from (or went to) that registry, which is what the registry answers while the tag has
    not moved; else the image ID (the digest of its config: a local build, a re-tag)."""
    found = json.loads(text.strip().splitlines()[0])
    repo = familiar_repo(ref)
    for entry in sorted(found.get("repo-digests") or []):
        name, _, digest = str(entry).rpartition("@")
        if familiar_repo(name) == repo and digest.startswith("sha256:"):
            return digest
    image_id = str(found["id"])
    if not image_id.startswith("sha256:"):
        raise ValueError(f"no image ID in {text.strip()[:200]!r}")
    return image_id


def manifest_digest(text: str) -> str:
    """``docker buildx imagetools inspect --format '{{json .Manifest}}'`` -> the digest of
    what the tag names: the image's manifest, or the manifest list of a multi-platform
    image (one digest for every platform)."""
    digest = str(json.loads(text)["digest"])
    if not digest.startswith("sha256:"):
        raise ValueError(f"not a sha256 digest: {digest!r}")
    return digest


def engine_down(stderr: str) -> bool:
    """A docker command that found no engine at the endpoint (``Cannot connect ...``)."""
    lowered = stderr.lower()
    return (
        "cannot connect to the docker daemon" in lowered
        or "is the docker daemon running" in lowered
    )


def repo_of(ref: str) -> str:
    """``host:5000/team/base:tag`` -> ``host:5000/team/base``."""
    name = ref.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return name.rsplit(":", 1)[0] if ":" in last else name


def platform_entry(entries: Sequence[dict[str, object]], platform: str | None) -> dict:
    images = [e for e in entries if isinstance(e.get("platform"), dict)]
    for entry in images:
        plat = entry["platform"]
        assert isinstance(plat, dict)
        wanted = platform is None or f"{plat.get('os')}/{plat.get('architecture')}" == platform
        if wanted and plat.get("os") != "unknown":  # "unknown/unknown": attestations
            return dict(entry)
    raise KeyError(f"no manifest for {platform or 'any platform'}")


def makes_layer(created_by: str) -> bool:
    text = created_by.removeprefix("/bin/sh -c ").lstrip()
    return text.startswith(("RUN ", "COPY ", "ADD ", "WORKDIR ")) and "#(nop)" not in text


_FAILED_STEP = re.compile(r"^\s*> \[(?P<label>[^\]]+)\] (?P<command>.*):\s*$")


def shorten(text: str, width: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


# ENOSPC as BuildKit, the kernel and uv ("No space left on device (os error 28)") word it
_NO_SPACE = "no space left on device"
_PROGRESS_PREFIX = re.compile(r"^#\d+ \d+(\.\d+)? ")  # plain progress: "#8 0.411 cp: ..."


def disk_full(lines: Sequence[str]) -> str | None:
    """What the first line of a build's output that says the engine's disk ran out of
    space says, up to those words (its end when it is long), else None."""
    for line in lines:
        end = line.lower().find(_NO_SPACE)
        if end >= 0:
            text = _PROGRESS_PREFIX.sub("", line[: end + len(_NO_SPACE)].strip())
            text = " ".join(text.split()).removeprefix("ERROR: ")
            return text if len(text) <= 140 else "…" + text[-139:]
    return None


def failing_step(lines: Sequence[str]) -> str | None:
    """What failed, from plain progress output: BuildKit's step label (``[app 2/3] RUN
    false``), the first error line the step printed, and the solver's verdict."""
    step = error = verdict = None
    for index, line in enumerate(lines):
        text = line.strip()
        match = _FAILED_STEP.match(line)
        if match:
            step = f"[{match['label']}] {shorten(match['command'])}"
            block = itertools.takewhile(lambda x: x.strip() != "------", lines[index + 1 :])
            error = next((shorten(x.strip(": ")) for x in block if "error" in x.lower()), None)
        elif text.startswith("ERROR: failed to solve:"):
            verdict = text.removeprefix("ERROR: failed to solve:").strip()
            verdict = shorten(verdict.split("did not complete successfully: ")[-1])
    if step:
        return f"{step}: {error or verdict or 'failed'}"
    if verdict:
        return verdict
    for line in reversed(lines):
        if " ERROR:" in line or line.startswith("ERROR"):
            return shorten(line.strip())
    return None


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What ``docker image inspect`` says about one image, for ``uvbuild gc``."""

    id: str
    tags: tuple[str, ...]
    labels: tuple[tuple[str, str], ...]
    created: str
    last_tagged: str | None
    layers: tuple[str, ...]
    size: int

    @classmethod
    def from_inspect(cls, raw: dict[str, object]) -> ImageInfo:
        config = raw.get("Config") or {}
        labels = config.get("Labels") if isinstance(config, dict) else None
        rootfs = raw.get("RootFS") or {}
        metadata = raw.get("Metadata") or {}
        last = metadata.get("LastTagTime") if isinstance(metadata, dict) else None
        return cls(
            id=str(raw.get("Id", "")),
            tags=tuple(str(t) for t in raw.get("RepoTags") or ()),  # type: ignore[union-attr]
            labels=sorted_labels(labels),
            created=str(raw.get("Created") or ""),
            # docker reports a never-tagged image's LastTagTime as the zero time
            last_tagged=str(last) if last and not str(last).startswith("0001-") else None,
            layers=tuple(rootfs.get("Layers") or ()) if isinstance(rootfs, dict) else (),
            size=int(raw.get("Size") or 0),  # type: ignore[arg-type]
        )

    def label(self, name: str) -> str | None:
        return dict(self.labels).get(name)


@dataclass(frozen=True, slots=True)
class CacheRecord:
    """One record of ``docker buildx du --verbose``."""

    id: str
    parent: str | None
    description: str
    size: int
    shared: bool
    in_use: bool
    mutable: bool
    type: str


_SIZE_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}

_SIZE_UNITS.update({"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40})


def _du_size(text: str) -> int:
    match = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", text)
    if not match:
        return 0
    return round(float(match[1]) * _SIZE_UNITS.get(match[2].upper() or "B", 1))


def parse_du(text: str) -> list[CacheRecord]:
    """Records of ``docker buildx du --verbose`` output (blocks of ``Key:<tab>value``
    lines separated by blank lines; the totals block at the end has no ID)."""
    records = []
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip():
                fields.setdefault(key.strip(), value.strip())
        if "ID" not in fields:
            continue
        records.append(
            CacheRecord(
                id=fields["ID"],
                parent=fields.get("Parent") or None,
                description=fields.get("Description", ""),
                size=_du_size(fields.get("Size", "0B")),
                shared=fields.get("Shared") == "true",
                in_use=fields.get("In use") == "true",
                mutable=fields.get("Mutable") == "true",
                type=fields.get("Type", ""),
            )
        )
    return records


def parse_history(text: str) -> list[tuple[int, str]]:
    """``docker image history --format '{{json .}}'`` lines -> (bytes, created by), newest
    first."""
    steps = []
    for line in text.splitlines():
        if line.strip():
            entry = json.loads(line)
            steps.append((int(entry.get("Size") or 0), entry.get("CreatedBy") or ""))
    return steps


def pair_layers(diff_ids: Sequence[str], history: Sequence[tuple[int, str]]) -> list[Layer]:
    """Layers, oldest first, with the history step and size that made each.

    ``docker history`` (newest first) also lists steps that made no layer (ENV, LABEL...);
    those report size 0, so the steps with a size are paired with the layers from the
    newest end, which is the end a summary cares about. Unpaired layers get size -1.
    """
    oldest_first = list(reversed(history))
    # A RUN or COPY that changed nothing still makes a (zero-byte) layer.
    steps = [step for step in oldest_first if step[0] > 0 or makes_layer(step[1])]
    if len(steps) < len(diff_ids):
        steps = [step for step in oldest_first if step[0] > 0]
    layers = []
    for index, diff_id in enumerate(diff_ids):
        back = len(diff_ids) - index
        size, created_by = steps[-back] if back <= len(steps) else (-1, "")
        layers.append(Layer(diff_id, created_by, size))
    return layers


_UV_CHANGE = re.compile(r"(?:^|\s)([+-]) ([A-Za-z0-9._-]+)==(\S+)")


_STEP = re.compile(r"^#(\d+) ")
_LAYER_STEP = re.compile(r"^#(\d+) \[uvbuild-layers?-")


def outside_layer_stages(lines: Sequence[str]) -> list[str]:
    """The build log without the steps of the ``uvbuild-layer-*`` stages (BuildKit's plain
    progress names a step's stage on its first line, ``#12 [uvbuild-layer-x 3/3] RUN``,
    and prefixes its output with ``#12``): those install a layer into a venv of their own."""
    layer_steps = {m.group(1) for line in lines if (m := _LAYER_STEP.match(line))}
    return [line for line in lines if not ((m := _STEP.match(line)) and m.group(1) in layer_steps)]


def wasted_base(lines: Sequence[str], heavy: Sequence[str], venv: str) -> list[str]:
    """Warnings when the app build reinstalled heavy packages (or light-layer ones) or
    recreated the venv; the layer stages' own installs do not count."""
    heavy_names = set(heavy)
    warnings = []
    reinstalled: dict[str, str] = {}
    recreated = False
    for line in outside_layer_stages(lines):
        if "Removed virtual environment" in line or (
            "Creating virtual environment" in line and venv in line
        ):
            recreated = True
        match = _UV_CHANGE.search(line)
        if match and match.group(2).lower().replace("_", "-") in heavy_names:
            name = match.group(2).lower().replace("_", "-")
            reinstalled.setdefault(name, f"{match.group(1)} {name}=={match.group(3)}")
    if recreated:
        warnings.append(
            f"uv recreated the virtual environment {venv} after the base, so every heavy "
            "package was installed again: the base image's Python differs from the one uv "
            "picks in the app stages (check tool.uvbuild.python and .python-version)"
        )
    elif reinstalled:
        names = ", ".join(sorted(reinstalled))
        warnings.append(
            f"the app build reinstalled heavy package(s) from the base: {names}; the base "
            "holds another version or build of them than uv.lock selects for this target "
            "(check --platform, --python and the base image's glibc)"
        )
    return warnings
