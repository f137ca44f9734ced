"""The only module that talks to Docker, through python-on-whales.

It exposes a few verbs (check, image_exists, image_layers, build, tag, remove) and turns
DockerException into EngineUnavailable or BuildFailed with the tail of stderr.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shlex
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException, NoSuchImage
from python_on_whales.utils import run, stream_stdout_and_stderr

from uvbuild.errors import BuildFailed, ConfigError, EngineUnavailable

LineSink = Callable[[str], None]


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
    provenance: bool | None = None
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
        args.append(f"--provenance={str(request.provenance).lower()}")
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


def _tail(exc: DockerException, lines: int = 1) -> str:
    text = (exc.stderr or exc.stdout or "").strip().splitlines()
    meaningful = [line.strip() for line in text if line.strip()]
    return " | ".join(meaningful[-lines:]) if meaningful else f"exit {exc.return_code}"


class Engine:
    """A docker CLI, an engine and a buildx builder, as python-on-whales sees them."""

    def __init__(self, builder: str | None = None, log: LineSink | None = None) -> None:
        self.builder = builder
        self.client = DockerClient()
        self._log = log or (lambda _line: None)

    @property
    def docker_cmd(self) -> list[str]:
        return [str(part) for part in self.client.client_config.docker_cmd]

    def command_line(self, args: Sequence[str]) -> str:
        return shlex.join([*self.docker_cmd, *args])

    def _where(self) -> str:
        if os.environ.get("DOCKER_HOST"):
            return f"DOCKER_HOST={os.environ['DOCKER_HOST']}"
        if os.environ.get("DOCKER_CONTEXT"):
            return f"context {os.environ['DOCKER_CONTEXT']}"
        return "the default context"

    def check(self) -> BuilderInfo:
        """Docker CLI, engine, buildx and builder; the first gap raises.

        One ``buildx inspect`` answers for all of them when all is well; only when it fails
        do the narrower probes run, to say which part is missing.
        """
        executable = self.docker_cmd[0]
        if shutil.which(executable) is None:
            raise EngineUnavailable(
                f"the docker CLI ({executable}) is not on PATH; install Docker Engine with "
                "the buildx plugin (see README, Troubleshooting)"
            )
        try:
            info = self._inspect_builder()
        except DockerException as exc:
            failure: DockerException | str = exc
        else:
            if info.running:
                return info
            failure = f"builder {info.name!r} is not running"
        try:
            self.client.version()
        except DockerException as exc:
            raise EngineUnavailable(
                f"no Docker engine answers at {self._where()} ({_tail(exc)}); start the "
                "engine (e.g. `dockerd`) or point DOCKER_HOST at a running one"
            ) from exc
        try:
            self.client.buildx.version()
        except DockerException as exc:
            raise EngineUnavailable(
                "the docker buildx plugin is missing or broken "
                f"({_tail(exc)}); install docker-buildx"
            ) from exc
        name = self.builder or "the current builder"
        reason = failure if isinstance(failure, str) else _tail(failure)
        raise EngineUnavailable(
            f"buildx builder {name!r} cannot be used ({reason}); "
            "list builders with `docker buildx ls` or drop --builder"
        )

    def _inspect_builder(self) -> BuilderInfo:
        builder = self.client.buildx.inspect(self.builder)
        nodes = builder.nodes or []
        version = next((n.version for n in nodes if getattr(n, "version", None)), None)
        # `buildx inspect` exits 0 even when the engine is down: then no node runs.
        running = bool(builder.driver) and any(n.status == "running" for n in nodes)
        return BuilderInfo(builder.name, builder.driver, version, running)

    def image_exists(self, ref: str) -> bool:
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

    def remove_image(self, ref: str) -> None:
        with contextlib.suppress(DockerException):
            self.client.image.remove(ref, force=True)

    def run(self, image: str, command: Sequence[str]) -> str:
        return str(self.client.run(image, list(command), remove=True))

    def build(self, request: BuildRequest, on_line: LineSink, step: str) -> None:
        """Run one build, streaming its output; failure raises BuildFailed naming the step."""
        args = build_args(request)
        self._log(self.command_line(args))
        tail: list[str] = []
        env = dict(request.extra_env) or None
        try:
            for _source, raw in stream_stdout_and_stderr([*self.docker_cmd, *args], env=env):
                line = raw.decode(errors="replace").rstrip("\n")
                tail = [*tail[-40:], line]
                on_line(line)
        except DockerException as exc:
            raise BuildFailed(f"{step} failed: {failing_step(tail) or _tail(exc)}") from exc
        except FileNotFoundError as exc:
            raise EngineUnavailable(f"cannot run {self.docker_cmd[0]}: {exc}") from exc


def _ref_error(ref: str, exc: DockerException) -> ConfigError | EngineUnavailable:
    if "invalid reference format" in (exc.stderr or ""):
        return ConfigError(
            f"{ref!r} is not a valid image reference; check tool.uvbuild.base-repo "
            "(--base-repo): a repository such as registry:5000/team/base, without a tag"
        )
    return EngineUnavailable(f"docker could not handle image {ref} ({_tail(exc)})")


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
