"""The verbs on a registry: a base as it holds it (read without pulling), the blobs it
lacks, pushing the base, a multi-platform manifest list."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

from uvbuild.docker.commands.base import REGISTRY_TIMEOUT, DockerCommands
from uvbuild.docker.facts.answers import platform_entry
from uvbuild.docker.facts.faults import push_failed, registry_error, registry_not_found, text_tail
from uvbuild.docker.facts.refs import repo_of
from uvbuild.docker.facts.values import BlobCheck, LineSink, RegistryImage, sorted_labels
from uvbuild.errors import BuildFailed, EngineUnavailable


class RegistryCommands(DockerCommands):
    """``docker buildx imagetools`` and ``docker push``, each with a timeout or streamed."""

    def registry_image(self, ref: str, platform: str | None = None) -> RegistryImage | None:
        """``ref`` as its registry holds it (digest, diff ids, size and the labels of its
        config), or None when the registry has no such tag; nothing is pulled (``docker
        buildx imagetools inspect``, run with a timeout because python-on-whales'
        ``buildx.imagetools.inspect`` has none). A registry that cannot be reached or
        refuses the credentials raises EngineUnavailable."""
        proc = self._run(
            ["buildx", "imagetools", "inspect", "--format", "{{json .}}", ref], REGISTRY_TIMEOUT
        )
        if proc.returncode != 0:
            if registry_not_found(proc.stderr):
                return None
            raise EngineUnavailable(registry_error(ref, proc.stderr))
        try:
            found = json.loads(proc.stdout)
            digest = str(found["manifest"]["digest"])
            image = found["image"]
            if "rootfs" not in image:  # an index: one config per platform
                image = image.get(platform) or next(iter(image.values()))
            diff_ids = tuple(str(d) for d in image["rootfs"]["diff_ids"])
            labels = sorted_labels((image.get("config") or {}).get("Labels"))
            manifest = self._raw_manifest(ref)
            if manifest.get("manifests"):  # an index: the platform's own manifest
                digest = str(platform_entry(manifest["manifests"], platform)["digest"])
                manifest = self._raw_manifest(f"{repo_of(ref)}@{digest}")
            layers = manifest.get("layers", [])
            layer_bytes = sum(int(layer.get("size") or 0) for layer in layers)
            config = manifest.get("config") or {}
            named = [config, *layers]
            blobs = tuple(str(blob["digest"]) for blob in named if blob.get("digest"))
        except (ValueError, KeyError, TypeError, StopIteration, AttributeError) as exc:
            raise EngineUnavailable(f"cannot read {ref} from its registry ({exc!r})") from exc
        return RegistryImage(ref, digest, diff_ids, layer_bytes, labels, blobs)

    def missing_blobs(self, image: RegistryImage) -> BlobCheck:
        """Which blobs of ``image``'s manifest its registry no longer holds: a ``HEAD``
        request per blob (:mod:`uvbuild.docker.registry_api`; nothing is downloaded), with
        docker's credentials for that registry."""
        # imported here: urllib.request brings http.client, ssl and email (~17 ms), which
        # only a base found in a registry needs, not every build's start
        from uvbuild.docker import registry_api

        return registry_api.missing_blobs(image.ref, image.blobs, os.environ, self._trace)

    def _raw_manifest(self, ref: str) -> dict:
        proc = self._run(["buildx", "imagetools", "inspect", "--raw", ref], REGISTRY_TIMEOUT)
        if proc.returncode != 0:
            raise EngineUnavailable(registry_error(ref, proc.stderr))
        return dict(json.loads(proc.stdout))

    def push_image(self, ref: str, on_line: LineSink) -> None:
        """``docker push ref``, streaming its output, in its own process group as builds
        are (an interrupt stops it before the registry gets the manifest, which a push
        uploads last). A refused or failed push raises BuildFailed."""
        code, tail = self._stream([*self.docker_cmd, "push", ref], on_line)
        if code != 0:
            raise BuildFailed(push_failed(ref, text_tail(chr(10).join(tail), f"exit {code}")))

    def imagetools_create(self, tags: Sequence[str], sources: Sequence[str]) -> None:
        """One manifest list under ``tags`` from per-platform images already pushed."""
        args = ["buildx", "imagetools", "create"]
        if self.builder:
            args += ["--builder", self.builder]
        for tag in tags:
            args += ["--tag", tag]
        proc = self._run([*args, *sources], REGISTRY_TIMEOUT)
        if proc.returncode != 0:
            raise BuildFailed(
                "creating the multi-platform image failed: "
                + text_tail(proc.stderr, "imagetools create failed")
            )
