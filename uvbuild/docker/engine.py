"""The engine: the only module that imports python-on-whales.

``Engine`` answers the verbs of ``uvbuild.docker.verbs.EngineLike``. The verbs of a build
(the builder, images, tags, layers) are docker commands through the one runner
(``EngineCommands`` in commands/, and the builder's ``buildx inspect`` here), one command
each: importing python-on-whales (with pydantic) costs more than a no-op build's docker
commands together, and its ``buildx.inspect`` runs ``buildx ls`` as well. python-on-whales
answers what only ``uvbuild doctor`` and the diagnosis of a broken setup ask (the
engine's version, buildx's, removing an image), imported when first asked
(``Engine.client``), and a builder whose ``buildx inspect`` text does not read. It turns
DockerException into EngineUnavailable or BuildFailed with the tail of stderr. Builds run
as a child process uvbuild controls, so an interrupt stops the build (and BuildKit's
solve) before anything is tagged.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from uvbuild.docker import process
from uvbuild.docker.builders import BuilderCache, contradicts, state_key
from uvbuild.docker.commands import EngineCommands
from uvbuild.docker.facts.answers import builder_running, pair_layers, parse_builder, parse_history
from uvbuild.docker.facts.faults import (
    FIX_BUILDER,
    FIX_BUILDX,
    FIX_CLI,
    FIX_ENGINE,
    invalid_reference,
    no_such_image,
    text_tail,
)
from uvbuild.docker.facts.values import BuilderInfo, EngineInfo, Layer, LineSink
from uvbuild.docker.layers import LayerCache
from uvbuild.docker.requests import BuildRequest
from uvbuild.errors import BuildFailed, ConfigError, EngineUnavailable

if TYPE_CHECKING:
    from python_on_whales import DockerClient
    from python_on_whales.exceptions import DockerException

# The docker CLI, as python-on-whales' DockerClient() calls it by default.
CLIENT_CALL = ("docker",)


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
        cache_dir: Path | None = None,
    ) -> None:
        self.builder = builder
        self._client: DockerClient | None = None
        # where check() keeps the builder's answer between runs (see builders.py); None: not
        self._cache = BuilderCache(cache_dir) if cache_dir is not None else None
        # the layers of image ids asked before (see layers.py); None: not kept
        self._layer_cache = LayerCache(cache_dir) if cache_dir is not None else None
        self._cached: tuple[str, BuilderInfo] | None = None  # (key, answer) this run took
        self._log = log or (lambda _line: None)
        self._trace = trace
        self._platforms: tuple[str, ...] | None = None  # of the last `buildx inspect`
        self._seen_layers = {}

    @property
    def client(self) -> DockerClient:
        """python-on-whales' client, made (and imported) when first asked; with ``-v`` its
        commands are shown too."""
        if self._client is None:
            from python_on_whales import DockerClient

            _COMMAND_LOG.sink = self._trace
            if self._trace is not None:
                if _COMMAND_LOG not in _PYWHALES_LOGGER.handlers:
                    _PYWHALES_LOGGER.addHandler(_COMMAND_LOG)
                _PYWHALES_LOGGER.setLevel(logging.DEBUG)
            self._client = DockerClient()
        return self._client

    # -- the docker CLI --------------------------------------------------------------------

    @property
    def docker_cmd(self) -> list[str]:
        """The docker command prefix (the CLI on PATH, as python-on-whales' default client
        runs it); a missing CLI raises EngineUnavailable."""
        found = shutil.which(CLIENT_CALL[0])
        if found is None:
            raise EngineUnavailable(self.missing_cli_message())
        return [found, *CLIENT_CALL[1:]]

    def missing_cli_message(self) -> str:
        return f"the docker CLI ({CLIENT_CALL[0]}) is not on PATH; {FIX_CLI}"

    def docker_path(self) -> str | None:
        """Where the docker CLI is, or None."""
        return shutil.which(CLIENT_CALL[0])

    def command_line(self, args: Sequence[str]) -> str:
        """A command as a user would type it; works without a docker CLI (dry runs)."""
        try:
            prefix = self.docker_cmd
        except EngineUnavailable:
            prefix = list(CLIENT_CALL)
        return shlex.join([*prefix, *args])

    # -- engine, buildx, builder ------------------------------------------------------------

    def engine_info(self) -> EngineInfo:
        """The engine's version and where it answers; raises when none answers."""
        from python_on_whales.exceptions import DockerException

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
        from python_on_whales.exceptions import DockerException

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
        info = self._inspect_builder()
        if isinstance(info, str):
            raise EngineUnavailable(
                f"buildx builder {name!r} cannot be used ({info}); {FIX_BUILDER}"
            )
        if not info.running:
            raise EngineUnavailable(f"buildx builder {info.name!r} is not running; {FIX_BUILDER}")
        return info

    def check(self) -> BuilderInfo:
        """Docker CLI, engine, buildx and builder; the first gap raises.

        One ``buildx inspect`` answers for all of them when all is well; only when it fails
        do the narrower probes run, to say which part is missing. With a ``cache_dir`` a
        running builder's answer is kept and taken again while what defines the builder
        has not changed (:mod:`uvbuild.docker.builders`).
        """
        docker = self.docker_cmd[0]  # raises when there is no docker CLI
        key = state_key(docker, self.builder, os.environ) if self._cache else ""
        kept = self._cache.get(key) if self._cache else None
        if kept is not None:
            info, self._platforms = kept
            self._cached = (key, info)
            self._log(f"builder {info.name} ({info.driver} driver), as buildx answered before")
            return info
        info = self._inspect_builder()
        if not isinstance(info, str):
            if info.running:
                if self._cache is not None:
                    self._cache.put(key, info, self._platforms or ())
                    self._cached = (key, info)
                return info
            info = f"builder {info.name!r} is not running"
        self.engine_info()
        self.buildx_version()
        name = self.builder or "the current builder"
        raise EngineUnavailable(f"buildx builder {name!r} cannot be used ({info}); {FIX_BUILDER}")

    def _inspect_builder(self) -> BuilderInfo | str:
        """The builder, from one ``docker buildx inspect``; the reason as text when buildx
        refused. Its platforms are kept for ``builder_platforms``."""
        args = ["buildx", "inspect", *([self.builder] if self.builder else [])]
        proc = self._run(args, 60)
        if proc.returncode == process.TIMED_OUT:
            return proc.stderr
        if proc.returncode != 0:  # its last line, as python-on-whales' error gave it
            lines = [x.strip() for x in (proc.stderr or proc.stdout).splitlines() if x.strip()]
            return lines[-1] if lines else f"exit {proc.returncode}"
        parsed = parse_builder(proc.stdout)
        if parsed is None:  # a buildx whose text reads otherwise: python-on-whales' way
            return self._inspect_builder_pywhales()
        info, self._platforms = parsed
        return info

    def _inspect_builder_pywhales(self) -> BuilderInfo | str:
        from python_on_whales.exceptions import DockerException

        try:
            builder = self.client.buildx.inspect(self.builder)
        except DockerException as exc:
            return _tail(exc)
        nodes = builder.nodes or []
        version = next((n.version for n in nodes if getattr(n, "version", None)), None)
        statuses = [str(n.status) for n in nodes]
        seen: dict[str, None] = {}
        for node in nodes:
            for platform in getattr(node, "platforms", None) or []:
                seen[str(platform)] = None
        self._platforms = tuple(seen)
        driver = builder.driver or ""
        return BuilderInfo(builder.name, driver, version, builder_running(driver, statuses))

    def build(
        self, request: BuildRequest, on_line: LineSink, step: str, terminal: int | None = None
    ) -> None:
        """A build (``EngineCommands.build``). When this run took a kept answer about the
        builder, a build that fails or names another builder or driver drops it."""
        if self._cached is None or self._cache is None:
            return super().build(request, on_line, step, terminal)
        key, info = self._cached
        wrong: list[str] = []

        def watch(line: str) -> None:
            if not wrong and contradicts(line, info):
                wrong.append(line)
                self._cache.forget(key)  # type: ignore[union-attr]
            on_line(line)

        try:
            super().build(request, watch, step, terminal)
        except BaseException:
            self._cache.forget(key)
            raise

    # -- probes for `uvbuild doctor` -----------------------------------------------------------

    # -- images ----------------------------------------------------------------------------

    def image_exists(self, ref: str) -> bool:
        proc = self._run(["image", "inspect", "--format", "{{.Id}}", ref], 60)
        if proc.returncode == 0:
            return True
        if no_such_image(proc.stderr):
            return False
        # a malformed ref must not end in a traceback
        raise _ref_error(ref, proc.stderr)

    def diff_ids(self, ref: str) -> list[str]:
        """The image's layer diff ids, oldest first (one inspect, no history; none when
        ``image_labels`` read them this run and uvbuild has not moved the tag since)."""
        if ref in self._seen_layers:
            return list(self._seen_layers[ref])
        proc = self._run(["image", "inspect", "--format", "{{json .RootFS.Layers}}", ref], 60)
        return _layer_ids(ref, proc)

    def image_layers(self, ref: str) -> list[Layer]:
        """Layers, oldest first, with the history step and size that made each
        (see ``pair_layers``): the inspect and the history run side by side. An image id
        whose layers were read before is answered from the cache dir (``layers.py``)."""
        kept = self._layer_cache.get(ref) if self._layer_cache is not None else None
        if kept is not None:
            self._log(f"the layers of {ref[:19]}, as docker answered before")
            return kept
        layers = self._read_layers(ref)
        if self._layer_cache is not None:
            self._layer_cache.put(ref, layers)
        return layers

    def _read_layers(self, ref: str) -> list[Layer]:
        args = ["image", "history", "--human=false", "--no-trunc", "--format", "{{json .}}", ref]
        if self._trace is not None:
            self._trace(f"$ {shlex.join([*self.docker_cmd, *args])}")
        try:
            history = process.start([*self.docker_cmd, *args], 120)
        except OSError as exc:
            raise EngineUnavailable(f"cannot run docker: {exc}; {FIX_CLI}") from exc
        layers = self.diff_ids(ref)
        done = history()
        if done.returncode != 0:
            raise BuildFailed(f"docker image history {ref} failed ({text_tail(done.stderr, '?')})")
        return pair_layers(layers, parse_history(done.stdout))

    def tag(self, source: str, target: str) -> None:
        self._seen_layers.pop(target, None)
        proc = self._run(["image", "tag", source, target], 60)
        if proc.returncode != 0:
            raise _ref_error(target, proc.stderr)

    def remove_image(self, ref: str) -> None:
        from python_on_whales.exceptions import DockerException

        self._seen_layers.pop(ref, None)
        process.drop_ahead(by_id_too=True)  # python-on-whales runs it, not the runner
        with contextlib.suppress(DockerException, EngineUnavailable):
            self.client.image.remove(ref, force=True)

    # -- bake, platforms and garbage collection (uvbuild bake, --platform a,b, uvbuild gc) --

    def builder_platforms(self) -> tuple[str, ...]:
        """The platforms the selected builder's nodes can build (``buildx inspect``; the
        one ``check`` ran, when it ran)."""
        if self._platforms is None:
            info = self._inspect_builder()
            if isinstance(info, str):
                name = self.builder or "the current builder"
                raise EngineUnavailable(
                    f"buildx builder {name!r} cannot be used ({info}); {FIX_BUILDER}"
                )
        return self._platforms or ()


def _layer_ids(ref: str, proc: Any) -> list[str]:
    """The diff ids of a ``docker image inspect --format '{{json .RootFS.Layers}}'``."""
    if proc.returncode != 0:
        if no_such_image(proc.stderr):
            raise BuildFailed(f"image {ref} is not in the engine")
        raise _ref_error(ref, proc.stderr)
    try:
        return [str(layer) for layer in json.loads(proc.stdout.strip() or "null") or []]
    except ValueError as exc:
        raise EngineUnavailable(f"cannot read the layers of {ref} ({exc})") from exc


def _ref_error(ref: str, stderr: str) -> ConfigError | EngineUnavailable:
    if "invalid reference format" in stderr:
        return ConfigError(invalid_reference(ref))
    return EngineUnavailable(
        f"docker could not handle image {ref} ({text_tail(stderr, 'no answer')})"
    )
