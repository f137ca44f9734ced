"""The engine: the only module that imports python-on-whales.

``Engine`` answers the verbs of ``uvbuild.docker.verbs.EngineLike``: those python-on-whales
does well (version, ``buildx inspect``, image inspect/exists/tag/remove) through its
``DockerClient``, the rest as docker commands through the one runner (``EngineCommands``
in commands.py). It turns DockerException into EngineUnavailable or BuildFailed with the
tail of stderr. Builds run as a child process uvbuild controls, so an interrupt stops the
build (and BuildKit's solve) before anything is tagged.
"""

from __future__ import annotations

import contextlib
import logging
import shlex
import shutil
from collections.abc import Sequence

from python_on_whales import ClientNotFoundError, DockerClient
from python_on_whales.exceptions import DockerException, NoSuchImage

from uvbuild.docker.commands import EngineCommands
from uvbuild.docker.facts import (
    FIX_BUILDER,
    FIX_BUILDX,
    FIX_CLI,
    FIX_ENGINE,
    BuilderInfo,
    EngineInfo,
    Layer,
    LineSink,
    invalid_reference,
    pair_layers,
)
from uvbuild.errors import BuildFailed, ConfigError, EngineUnavailable


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


class Engine(EngineCommands):
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

    # -- engine, buildx, builder ------------------------------------------------------------

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

    def tag(self, source: str, target: str) -> None:
        try:
            self.client.image.tag(source, target)
        except DockerException as exc:
            raise _ref_error(target, exc) from exc

    def remove_image(self, ref: str) -> None:
        with contextlib.suppress(DockerException, EngineUnavailable):
            self.client.image.remove(ref, force=True)

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


def _ref_error(ref: str, exc: DockerException) -> ConfigError | EngineUnavailable:
    if "invalid reference format" in (exc.stderr or ""):
        return ConfigError(invalid_reference(ref))
    return EngineUnavailable(f"docker could not handle image {ref} ({_tail(exc)})")
