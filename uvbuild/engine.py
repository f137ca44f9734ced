"""The only module that talks to Docker, through python-on-whales.

It exposes a few verbs (check, image_exists, image_layers, build, tag, remove, and the
probes ``uvbuild doctor`` runs) and turns DockerException into EngineUnavailable or
BuildFailed with the tail of stderr. Builds run as a child process uvbuild controls, so an
interrupt stops the build (and BuildKit's solve) before anything is tagged.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import logging
import os
import pty
import re
import shlex
import shutil
import signal
import subprocess
import termios
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from python_on_whales import ClientNotFoundError, DockerClient
from python_on_whales.exceptions import DockerException, NoSuchImage
from python_on_whales.utils import run

from uvbuild.errors import BuildFailed, ConfigError, EngineUnavailable, Interrupted

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
FIX_PUSH = "Check write access (`docker login <registry>`) and --base-repo (tool.uvbuild.base-repo)"

# How long a build child may take to stop after the signal before it is killed.
STOP_GRACE_SECONDS = 15.0
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


@dataclass(frozen=True, slots=True)
class BuildRequest:
    """One ``docker buildx build`` invocation; every field maps to one flag."""

    context: str
    file: str | None = None
    tags: tuple[str, ...] = ()
    target: str | None = None
    build_args: tuple[tuple[str, str], ...] = ()
    build_contexts: tuple[tuple[str, str], ...] = ()
    platforms: tuple[str, ...] = ()
    load: bool = False
    push: bool = False
    progress: str | None = None
    no_cache: bool = False
    secrets: tuple[str, ...] = ()
    ssh: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    builder: str | None = None
    network: str | None = None
    add_hosts: tuple[str, ...] = ()
    iidfile: str | None = None
    metadata_file: str | None = None
    outputs: tuple[str, ...] = ()
    cache_from: tuple[str, ...] = ()
    cache_to: tuple[str, ...] = ()
    provenance: bool | str | None = None  # False/True or buildx's value (``mode=max``)
    sbom: str | None = None
    attests: tuple[str, ...] = ()
    annotations: tuple[str, ...] = ()
    pull: bool = False
    shm_size: str | None = None
    ulimits: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()
    call: str | None = None  # ``--call=check``: evaluate the Dockerfile, build nothing
    extra_env: tuple[tuple[str, str], ...] = field(default=(), compare=False)


def build_args(request: BuildRequest) -> list[str]:
    """The arguments after ``docker``: a flag appears only when its value is set."""
    args = ["buildx", "build"]

    def many(flag: str, values: Sequence[str]) -> None:
        for value in values:
            args.extend([flag, value])

    def one(flag: str, value: str | None) -> None:
        if value is not None:
            args.extend([flag, value])

    one("--builder", request.builder)
    one("--file", request.file)
    many("--tag", request.tags)
    one("--target", request.target)
    many("--build-arg", [f"{k}={v}" for k, v in request.build_args])
    many("--build-context", [f"{k}={v}" for k, v in request.build_contexts])
    if request.platforms:
        args.extend(["--platform", ",".join(request.platforms)])
    many("--label", [f"{k}={v}" for k, v in request.labels])
    many("--secret", request.secrets)
    many("--ssh", request.ssh)
    one("--network", request.network)
    many("--add-host", request.add_hosts)
    many("--cache-from", request.cache_from)
    many("--cache-to", request.cache_to)
    many("--output", request.outputs)
    one("--progress", request.progress)
    one("--iidfile", request.iidfile)
    one("--metadata-file", request.metadata_file)
    if request.provenance is not None:
        value = request.provenance
        args.append(f"--provenance={str(value).lower() if isinstance(value, bool) else value}")
    if request.sbom is not None:
        args.append(f"--sbom={request.sbom}")
    many("--attest", request.attests)
    many("--annotation", request.annotations)
    one("--shm-size", request.shm_size)
    many("--ulimit", request.ulimits)
    many("--allow", request.allow)
    if request.call is not None:
        args.append(f"--call={request.call}")
    if request.pull:
        args.append("--pull")
    if request.load:
        args.append("--load")
    if request.push:
        args.append("--push")
    if request.no_cache:
        args.append("--no-cache")
    args.append(request.context)
    return args


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


@dataclass(frozen=True, slots=True)
class Probe:
    """The outcome of a probe: ``ok`` and one line saying what was seen."""

    ok: bool
    detail: str


def _tail(exc: DockerException, lines: int = 1) -> str:
    text = (exc.stderr or exc.stdout or "").strip().splitlines()
    meaningful = [line.strip() for line in text if line.strip()]
    return " | ".join(meaningful[-lines:]) if meaningful else f"exit {exc.return_code}"


def _text_tail(text: str, fallback: str) -> str:
    meaningful = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return _shorten(meaningful[-1].removeprefix("ERROR: "), 200) if meaningful else fallback


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
        """A short docker command with a timeout (python-on-whales' runner has none)."""
        command = [*self.docker_cmd, *args]
        if self._trace is not None:
            self._trace(f"$ {shlex.join(command)}")
        try:
            return subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            return subprocess.CompletedProcess(
                command, 124, "", f"no answer within {timeout:.0f} s ({exc.cmd[-1]})"
            )
        except OSError as exc:
            raise EngineUnavailable(f"cannot run {command[0]}: {exc}; {FIX_CLI}") from exc

    def cli_version(self) -> str:
        """``Docker version 28.2.2, build e6534b4``."""
        proc = self._run(["--version"], timeout=30)
        return proc.stdout.strip() or _text_tail(proc.stderr, "unknown version")

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
        return Probe(False, failing_step(lines) or _text_tail(proc.stderr, "probe build failed"))

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
        return Probe(False, _text_tail(proc.stderr, f"push to {ref} failed"))

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
        return Probe(False, f"{ref}: {_text_tail(proc.stderr, 'not found')}")

    def registry_image(self, ref: str, platform: str | None = None) -> RegistryImage | None:
        """``ref`` as its registry holds it, or None when the registry has no such tag;
        nothing is pulled (``docker buildx imagetools inspect``, run with a timeout because
        python-on-whales' ``buildx.imagetools.inspect`` has none). A registry that cannot be
        reached or refuses the credentials raises EngineUnavailable."""
        proc = self._run(
            ["buildx", "imagetools", "inspect", "--format", "{{json .}}", ref], REGISTRY_TIMEOUT
        )
        if proc.returncode != 0:
            if _registry_not_found(proc.stderr):
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
                digest = str(_platform_entry(manifest["manifests"], platform)["digest"])
                manifest = self._raw_manifest(f"{_repo_of(ref)}@{digest}")
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
                f"pushing {ref} failed: {_text_tail(chr(10).join(tail), f'exit {code}')}; "
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
            return Storage(None, None, _text_tail(proc.stderr, "docker info failed"))
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
        """Layers, oldest first, with the history step and size that made each.

        ``docker history`` also lists steps that made no layer (ENV, LABEL...); those
        report size 0, so the steps with a size are paired with the layers from the
        newest end, which is the end a summary cares about. Unpaired layers get size -1.
        """
        try:
            image = self.client.image.inspect(ref)
        except NoSuchImage as exc:
            raise BuildFailed(f"image {ref} is not in the engine") from exc
        diff_ids = list(image.root_fs.layers or [])
        history = list(reversed(self._history(ref)))
        # A RUN or COPY that changed nothing still makes a (zero-byte) layer.
        steps = [step for step in history if step[0] > 0 or _makes_layer(step[1])]
        if len(steps) < len(diff_ids):
            steps = [step for step in history if step[0] > 0]
        layers = []
        for index, diff_id in enumerate(diff_ids):
            back = len(diff_ids) - index
            size, created_by = steps[-back] if back <= len(steps) else (-1, "")
            layers.append(Layer(diff_id, created_by, size))
        return layers

    def _history(self, ref: str) -> list[tuple[int, str]]:
        """``docker history`` newest first, as (bytes, created by); python-on-whales has
        no parsed form of it yet, so its runner is used directly."""
        out = run(
            [
                *self.docker_cmd,
                "image",
                "history",
                "--human=false",
                "--no-trunc",
                "--format",
                "{{json .}}",
                ref,
            ]
        )
        steps = []
        for line in str(out).splitlines():
            if line.strip():
                entry = json.loads(line)
                steps.append((int(entry.get("Size") or 0), entry.get("CreatedBy") or ""))
        return steps

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
                f"docker save -o {dest} failed ({_text_tail(proc.stderr, 'no output')}); "
                "check that the directory exists and has room"
            )

    def remove_image(self, ref: str) -> None:
        with contextlib.suppress(DockerException, EngineUnavailable):
            self.client.image.remove(ref, force=True)

    def run(self, image: str, command: Sequence[str]) -> str:
        return str(self.client.run(image, list(command), remove=True))

    def _stream(
        self,
        command: list[str],
        on_line: LineSink,
        env: dict[str, str] | None = None,
        terminal: int | None = None,
    ) -> tuple[int, list[str]]:
        """Run a long docker command in its own process group, passing each output line
        on; returns the exit code and the last lines. When uvbuild is interrupted (or
        anything fails while streaming) the same signal goes to the group, uvbuild waits
        for it to be gone (killing it after STOP_GRACE_SECONDS) and re-raises.

        With ``terminal`` (the file descriptor of a TTY) the child writes to a
        pseudo-terminal of that TTY's size instead of a pipe, so buildx draws its own TTY
        view; its bytes are copied to ``terminal`` unchanged, and ``on_line`` gets a plain
        copy of each line (escape sequences removed) for the failure message and scans."""
        (self._trace or self._log)(f"$ {shlex.join(command)}")
        master = slave = None
        if terminal is not None:
            master, slave = _pseudo_terminal(terminal)
        try:
            process = subprocess.Popen(
                command,
                stdout=slave if slave is not None else subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            raise EngineUnavailable(f"cannot run {command[0]}: {exc}; {FIX_CLI}") from exc
        finally:
            if slave is not None:
                os.close(slave)
        tail: list[str] = []
        try:
            if master is not None and terminal is not None:
                lines: Iterator[str] = _tee_terminal(master, terminal)
            else:
                assert process.stdout is not None
                lines = (
                    raw.decode(errors="replace").rstrip("\r\n")
                    for raw in iter(process.stdout.readline, b"")
                )
            for line in lines:
                tail = [*tail[-40:], line]
                on_line(line)
            code = process.wait()
        except BaseException as exc:
            stop_process_group(process, _signal_for(exc))
            raise
        finally:
            if process.stdout is not None:
                process.stdout.close()
            if master is not None:
                os.close(master)
        return code, tail

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
                    f"({failing_step(tail) or _last(tail, code)}); {FIX_BUILDER}"
                )
            raise BuildFailed(f"{step} failed: {failing_step(tail) or _last(tail, code)}")

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
                f"docker buildx bake --print failed ({_text_tail(proc.stderr, 'no output')}); "
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
                + _text_tail(proc.stderr, "imagetools create failed")
            )

    def images(self, filters: Sequence[str] = ()) -> list[ImageInfo]:
        """Images (``docker image ls --filter ...``, each filter ``key=value``), inspected:
        id, tags, labels, creation and last tag time, layer diff ids."""
        args = ["image", "ls", "--no-trunc", "--quiet"]
        for item in filters:
            args += ["--filter", item]
        proc = self._run(args, 120)
        if proc.returncode != 0:
            raise EngineUnavailable(f"docker image ls failed ({_text_tail(proc.stderr, '?')})")
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
            raise EngineUnavailable(f"docker ps failed ({_text_tail(proc.stderr, '?')})")
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
            raise EngineUnavailable(f"docker buildx du failed ({_text_tail(proc.stderr, '?')})")
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
            proc = subprocess.run(
                ["du", "-sb", storage.root],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        first = proc.stdout.split()
        return int(first[0]) if first and first[0].isdigit() else None


def _signal_for(exc: BaseException) -> int:
    if isinstance(exc, Interrupted):
        return exc.signum
    if isinstance(exc, KeyboardInterrupt):
        return signal.SIGINT
    return signal.SIGTERM


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs; zombies (an init that is slow to reap
    them, as in many containers) do not count."""
    proc = Path("/proc")
    if proc.is_dir():
        for entry in proc.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
                return True
        return False
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_process_group(
    process: subprocess.Popen[bytes], signum: int, grace: float = STOP_GRACE_SECONDS
) -> None:
    """Send ``signum`` to the child's process group (docker and its buildx plugin), wait
    until every process of the group is gone, and kill what is left after ``grace``
    seconds. A second interrupt while waiting kills the group at once."""
    pgid = process.pid
    try:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signum)
        deadline = time.monotonic() + grace
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        if process.poll() is None or _group_alive(pgid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            process.wait()


def _pseudo_terminal(terminal: int) -> tuple[int, int]:
    """A pseudo-terminal (master, slave) as large as the TTY ``terminal``."""
    master, slave = pty.openpty()
    with contextlib.suppress(OSError):
        size = fcntl.ioctl(terminal, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(slave, termios.TIOCSWINSZ, size)
    return master, slave


_ESCAPE = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]|[\x00-\x08\x0b-\x1f\x7f]")


def _tee_terminal(master: int, terminal: int) -> Iterator[str]:
    """Copy what the child writes on the pseudo-terminal to ``terminal`` as it comes,
    and yield it as plain lines (no escape sequences or control characters)."""
    pending = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every writer has closed the pseudo-terminal
            chunk = b""
        if not chunk:
            break
        view = memoryview(chunk)
        while view:
            view = view[os.write(terminal, view) :]
        *complete, pending = (pending + chunk).split(b"\n")
        for raw in complete:
            yield _ESCAPE.sub(b"", raw).decode(errors="replace")
    if pending:
        yield _ESCAPE.sub(b"", pending).decode(errors="replace")


def _last(lines: Sequence[str], code: int) -> str:
    meaningful = [line.strip() for line in lines if line.strip()]
    return _shorten(meaningful[-1], 200) if meaningful else f"exit {code}"


def _ref_error(ref: str, exc: DockerException) -> ConfigError | EngineUnavailable:
    if "invalid reference format" in (exc.stderr or ""):
        return ConfigError(
            f"{ref!r} is not a valid image reference; check tool.uvbuild.base-repo "
            "(--base-repo): a repository such as registry:5000/team/base, without a tag"
        )
    return EngineUnavailable(f"docker could not handle image {ref} ({_tail(exc)})")


def _registry_not_found(stderr: str) -> bool:
    """``imagetools inspect`` of a tag or repository the registry does not hold."""
    last = _text_tail(stderr, "")
    return last.endswith(": not found") or "MANIFEST_UNKNOWN" in stderr or "NAME_UNKNOWN" in stderr


def registry_error(ref: str, stderr: str) -> str:
    """One line for a registry that did not answer about ``ref``."""
    text = _text_tail(stderr, "no answer")
    lowered = stderr.lower()
    if any(word in lowered for word in ("unauthorized", "authorization", "denied", "401")):
        what = "refused the credentials"
    else:
        what = "cannot be reached"
    host = ref.split("/", 1)[0]
    return f"the registry {host} {what} ({text}); {FIX_REGISTRY}"


def _repo_of(ref: str) -> str:
    """``host:5000/team/base:tag`` -> ``host:5000/team/base``."""
    name = ref.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return name.rsplit(":", 1)[0] if ":" in last else name


def _platform_entry(entries: Sequence[dict[str, object]], platform: str | None) -> dict:
    images = [e for e in entries if isinstance(e.get("platform"), dict)]
    for entry in images:
        plat = entry["platform"]
        assert isinstance(plat, dict)
        wanted = platform is None or f"{plat.get('os')}/{plat.get('architecture')}" == platform
        if wanted and plat.get("os") != "unknown":  # "unknown/unknown": attestations
            return dict(entry)
    raise KeyError(f"no manifest for {platform or 'any platform'}")


def _makes_layer(created_by: str) -> bool:
    text = created_by.removeprefix("/bin/sh -c ").lstrip()
    return text.startswith(("RUN ", "COPY ", "ADD ", "WORKDIR ")) and "#(nop)" not in text


_FAILED_STEP = re.compile(r"^\s*> \[(?P<label>[^\]]+)\] (?P<command>.*):\s*$")


def _shorten(text: str, width: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def failing_step(lines: Sequence[str]) -> str | None:
    """What failed, from plain progress output: BuildKit's step label (``[app 2/3] RUN
    false``), the first error line the step printed, and the solver's verdict."""
    step = error = verdict = None
    for index, line in enumerate(lines):
        text = line.strip()
        match = _FAILED_STEP.match(line)
        if match:
            step = f"[{match['label']}] {_shorten(match['command'])}"
            block = itertools.takewhile(lambda x: x.strip() != "------", lines[index + 1 :])
            error = next((_shorten(x.strip(": ")) for x in block if "error" in x.lower()), None)
        elif text.startswith("ERROR: failed to solve:"):
            verdict = text.removeprefix("ERROR: failed to solve:").strip()
            verdict = _shorten(verdict.split("did not complete successfully: ")[-1])
    if step:
        return f"{step}: {error or verdict or 'failed'}"
    if verdict:
        return verdict
    for line in reversed(lines):
        if " ERROR:" in line or line.startswith("ERROR"):
            return _shorten(line.strip())
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
        labels = (config.get("Labels") if isinstance(config, dict) else None) or {}
        rootfs = raw.get("RootFS") or {}
        metadata = raw.get("Metadata") or {}
        last = metadata.get("LastTagTime") if isinstance(metadata, dict) else None
        return cls(
            id=str(raw.get("Id", "")),
            tags=tuple(str(t) for t in raw.get("RepoTags") or ()),  # type: ignore[union-attr]
            labels=tuple(sorted((str(k), str(v)) for k, v in labels.items())),
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
