"""The build flow: reuse or build the base, then build the app on top of it.

It takes the plan, the options, an Engine and a reporter (the Terminal), so the order of
steps can be followed in tests with a fake engine.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from uvbuild import render
from uvbuild.engine import FIX_DRIVER, BuildRequest, Engine, Storage, build_args
from uvbuild.errors import ConfigError, EngineUnavailable, Interrupted, UvbuildError
from uvbuild.model import BuildPlan

BUILD_SCHEMA = "uvbuild.build/1"
GENERATED = "generated"

# What building the base costs in the engine's storage, per byte of heavy wheel: the venv
# layer holds the unpacked files plus their bytecode (about 2.2x the wheel), and uv's cache
# mount holds the unpacked wheels once more (about 1.8x).
LAYER_FACTOR = 2.2
CACHE_FACTOR = 1.8
# A heavy wheel whose size uv.lock does not record (the PyTorch index gives none).
UNKNOWN_WHEEL_BYTES = 500 * 1000 * 1000


class Reporter(Protocol):
    def step(self, message: str) -> None: ...
    def info(self, message: str) -> None: ...
    def warn(self, message: str) -> None: ...
    def detail(self, message: str) -> None: ...
    def stream(self, line: str) -> None: ...


@dataclass(frozen=True, slots=True)
class BuildOptions:
    """The ``docker build`` flags uvbuild passes through, plus its own."""

    tags: tuple[str, ...] = ()
    file: str | None = None
    target: str | None = None
    build_args: tuple[tuple[str, str], ...] = ()
    load: bool | None = None  # None: load when the builder uses the docker driver
    push: bool = False
    progress: str = "plain"
    no_cache: bool = False
    rebuild_base: bool = False
    secrets: tuple[str, ...] = ()
    ssh: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    builder: str | None = None
    network: str | None = None
    add_hosts: tuple[str, ...] = ()
    cache_from: tuple[str, ...] = ()
    cache_to: tuple[str, ...] = ()
    syntax: str | None = None
    dry_run: bool = False


@dataclass(frozen=True, slots=True)
class LayerReport:
    diff_id: str
    size: int
    shared: bool
    created_by: str


@dataclass(slots=True)
class BuildResult:
    base_tag: str
    base_key: str
    base_action: str  # "reused", "built", "rebuilt" or "would build"/"would reuse"
    base_seconds: float = 0.0
    app_seconds: float = 0.0
    image_id: str | None = None
    tags: tuple[str, ...] = ()
    dockerfile: str = GENERATED
    layers: list[LayerReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        new = sum(layer.size for layer in self.layers if not layer.shared and layer.size > 0)
        shared = sum(layer.size for layer in self.layers if layer.shared and layer.size > 0)
        return {
            "schema": BUILD_SCHEMA,
            "dry-run": self.dry_run,
            "base": {
                "tag": self.base_tag,
                "key": self.base_key,
                "action": self.base_action,
                "seconds": round(self.base_seconds, 3),
            },
            "image": {
                "id": self.image_id,
                "tags": list(self.tags),
                "dockerfile": self.dockerfile,
                "seconds": round(self.app_seconds, 3),
                "new-bytes": new,
                "shared-bytes": shared,
                "layers": [
                    {
                        "diff-id": layer.diff_id,
                        "size": layer.size,
                        "shared-with-base": layer.shared,
                        "created-by": layer.created_by,
                    }
                    for layer in self.layers
                ],
            },
            "warnings": list(self.warnings),
            "commands": list(self.commands),
        }


def format_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError


@dataclass(frozen=True, slots=True)
class DiskEstimate:
    """What the base is expected to take in the engine's storage."""

    wheel_bytes: int  # heavy wheels whose size the lock records
    unknown: int  # heavy wheels without a size, counted as UNKNOWN_WHEEL_BYTES each
    expected: int  # bytes

    def describe(self) -> str:
        text = f"{format_bytes(self.wheel_bytes)} of heavy wheels"
        if self.unknown:
            text += (
                f", {self.unknown} of unknown size counted as "
                f"{format_bytes(UNKNOWN_WHEEL_BYTES)} each"
            )
        return f"about {format_bytes(self.expected)} ({text}, x{LAYER_FACTOR + CACHE_FACTOR:g})"


def base_disk_estimate(sizes: Sequence[int | None]) -> DiskEstimate:
    """Expected bytes for a base holding wheels of these sizes (None: unknown)."""
    known = sum(size for size in sizes if size is not None)
    unknown = sum(1 for size in sizes if size is None)
    wheels = known + unknown * UNKNOWN_WHEEL_BYTES
    return DiskEstimate(known, unknown, round(wheels * (LAYER_FACTOR + CACHE_FACTOR)))


def plan_disk_estimate(plan: BuildPlan) -> DiskEstimate:
    return base_disk_estimate([selected.size for selected in plan.heavy])


def disk_shortfall(estimate: DiskEstimate, storage: Storage) -> str | None:
    """A warning when the engine's free space is below what the base needs, else None."""
    if storage.free is None or storage.free >= estimate.expected:
        return None
    return (
        f"the base needs {estimate.describe()} in the engine's storage, but "
        f"{storage.root} has {format_bytes(storage.free)} free; free space "
        "(`docker builder prune`, `docker image prune`) or move the engine's data-root"
    )


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/uvbuild`` (``~/.cache/uvbuild``)."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "uvbuild"


def choose_dockerfile(plan: BuildPlan, options: BuildOptions) -> Path | None:
    """The user's Dockerfile to build, or None for the generated one."""
    project = Path(plan.project_dir)
    if options.file:
        candidate = Path(options.file)
        where = "--file"
    elif plan.config.dockerfile == GENERATED:
        return None
    elif plan.config.dockerfile:
        candidate = project / plan.config.dockerfile
        where = "tool.uvbuild.dockerfile"
    elif (project / "Dockerfile").is_file():
        candidate = project / "Dockerfile"
        where = "the project's Dockerfile"
    else:
        return None
    if not candidate.is_file():
        raise ConfigError(f"{where}: {candidate} does not exist")
    text = candidate.read_text(encoding="utf-8", errors="replace")
    if not render.uses_base(text):
        raise ConfigError(
            f"{candidate} ({where}) does not use the uvbuild base: start its Python stage with "
            f'`FROM {render.BASE_STAGE}`, or set tool.uvbuild.dockerfile = "{GENERATED}"'
        )
    return candidate


_UV_CHANGE = re.compile(r"(?:^|\s)([+-]) ([A-Za-z0-9._-]+)==(\S+)")


def wasted_base(lines: Sequence[str], heavy: Sequence[str], venv: str) -> list[str]:
    """Warnings when the app build reinstalled heavy packages or recreated the venv."""
    heavy_names = set(heavy)
    warnings = []
    reinstalled: dict[str, str] = {}
    recreated = False
    for line in lines:
        if "Removed virtual environment" in line or (
            "Creating virtual environment" in line and venv in line
        ):
            recreated = True
        match = _UV_CHANGE.search(line)
        if match and match.group(2).lower().replace("_", "-") in heavy_names:
            name = match.group(2).lower().replace("_", "-")
            reinstalled.setdefault(name, f"{match.group(1)} {name}=={match.group(3)}")
    if recreated:
        warnings.append(
            f"uv recreated the virtual environment {venv} after the base, so every heavy "
            "package was installed again: the base image's Python differs from the one uv "
            "picks in the app stages (check tool.uvbuild.python and .python-version)"
        )
    elif reinstalled:
        names = ", ".join(sorted(reinstalled))
        warnings.append(
            f"the app build reinstalled heavy package(s) from the base: {names}; the base "
            "holds another version or build of them than uv.lock selects for this target "
            "(check --platform, --python and the base image's glibc)"
        )
    return warnings


class Builder:
    """Carries out a plan: base first (reused or built), then the app."""

    def __init__(self, plan: BuildPlan, options: BuildOptions, engine: Engine, report: Reporter):
        self.plan = plan
        self.options = options
        self.engine = engine
        self.report = report
        self.user_dockerfile = choose_dockerfile(plan, options)
        self.engine_ok = True

    def run(self) -> BuildResult:
        plan, options = self.plan, self.options
        result = BuildResult(plan.tag, plan.key, "", dry_run=options.dry_run)
        result.dockerfile = str(self.user_dockerfile) if self.user_dockerfile else GENERATED
        load = self._check_engine()
        with self._workdir() as work:
            generated = self._write_inputs(work)
            self._base(work, generated, result)
            self._app(work, generated, load, result)
        return result

    @contextlib.contextmanager
    def _workdir(self) -> Iterator[Path]:
        """Where the generated inputs go: a temporary directory, except for a dry run,
        whose printed commands must still work after uvbuild exits."""
        if not self.options.dry_run:
            with tempfile.TemporaryDirectory(prefix="uvbuild-") as scratch:
                yield Path(scratch)
            return
        work = user_cache_dir() / "dry-run" / self.plan.key[:16]
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        self.report.info(f"the commands read the generated files in {work}")
        yield work

    def _check_engine(self) -> bool:
        """Check the engine and builder; returns whether the app image is loaded."""
        try:
            info = self.engine.check()
        except EngineUnavailable as exc:
            if not self.options.dry_run:
                raise
            self.report.warn(f"dry run without an engine, assuming the base must be built: {exc}")
            self.engine_ok = False
            return self.options.load if self.options.load is not None else True
        if info.driver != "docker":
            raise EngineUnavailable(
                f"builder {info.name!r} uses the {info.driver} driver, which cannot see images "
                f"in the local engine; {FIX_DRIVER}"
            )
        if self.options.load is None:
            return not self.options.push
        return self.options.load

    def _write_inputs(self, work: Path) -> Path:
        heavy_dir = work / "heavy"
        heavy_dir.mkdir()
        for heavy in render.heavy_files(self.plan):
            (heavy_dir / heavy.name).write_text(heavy.text, encoding="utf-8")
        (work / "empty").mkdir()
        generated = work / "Dockerfile"
        generated.write_text(render.dockerfile(self.plan, syntax=self.options.syntax))
        user_ignore = Path(self.plan.project_dir) / ".dockerignore"
        text = user_ignore.read_text(encoding="utf-8") if user_ignore.is_file() else None
        # BuildKit reads <Dockerfile>.dockerignore beside the Dockerfile before .dockerignore
        (work / "Dockerfile.dockerignore").write_text(render.dockerignore(text))
        return generated

    def base_request(self, work: Path, generated: Path, iidfile: Path | None) -> BuildRequest:
        """The base build: only the uvbuild-base target of the generated Dockerfile, from an
        empty context, with the heavy requirements as a named context."""
        plan, options = self.plan, self.options
        return BuildRequest(
            context=str(work / "empty"),
            file=str(generated),
            target=render.BASE_STAGE,
            build_contexts=((render.HEAVY_CONTEXT, str(work / "heavy")),),
            platforms=(plan.target.platform,),
            load=True,
            progress=options.progress,
            no_cache=options.rebuild_base,
            secrets=options.secrets,
            builder=options.builder,
            network=options.network,
            add_hosts=options.add_hosts,
            iidfile=str(iidfile) if iidfile else None,
        )

    def app_request(
        self, work: Path, generated: Path, load: bool, iidfile: Path | None, *, base_ref: str
    ) -> BuildRequest:
        """The app build, reading the base through the named context uvbuild-base."""
        plan, options = self.plan, self.options
        return BuildRequest(
            context=plan.project_dir,
            file=str(self.user_dockerfile or generated),
            tags=options.tags,
            target=options.target,
            build_args=options.build_args,
            # The frontend resolves every stage it parses, the replaced base stage too, so
            # the heavy context goes along although nothing reads it.
            build_contexts=(
                (render.BASE_STAGE, f"docker-image://{base_ref}"),
                (render.HEAVY_CONTEXT, str(work / "heavy")),
            ),
            platforms=(plan.target.platform,),
            load=load,
            push=options.push,
            progress=options.progress,
            no_cache=options.no_cache,
            secrets=options.secrets,
            ssh=options.ssh,
            labels=options.labels,
            builder=options.builder,
            network=options.network,
            add_hosts=options.add_hosts,
            cache_from=options.cache_from,
            cache_to=options.cache_to,
            iidfile=str(iidfile) if iidfile else None,
        )

    def _base(self, work: Path, generated: Path, result: BuildResult) -> None:
        plan, options = self.plan, self.options
        exists = self.engine_ok and self.engine.image_exists(plan.tag)
        if exists and not options.rebuild_base:
            result.base_action = "would reuse" if options.dry_run else "reused"
            self.report.step(f"reusing base {plan.tag} (heavy packages: {len(plan.heavy)})")
            return
        iidfile = work / "base.iid"
        request = self.base_request(work, generated, iidfile)
        action = "rebuilt" if exists else "built"
        if options.dry_run:
            result.base_action = f"would build ({action})"
            result.commands.append(self.engine.command_line(build_args(request)))
            result.commands.append(self.engine.command_line(["tag", "<image id>", plan.tag]))
            return
        self._check_disk(result)
        self.report.step(
            f"building base {plan.tag}: {len(plan.heavy)} heavy packages"
            + (" (forced by --rebuild-base)" if exists else "")
        )
        started = time.monotonic()
        try:
            self.engine.build(request, self.report.stream, step=f"the base build ({plan.tag})")
        except Interrupted as exc:
            raise Interrupted(
                f"{exc} while building the base: the build was stopped and {plan.tag} was "
                "not tagged; the next run builds it again",
                exc.signum,
            ) from exc
        image_id = iidfile.read_text().strip()
        # Tag only now: a base tag exists only for a complete, successful build.
        self.engine.tag(image_id, plan.tag)
        result.base_seconds = time.monotonic() - started
        result.base_action = action

    def _check_disk(self, result: BuildResult) -> None:
        """Warn before the base build when the engine's storage looks too small for it."""
        estimate = plan_disk_estimate(self.plan)
        if not estimate.expected:
            return
        storage = self.engine.storage()
        warning = disk_shortfall(estimate, storage)
        if warning:
            result.warnings.append(warning)
            self.report.warn(warning)
        elif storage.free is None:
            self.report.detail(f"free space in the engine's storage not measured: {storage.reason}")
        else:
            self.report.detail(
                f"the base needs {estimate.describe()}; {storage.root} has "
                f"{format_bytes(storage.free)} free"
            )

    def _app(self, work: Path, generated: Path, load: bool, result: BuildResult) -> None:
        plan, options = self.plan, self.options
        dockerfile = self.user_dockerfile or generated
        iidfile = work / "app.iid"
        request = self.app_request(work, generated, load, iidfile, base_ref=plan.tag)
        result.tags = options.tags
        if options.dry_run:
            result.commands.append(self.engine.command_line(build_args(request)))
            return
        self.report.step(
            "building the app on the base" + (f" with {dockerfile}" if self.user_dockerfile else "")
        )
        lines: list[str] = []

        def sink(line: str) -> None:
            lines.append(line)
            self.report.stream(line)

        started = time.monotonic()
        self.engine.build(request, sink, step="the app build")
        result.app_seconds = time.monotonic() - started
        wasted = wasted_base(lines, [s.name for s in plan.heavy], plan.config.venv)
        result.warnings += wasted
        for warning in wasted:
            self.report.warn(warning)
        if iidfile.is_file() and load:
            result.image_id = iidfile.read_text().strip()
            result.layers = self._layer_report(result.image_id)

    def _layer_report(self, image_id: str) -> list[LayerReport]:
        try:
            base = set(self.engine.diff_ids(self.plan.tag))
            layers = self.engine.image_layers(image_id)
        except UvbuildError as exc:
            self.report.warn(f"cannot read the image's layers: {exc}")
            return []
        return [
            LayerReport(layer.diff_id, layer.size, layer.diff_id in base, layer.created_by)
            for layer in layers
        ]
