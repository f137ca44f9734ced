"""What digest names an image a build starts from: the engine's image (one ``docker image
inspect`` for all the images asked) or the registry's manifest, in the order the builder
reads them."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from uvbuild.docker.commands.base import REGISTRY_TIMEOUT, DockerCommands
from uvbuild.docker.facts.answers import LOCAL_DIGEST_FORMAT, local_digest, manifest_digest
from uvbuild.docker.facts.faults import (
    FIX_ENGINE,
    engine_down,
    no_such_image,
    registry_denied,
    registry_not_found,
    text_tail,
)
from uvbuild.docker.facts.refs import registry_host
from uvbuild.errors import ConfigError, EngineUnavailable


class DigestCommands(DockerCommands):
    """``image_digest`` and ``image_digests``: the engine asked first, or the registry
    with ``pull``."""

    def image_digest(self, ref: str, *, pull: bool = False) -> str | None:
        """The digest of the image ``ref`` names, as a build that starts from it would
        find it, or None when neither the engine nor the registry has it (a registry that
        denies access to the name counts as not having it: Docker Hub answers so for a
        repository that does not exist).

        Without ``pull``: the engine's image when it has one (BuildKit's docker driver reads
        the engine's image store, see :func:`~uvbuild.docker.facts.answers.local_digest`), else the
        registry's manifest digest. With ``pull`` (``docker build --pull``, or a builder
        that does not read the engine's store): the registry first, the engine's image
        when the registry does not hold the tag. No engine at the endpoint, or a registry
        out of reach, raises EngineUnavailable; a malformed ``ref`` raises ConfigError."""
        if not pull:
            found = self._engine_digest(ref)
            return found if found is not None else self._registry_digest(ref, pull)
        found = self._registry_digest(ref, pull)
        return found if found is not None else self._engine_digest(ref)

    def image_digests(self, refs: Sequence[str], *, pull: bool = False) -> dict[str, str | None]:
        """``image_digest`` of each of ``refs``, the engine asked once for all of them (one
        ``docker image inspect A B ...``); the registry is asked, one by one, only for those
        the engine does not have (first, with ``pull``)."""
        wanted = list(dict.fromkeys(refs))
        if pull:
            return {ref: self.image_digest(ref, pull=True) for ref in wanted}
        found = self._engine_digests(wanted)
        return {
            ref: digest if digest is not None else self._registry_digest(ref, pull)
            for ref, digest in found.items()
        }

    def _engine_digests(self, refs: list[str]) -> dict[str, str | None]:
        """One inspect for all of ``refs``: docker prints one line per image, in the order
        asked. Should any be missing (or the answer not read), each is asked on its own,
        which says which one and why."""
        if len(refs) > 1:
            proc = self._run(["image", "inspect", "--format", LOCAL_DIGEST_FORMAT, *refs], 60)
            lines = [line for line in proc.stdout.splitlines() if line.strip()]
            if proc.returncode == 0 and len(lines) == len(refs):
                with contextlib.suppress(ValueError, KeyError, IndexError, TypeError):
                    pairs = zip(refs, lines, strict=True)
                    return {ref: local_digest(ref, line) for ref, line in pairs}
        return {ref: self._engine_digest(ref) for ref in refs}

    def _engine_digest(self, ref: str) -> str | None:
        proc = self._run(["image", "inspect", "--format", LOCAL_DIGEST_FORMAT, ref], 60)
        if proc.returncode != 0:
            if no_such_image(proc.stderr):
                return None
            if "invalid reference format" in proc.stderr:
                raise ConfigError(f"{ref!r} is not a valid image reference")
            tail = text_tail(proc.stderr, "no answer")
            if engine_down(proc.stderr):
                raise EngineUnavailable(
                    f"no Docker engine answers at {self._where()} ({tail}); {FIX_ENGINE}"
                )
            raise EngineUnavailable(f"docker could not inspect image {ref} ({tail})")
        try:
            return local_digest(ref, proc.stdout)
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise EngineUnavailable(f"cannot read the image ID of {ref} ({exc})") from exc

    def _registry_digest(self, ref: str, pull: bool) -> str | None:
        args = ["buildx", "imagetools", "inspect", "--format", "{{json .Manifest}}", ref]
        proc = self._run(args, REGISTRY_TIMEOUT)
        if proc.returncode != 0:
            if registry_not_found(proc.stderr) or registry_denied(proc.stderr):
                return None
            if "invalid reference format" in proc.stderr:
                raise ConfigError(f"{ref!r} is not a valid image reference")
            host = registry_host(ref)
            where = (
                "asked because of --pull, or a builder that cannot read the engine's images"
                if pull
                else "the engine has no such image"
            )
            raise EngineUnavailable(
                f"the registry {host} did not answer about image {ref} ({where}): "
                f"{text_tail(proc.stderr, 'no answer')}; check the network"
            )
        try:
            return manifest_digest(proc.stdout)
        except (ValueError, KeyError, TypeError) as exc:
            raise EngineUnavailable(f"cannot read the digest of {ref} ({exc})") from exc
