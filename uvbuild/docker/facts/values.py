"""The engine's answers as plain values: builders, images, layers, storage, cache records,
probes; the flow, ``doctor``, ``gc`` and the tests pass them around without loading the
Docker client."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

LineSink = Callable[[str], None]


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


@dataclass(frozen=True, slots=True)
class Probe:
    """The outcome of a probe: ``ok`` and one line saying what was seen."""

    ok: bool
    detail: str


def sorted_labels(labels: object) -> tuple[tuple[str, str], ...]:
    """An image config's ``Labels`` (a mapping, or null) as sorted pairs."""
    if not isinstance(labels, dict):
        return ()
    return tuple(sorted((str(k), str(v)) for k, v in labels.items()))


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
