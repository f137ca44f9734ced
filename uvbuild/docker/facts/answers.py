"""The answers of the engine's read-only commands, read: ``buildx inspect`` (a builder),
``image inspect`` (labels, layers, digests), ``imagetools inspect`` (a registry's
manifest), ``buildx du`` (cache records) and ``image history`` (the layers' steps)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from uvbuild.docker.facts.refs import familiar_repo
from uvbuild.docker.facts.values import BuilderInfo, CacheRecord, Layer, sorted_labels


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


# `docker image inspect --format`: the image ID and the digests of the registries it came
# from, in one line of JSON (read by local_digest).
LOCAL_DIGEST_FORMAT = '{"id":{{json .Id}},"repo-digests":{{json .RepoDigests}}}'


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
