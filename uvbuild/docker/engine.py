"""The only module that talks to Docker, through python-on-whales.

It exposes a few verbs (check, image_exists, image_layers, build, tag, remove, and the
probes ``uvbuild doctor`` runs) and turns DockerException into EngineUnavailable or
BuildFailed with the tail of stderr. Builds run as a child process uvbuild controls, so an
interrupt stops the build (and BuildKit's solve) before anything is tagged.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import shutil
import subprocess
import uuid
from collections.abc import Sequence
from pathlib import Path

from python_on_whales import ClientNotFoundError, DockerClient
from python_on_whales.exceptions import DockerException, NoSuchImage

from uvbuild.docker import process
from uvbuild.docker.facts import (
    FIX_BUILDER,
    FIX_BUILDX,
    FIX_CLI,
    FIX_ENGINE,
    FIX_PUSH,
    BuilderInfo,
    CacheRecord,
    EngineInfo,
    ImageInfo,
    Layer,
    LineSink,
    Probe,
    RegistryImage,
    Storage,
    failing_step,
    last_line,
    pair_layers,
    parse_du,
    parse_history,
    platform_entry,
    registry_error,
    registry_not_found,
    repo_of,
    text_tail,
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


class _CommandLog(logging.Handler):
    """python-on-whales logs every command it runs at DEBUG; ``-v`` shows them."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.sink: LineSink | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.sink is not None and record.msg == "Running command: %s":
            with contextlib.suppress(Exception):
                self.sink(f"$ {record.args[0] if record.args else ''}")


_COMMAND_LOG = _CommandLog()


_PYWHALES_LOGGER = logging.getLogger("python_on_whales.utils")


def _tail(exc: DockerException, lines: int = 1) -> str:
    text = (exc.stderr or exc.stdout or "").strip().splitlines()
    meaningful = [line.strip() for line in text if line.strip()]
    return " | ".join(meaningful[-lines:]) if meaningful else f"exit {exc.return_code}"


class Engine:
    """A docker CLI, an engine and a buildx builder, as python-on-whales sees them.

    ``log`` receives progress details; ``trace`` receives every docker command line run
    (``-v``).
    """

    def __init__(
        self,
        builder: str | None = None,
        log: LineSink | None = None,
        trace: LineSink | None = None,
    ) -> None:
        self.builder = builder
        self.client = DockerClient()
        self._log = log or (lambda _line: None)
        self._trace = trace
        _COMMAND_LOG.sink = trace
        if trace is not None:
            if _COMMAND_LOG not in _PYWHALES_LOGGER.handlers:
                _PYWHALES_LOGGER.addHandler(_COMMAND_LOG)
            _PYWHALES_LOGGER.setLevel(logging.DEBUG)

    # -- the docker CLI --------------------------------------------------------------------

    @property
    def docker_cmd(self) -> list[str]:
        """The docker command prefix; a missing CLI raises EngineUnavailable."""
        try:
            return [str(part) for part in self.client.client_config.docker_cmd]
        except ClientNotFoundError as exc:
            raise EngineUnavailable(self.missing_cli_message()) from exc

    def missing_cli_message(self) -> str:
        name = self.client.client_config.client_call[0]
        return f"the docker CLI ({name}) is not on PATH; {FIX_CLI}"

    def docker_path(self) -> str | None:
        """Where the docker CLI is, or None."""
        return shutil.which(self.client.client_config.client_call[0])

    def command_line(self, args: Sequence[str]) -> str:
        """A command as a user would type it; works without a docker CLI (dry runs)."""
        try:
            prefix = self.docker_cmd
        except EngineUnavailable:
            prefix = list(self.client.client_config.client_call)
        return shlex.join([*prefix, *args])

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

    # -- engine, buildx, builder ------------------------------------------------------------

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

    def engine_info(self) -> EngineInfo:
        """The engine's version and where it answers; raises when none answers."""
        cmd = self.docker_cmd
        try:
            version = self.client.version().server
        except DockerException as exc:
            raise EngineUnavailable(
                f"no Docker engine answers at {self._where()} ({_tail(exc)}); {FIX_ENGINE}"
            ) from exc
        except FileNotFoundError as exc:
            raise EngineUnavailable(f"cannot run {cmd[0]}: {exc}; {FIX_CLI}") from exc
        endpoint = self._endpoint()
        where = self._where()
        local = bool(endpoint) and str(endpoint).startswith("unix://")
        return EngineInfo(getattr(version, "version", None) or "?", where, local)

    def buildx_version(self) -> str:
        """``github.com/docker/buildx 0.13.1 ...``; raises when the plugin is missing."""
        self.docker_cmd  # noqa: B018 -- a missing CLI says so first
        try:
            return str(self.client.buildx.version()).strip()
        except DockerException as exc:
            raise EngineUnavailable(
                f"the docker buildx plugin is missing or broken ({_tail(exc)}); {FIX_BUILDX}"
            ) from exc

    def inspect_builder(self) -> BuilderInfo:
        """The selected builder; raises when it does not exist or does not run."""
        self.docker_cmd  # noqa: B018
        name = self.builder or "the current builder"
        try:
            info = self._inspect_builder()
        except DockerException as exc:
            raise EngineUnavailable(
                f"buildx builder {name!r} cannot be used ({_tail(exc)}); {FIX_BUILDER}"
            ) from exc
        if not info.running:
            raise EngineUnavailable(f"buildx builder {info.name!r} is not running; {FIX_BUILDER}")
        return info

    def check(self) -> BuilderInfo:
        """Docker CLI, engine, buildx and builder; the first gap raises.

        One ``buildx inspect`` answers for all of them when all is well; only when it fails
        do the narrower probes run, to say which part is missing.
        """
        self.docker_cmd  # noqa: B018 -- raises when there is no docker CLI
        try:
            info = self._inspect_builder()
        except DockerException as exc:
            failure: DockerException | str = exc
        except FileNotFoundError as exc:
            raise EngineUnavailable(f"cannot run docker: {exc}; {FIX_CLI}") from exc
        else:
            if info.running:
                return info
            failure = f"builder {info.name!r} is not running"
        self.engine_info()
        self.buildx_version()
        name = self.builder or "the current builder"
        reason = failure if isinstance(failure, str) else _tail(failure)
        raise EngineUnavailable(f"buildx builder {name!r} cannot be used ({reason}); {FIX_BUILDER}")

    def _inspect_builder(self) -> BuilderInfo:
        builder = self.client.buildx.inspect(self.builder)
        nodes = builder.nodes or []
        version = next((n.version for n in nodes if getattr(n, "version", None)), None)
        # `buildx inspect` exits 0 even when the engine is down: then no node runs. A
        # docker-container (or kubernetes) builder is "inactive" until a build boots it.
        running = bool(builder.driver) and any(
            n.status == "running" or (n.status == "inactive" and builder.driver != "docker")
            for n in nodes
        )
        return BuilderInfo(builder.name, builder.driver, version, running)

    # -- probes for `uvbuild doctor` -----------------------------------------------------------

    def probe_frontend(self, workdir: Path) -> Probe:
        """Build a two-line Dockerfile that needs a named build context and ``COPY --link``
        with the selected builder's Dockerfile frontend; nothing is pulled or kept."""
        work = self._probe_dir(workdir)
        proc = self._run(
            build_args(
                BuildRequest(
                    context=str(work / "context"),
                    file=str(work / "Dockerfile"),
                    build_contexts=(("probe", str(work / "probe")),),
                    builder=self.builder,
                    progress="plain",
                    outputs=("type=cacheonly",),
                )
            ),
            PROBE_TIMEOUT,
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
            build_args(
                BuildRequest(
                    context=str(work / "context"),
                    file=str(work / "Dockerfile"),
                    build_contexts=(("probe", str(work / "probe")),),
                    tags=(ref,),
                    builder=self.builder,
                    progress="plain",
                    push=True,
                )
            ),
            REGISTRY_TIMEOUT,
        )
        self.remove_image(ref)
        if proc.returncode == 0:
            return Probe(True, f"pushed a probe image to {ref}")
        return Probe(False, text_tail(proc.stderr, f"push to {ref} failed"))

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

    def registry_image(self, ref: str, platform: str | None = None) -> RegistryImage | None:
        """``ref`` as its registry holds it, or None when the registry has no such tag;
        nothing is pulled (``docker buildx imagetools inspect``, run with a timeout because
        python-on-whales' ``buildx.imagetools.inspect`` has none). A registry that cannot be
        reached or refuses the credentials raises EngineUnavailable."""
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
            manifest = self._raw_manifest(ref)
            if manifest.get("manifests"):  # an index: the platform's own manifest
                digest = str(platform_entry(manifest["manifests"], platform)["digest"])
                manifest = self._raw_manifest(f"{repo_of(ref)}@{digest}")
            layer_bytes = sum(int(layer.get("size") or 0) for layer in manifest.get("layers", []))
        except (ValueError, KeyError, TypeError, StopIteration, AttributeError) as exc:
            raise EngineUnavailable(f"cannot read {ref} from its registry ({exc!r})") from exc
        return RegistryImage(ref, digest, diff_ids, layer_bytes)

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
            raise BuildFailed(
                f"pushing {ref} failed: {text_tail(chr(10).join(tail), f'exit {code}')}; "
                f"the registry has no such tag. {FIX_PUSH}"
            )

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

    # -- images ----------------------------------------------------------------------------

    def image_exists(self, ref: str) -> bool:
        self.docker_cmd  # noqa: B018
        try:
            return self.client.image.exists(ref)
        except DockerException as exc:
            # exists() only absorbs NoSuchImage; a malformed ref must not end in a traceback
            raise _ref_error(ref, exc) from exc

    def diff_ids(self, ref: str) -> list[str]:
        """The image's layer diff ids, oldest first (one inspect, no history)."""
        try:
            return list(self.client.image.inspect(ref).root_fs.layers or [])
        except NoSuchImage as exc:
            raise BuildFailed(f"image {ref} is not in the engine") from exc

    def image_layers(self, ref: str) -> list[Layer]:
        """Layers, oldest first, with the history step and size that made each
        (see ``pair_layers``)."""
        try:
            image = self.client.image.inspect(ref)
        except NoSuchImage as exc:
            raise BuildFailed(f"image {ref} is not in the engine") from exc
        return pair_layers(list(image.root_fs.layers or []), self._history(ref))

    def _history(self, ref: str) -> list[tuple[int, str]]:
        """``docker history`` newest first, as (bytes, created by); python-on-whales has
        no parsed form of it yet, so it goes through the runner."""
        args = ["image", "history", "--human=false", "--no-trunc", "--format", "{{json .}}"]
        proc = self._run([*args, ref], 120)
        if proc.returncode != 0:
            raise BuildFailed(f"docker image history {ref} failed ({text_tail(proc.stderr, '?')})")
        return parse_history(proc.stdout)

    def tag(self, source: str, target: str) -> None:
        try:
            self.client.image.tag(source, target)
        except DockerException as exc:
            raise _ref_error(target, exc) from exc

    def save_image(self, refs: Sequence[str], dest: str) -> None:
        """``docker save -o DEST REFS``: the tar ``-o type=docker,dest=DEST`` writes, for the
        docker driver, which has no docker exporter."""
        proc = self._run(["save", "-o", dest, *refs])
        if proc.returncode != 0:
            raise BuildFailed(
                f"docker save -o {dest} failed ({text_tail(proc.stderr, 'no output')}); "
                "check that the directory exists and has room"
            )

    def remove_image(self, ref: str) -> None:
        with contextlib.suppress(DockerException, EngineUnavailable):
            self.client.image.remove(ref, force=True)

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
            raise BuildFailed(f"{step} failed: {failing_step(tail) or last_line(tail, code)}")

    # -- bake, platforms and garbage collection (uvbuild bake, --platform a,b, uvbuild gc) --

    def builder_platforms(self) -> tuple[str, ...]:
        """The platforms the selected builder's nodes can build (``buildx inspect``)."""
        try:
            builder = self.client.buildx.inspect(self.builder)
        except DockerException as exc:
            name = self.builder or "the current builder"
            raise EngineUnavailable(
                f"buildx builder {name!r} cannot be used ({_tail(exc)}); {FIX_BUILDER}"
            ) from exc
        seen: dict[str, None] = {}
        for node in builder.nodes or []:
            for platform in getattr(node, "platforms", None) or []:
                seen[str(platform)] = None
        return tuple(seen)

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


def _ref_error(ref: str, exc: DockerException) -> ConfigError | EngineUnavailable:
    if "invalid reference format" in (exc.stderr or ""):
        return ConfigError(
            f"{ref!r} is not a valid image reference; check tool.uvbuild.base-repo "
            "(--base-repo): a repository such as registry:5000/team/base, without a tag"
        )
    return EngineUnavailable(f"docker could not handle image {ref} ({_tail(exc)})")

