"""The verbs on the engine's images: their labels (and layers) in one inspect, the images
of a filter, the containers that use one, untagging, saving to a tar."""

from __future__ import annotations

import json
from collections.abc import Sequence

from uvbuild.docker.commands.base import DockerCommands
from uvbuild.docker.facts.answers import LABELS_AND_LAYERS_FORMAT, parse_labels_and_layers
from uvbuild.docker.facts.faults import (
    FIX_ENGINE,
    engine_down,
    invalid_reference,
    no_such_image,
    text_tail,
)
from uvbuild.docker.facts.values import ImageInfo
from uvbuild.errors import BuildFailed, ConfigError, EngineUnavailable


class ImageCommands(DockerCommands):
    """``docker image`` commands: inspect, ls, rm, save; ``docker ps``."""

    def image_labels(self, ref: str) -> dict[str, str] | None:
        """The labels of image ``ref`` in the engine (empty when it has none), or None when
        the engine has no such image: the existence check and the labels in one ``docker
        image inspect``, which also reads its layers for ``diff_ids`` (a base reused from
        the engine is not inspected again for the layer report)."""
        args = ["image", "inspect", "--format", LABELS_AND_LAYERS_FORMAT, ref]
        proc = self._run(args, 60)
        if proc.returncode != 0:
            if no_such_image(proc.stderr):
                return None
            if "invalid reference format" in proc.stderr:
                raise ConfigError(invalid_reference(ref))
            tail = text_tail(proc.stderr, "no answer")
            if engine_down(proc.stderr):  # as check() says it (a kept builder answer)
                raise EngineUnavailable(
                    f"no Docker engine answers at {self._where()} ({tail}); {FIX_ENGINE}"
                )
            raise EngineUnavailable(f"docker could not handle image {ref} ({tail})")
        try:
            labels, layers = parse_labels_and_layers(proc.stdout)
        except ValueError as exc:
            raise EngineUnavailable(f"cannot read the labels of {ref} ({exc})") from exc
        self._seen_layers[ref] = layers
        return labels

    def images(self, filters: Sequence[str] = ()) -> list[ImageInfo]:
        """Images (``docker image ls --filter ...``, each filter ``key=value``), inspected:
        id, tags, labels, creation and last tag time, layer diff ids."""
        args = ["image", "ls", "--no-trunc", "--quiet"]
        for item in filters:
            args += ["--filter", item]
        proc = self._run(args, 120)
        if proc.returncode != 0:
            raise EngineUnavailable(f"docker image ls failed ({text_tail(proc.stderr, '?')})")
        ids = list(dict.fromkeys(line.strip() for line in proc.stdout.splitlines() if line.strip()))
        return self.inspect_images(ids)

    def inspect_images(self, refs: Sequence[str]) -> list[ImageInfo]:
        if not refs:
            return []
        proc = self._run(["image", "inspect", "--format", "{{json .}}", *refs], 120)
        infos = []
        for line in proc.stdout.splitlines():
            if line.strip():
                infos.append(ImageInfo.from_inspect(json.loads(line)))
        return infos

    def containers_using(self, image_id: str) -> list[str]:
        """Names of containers, running or not, made from the image or an image built on it."""
        ancestor = f"ancestor={image_id}"
        proc = self._run(["ps", "-a", "--filter", ancestor, "--format", "{{.Names}}"], 60)
        if proc.returncode != 0:
            raise EngineUnavailable(f"docker ps failed ({text_tail(proc.stderr, '?')})")
        return [line.strip() for line in proc.stdout.splitlines() if line.strip()]

    def untag(self, ref: str) -> bool:
        """``docker image rm ref`` (no force): drops the tag, and the image with its last
        tag; False when docker refused (a container uses it)."""
        self._seen_layers.pop(ref, None)
        return self._run(["image", "rm", ref], 300).returncode == 0

    def save_image(self, refs: Sequence[str], dest: str) -> None:
        """``docker save -o DEST REFS``: the tar ``-o type=docker,dest=DEST`` writes, for the
        docker driver, which has no docker exporter."""
        proc = self._run(["save", "-o", dest, *refs])
        if proc.returncode != 0:
            raise BuildFailed(
                f"docker save -o {dest} failed ({text_tail(proc.stderr, 'no output')}); "
                "check that the directory exists and has room"
            )
