"""The engine's verbs that are docker commands run through the one runner.

python-on-whales has no verb for these (``imagetools inspect --raw``, ``buildx du``, ``bake
--print``, ``image history``...), or its verb has no timeout (a registry that does not
answer must not hang uvbuild), or it returns only when the command ends (a build's output
must show as it comes, and an interrupt must stop the solve). :class:`EngineCommands` is
the half of ``Engine`` that needs no Docker client: it runs ``docker_cmd`` + arguments.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import subprocess
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from uvbuild.docker import process, registry_api
from uvbuild.docker.facts.answers import (
    LABELS_AND_LAYERS_FORMAT,
    LOCAL_DIGEST_FORMAT,
    local_digest,
    manifest_digest,
    parse_du,
    parse_history,
    parse_labels_and_layers,
    platform_entry,
)
from uvbuild.docker.facts.build_output import disk_full, failing_step, last_line
from uvbuild.docker.facts.faults import (
    FIX_BUILDER,
    FIX_BUILDX,
    FIX_CLI,
    FIX_DISK,
    FIX_ENGINE,
    engine_down,
    invalid_reference,
    no_such_image,
    push_failed,
    registry_denied,
    registry_error,
    registry_not_found,
    text_tail,
)
from uvbuild.docker.facts.refs import registry_host, repo_of
from uvbuild.docker.facts.values import (
    BlobCheck,
    CacheRecord,
    ImageInfo,
    LineSink,
    Probe,
    RegistryImage,
    Storage,
    sorted_labels,
)
from uvbuild.docker.requests import BuildRequest, build_args
from uvbuild.errors import BuildFailed, ConfigError, EngineUnavailable

PROBE_TIMEOUT = 120.0


REGISTRY_TIMEOUT = 60.0


_PROBE_DOCKERFILE = (
    "# uvbuild doctor: named build contexts and COPY --link, no image pulled\n"
    "FROM scratch\n"
    "COPY --link --from=probe /probe.txt /probe.txt\n"
)


class EngineCommands:
    """Verbs carried out as docker commands; ``Engine`` supplies the docker command prefix,
    the builder and the logging sinks."""

    builder: str | None
    _log: LineSink
    _trace: LineSink | None
    # ref -> diff ids, as image_labels read them this run; dropped when uvbuild moves the tag
    _seen_layers: dict[str, tuple[str, ...]]

    @property
    def docker_cmd(self) -> list[str]:
        raise NotImplementedError

    def image_exists(self, ref: str) -> bool:
        raise NotImplementedError

    def remove_image(self, ref: str) -> None:
        raise NotImplementedError

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

    def _run(
        self, args: Sequence[str], timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        """A short docker command with a timeout (python-on-whales' runner has none, and
        a registry that does not answer must not hang uvbuild)."""
        command = [*self.docker_cmd, *args]
        if self._trace is not None:
            self._trace(f"$ {shlex.join(command)}")
        try:
            return process.run(command, timeout)
        except OSError as exc:
            raise EngineUnavailable(f"cannot run {command[0]}: {exc}; {FIX_CLI}") from exc

    def cli_version(self) -> str:
        """``Docker version 28.2.2, build e6534b4``."""
        proc = self._run(["--version"], timeout=30)
        return proc.stdout.strip() or text_tail(proc.stderr, "unknown version")

    def _where(self) -> str:
        if os.environ.get("DOCKER_HOST"):
            return f"DOCKER_HOST={os.environ['DOCKER_HOST']}"
        context = os.environ.get("DOCKER_CONTEXT")
        endpoint = self._endpoint()
        name = f"context {context}" if context else "the current context"
        return f"{name} ({endpoint})" if endpoint else name

    def _endpoint(self) -> str | None:
        """The docker endpoint of the current context (DOCKER_HOST wins), read offline."""
        if os.environ.get("DOCKER_HOST"):
            return os.environ["DOCKER_HOST"]
        proc = self._run(["context", "inspect", "--format", "{{json .Endpoints.docker.Host}}"], 30)
        if proc.returncode != 0:
            return None
        try:
            return str(json.loads(proc.stdout.strip().splitlines()[0]))
        except (ValueError, IndexError):
            return None

    def probe_frontend(self, workdir: Path) -> Probe:
        """Build a two-line Dockerfile that needs a named build context and ``COPY --link``
        with the selected builder's Dockerfile frontend; nothing is pulled or kept."""
        work = self._probe_dir(workdir)
        proc = self._run(
            build_args(self._probe_request(work, outputs=("type=cacheonly",))), PROBE_TIMEOUT
        )
        if proc.returncode == 0:
            return Probe(True, "a probe build with --build-context and COPY --link worked")
        lines = proc.stderr.splitlines()
        return Probe(False, failing_step(lines) or text_tail(proc.stderr, "probe build failed"))

    def probe_push(self, repo: str, workdir: Path) -> Probe:
        """Push a one-layer, few-byte image to ``<repo>:uvbuild-doctor`` (the registry
        sees a real push with the user's credentials), then drop the local tag."""
        work = self._probe_dir(workdir)
        ref = f"{repo}:uvbuild-doctor"
        proc = self._run(
            build_args(self._probe_request(work, tags=(ref,), push=True)), REGISTRY_TIMEOUT
        )
        self.remove_image(ref)
        if proc.returncode == 0:
            return Probe(True, f"pushed a probe image to {ref}")
        return Probe(False, text_tail(proc.stderr, f"push to {ref} failed"))

    def _probe_request(self, work: Path, **flags: Any) -> BuildRequest:
        """The probe build of ``_probe_dir``'s files with the selected builder."""
        return BuildRequest(
            context=str(work / "context"),
            file=str(work / "Dockerfile"),
            build_contexts=(("probe", str(work / "probe")),),
            builder=self.builder,
            progress="plain",
            **flags,
        )

    @staticmethod
    def _probe_dir(workdir: Path) -> Path:
        work = workdir / f"probe-{uuid.uuid4().hex[:8]}"
        (work / "context").mkdir(parents=True)
        (work / "probe").mkdir()
        # Unique content: two doctors at once never share (and remove) one probe image.
        (work / "probe" / "probe.txt").write_text(f"uvbuild doctor {uuid.uuid4().hex}\n")
        (work / "Dockerfile").write_text(_PROBE_DOCKERFILE)
        return work

    def resolve_image(self, ref: str) -> Probe:
        """Whether ``ref`` is in the engine or, failing that, in its registry."""
        if self.image_exists(ref):
            return Probe(True, f"{ref} is in the engine")
        proc = self._run(["buildx", "imagetools", "inspect", ref], REGISTRY_TIMEOUT)
        if proc.returncode == 0:
            return Probe(True, f"{ref} is in its registry (pulled at the first build)")
        return Probe(False, f"{ref}: {text_tail(proc.stderr, 'not found')}")

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

    def containerd_store(self) -> bool:
        """Whether the engine keeps images in the containerd image store, which lets the
        docker driver keep attestations and export OCI/docker tars (``docker info``)."""
        proc = self._run(["info", "--format", "{{json .DriverStatus}}"], 60)
        return proc.returncode == 0 and "io.containerd.snapshotter" in proc.stdout

    def storage(self, local: bool | None = None) -> Storage:
        """Free space where the engine keeps images, measured when the engine runs on
        this machine (a unix socket and its data root visible here)."""
        proc = self._run(["info", "--format", "{{json .DockerRootDir}}"], 60)
        if proc.returncode != 0:
            return Storage(None, None, text_tail(proc.stderr, "docker info failed"))
        try:
            root = str(json.loads(proc.stdout.strip().splitlines()[0]))
        except (ValueError, IndexError):
            return Storage(None, None, "docker info did not give the data root")
        if local is None:
            endpoint = self._endpoint()
            local = bool(endpoint) and str(endpoint).startswith("unix://")
        if not local:
            return Storage(root, None, "the engine is not on this machine")
        path = Path(root)
        while not path.exists() and path != path.parent:
            path = path.parent
        if path != Path(root):
            return Storage(root, None, f"{root} is not visible on this machine")
        try:
            stats = os.statvfs(path)
        except OSError as exc:
            return Storage(root, None, f"cannot measure {root}: {exc.strerror}")
        return Storage(root, stats.f_bavail * stats.f_frsize)

    def _history(self, ref: str) -> list[tuple[int, str]]:
        """``docker history`` newest first, as (bytes, created by); python-on-whales has
        no parsed form of it yet, so it goes through the runner."""
        args = ["image", "history", "--human=false", "--no-trunc", "--format", "{{json .}}"]
        proc = self._run([*args, ref], 120)
        if proc.returncode != 0:
            raise BuildFailed(f"docker image history {ref} failed ({text_tail(proc.stderr, '?')})")
        return parse_history(proc.stdout)

    def save_image(self, refs: Sequence[str], dest: str) -> None:
        """``docker save -o DEST REFS``: the tar ``-o type=docker,dest=DEST`` writes, for the
        docker driver, which has no docker exporter."""
        proc = self._run(["save", "-o", dest, *refs])
        if proc.returncode != 0:
            raise BuildFailed(
                f"docker save -o {dest} failed ({text_tail(proc.stderr, 'no output')}); "
                "check that the directory exists and has room"
            )

    def _stream(
        self,
        command: list[str],
        on_line: LineSink,
        env: dict[str, str] | None = None,
        terminal: int | None = None,
    ) -> tuple[int, list[str]]:
        """A long docker command through the runner's ``stream`` (its own process group,
        interrupts forwarded); python-on-whales' build returns only when buildx exits, and
        uvbuild must stop the solve on an interrupt and show the output as it comes."""
        (self._trace or self._log)(f"$ {shlex.join(command)}")
        try:
            return process.stream(command, on_line, env, terminal)
        except OSError as exc:
            raise EngineUnavailable(f"cannot run {command[0]}: {exc}; {FIX_CLI}") from exc

    def build(
        self, request: BuildRequest, on_line: LineSink, step: str, terminal: int | None = None
    ) -> None:
        """Run one build, streaming its output; failure raises BuildFailed naming the step.
        With ``terminal`` (a TTY's file descriptor) buildx draws on that TTY itself (see
        ``_stream``); ``--progress auto`` then gives BuildKit's compact TTY view.

        The child runs in its own process group. When uvbuild is interrupted (SIGINT,
        SIGTERM, or any error while streaming), the same signal goes to that group, which
        makes buildx cancel the solve; uvbuild waits for the group to be gone (killing it
        after STOP_GRACE_SECONDS) and re-raises, so nothing after the build (the base tag)
        happens.
        """
        for tag in request.tags:  # the build moves these tags
            self._seen_layers.pop(tag, None)
        env = {**os.environ, **dict(request.extra_env)} if request.extra_env else None
        command = [*self.docker_cmd, *build_args(request)]
        code, tail = self._stream(command, on_line, env, terminal)
        if code != 0:
            if any("booting buildkit" in line for line in tail):
                name = self.builder or "the current builder"
                raise EngineUnavailable(
                    f"buildx builder {name!r} could not start "
                    f"({failing_step(tail) or last_line(tail, code)}); {FIX_BUILDER}"
                )
            full = disk_full(tail)
            if full:
                raise BuildFailed(f"{step} failed: the engine's disk is full ({full}); {FIX_DISK}")
            raise BuildFailed(f"{step} failed: {failing_step(tail) or last_line(tail, code)}")

    def bake_print(self, bake_file: Path, targets: Sequence[str] = ()) -> dict[str, object]:
        """``docker buildx bake --print``: the bake file as buildx resolves it, unbuilt."""
        args = ["buildx", "bake", "--print", "-f", str(bake_file), *targets]
        if self.builder:
            args[2:2] = ["--builder", self.builder]
        proc = self._run(args, PROBE_TIMEOUT)
        if proc.returncode != 0:
            raise EngineUnavailable(
                f"docker buildx bake --print failed ({text_tail(proc.stderr, 'no output')}); "
                f"{FIX_BUILDX}"
            )
        try:
            return dict(json.loads(proc.stdout))
        except ValueError as exc:
            raise EngineUnavailable(f"docker buildx bake --print gave no JSON ({exc})") from exc

    def bake_keeps(self, attribute: str, value: object, workdir: Path) -> bool:
        """Whether this buildx keeps a target attribute of a bake file (buildx 0.13 drops
        ``network`` and ``extra-hosts`` without a word): probed with ``bake --print``."""
        probe = workdir / f"bake-probe-{uuid.uuid4().hex[:8]}.json"
        target = {"context": str(workdir), "dockerfile-inline": "FROM scratch\n", attribute: value}
        probe.write_text(json.dumps({"target": {"probe": target}}))
        try:
            printed = self.bake_print(probe, ["probe"])
        finally:
            probe.unlink(missing_ok=True)
        targets = printed.get("target")
        resolved = targets.get("probe", {}) if isinstance(targets, dict) else {}
        return isinstance(resolved, dict) and attribute in resolved

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

    def cache_records(self) -> list[CacheRecord]:
        """BuildKit's cache records (``docker buildx du --verbose``)."""
        args = ["buildx", "du", "--verbose"]
        if self.builder:
            args += ["--builder", self.builder]
        proc = self._run(args, 300)
        if proc.returncode != 0:
            raise EngineUnavailable(f"docker buildx du failed ({text_tail(proc.stderr, '?')})")
        return parse_du(proc.stdout)

    def prune_record(self, record_id: str) -> bool:
        """Remove one unused cache record by id; False when BuildKit kept it (a record
        with children or in use is not pruned)."""
        args = ["buildx", "prune", "--force", "--filter", f"id={record_id}"]
        if self.builder:
            args += ["--builder", self.builder]
        proc = self._run(args, 300)
        return proc.returncode == 0 and record_id in proc.stdout

    def data_root_bytes(self) -> int | None:
        """``du -sb`` of the engine's data root, when the engine is on this machine and
        the root readable; None otherwise."""
        storage = self.storage()
        if storage.free is None or storage.root is None:
            storage = self.storage()  # a slow `docker context inspect` gives no answer once
        if storage.free is None or storage.root is None:
            return None
        try:
            proc = process.run(["du", "-sb", storage.root], 600)
        except OSError:
            return None
        first = proc.stdout.split()
        return int(first[0]) if first and first[0].isdigit() else None
