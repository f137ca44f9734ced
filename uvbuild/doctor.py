"""``uvbuild doctor``: is this machine ready to build? Each check passes, warns or fails
with a one-line fix; checks that cannot run because an earlier one failed are skipped.

Nothing here prints or exits: :func:`diagnose` returns a :class:`Report` and the CLI shows
it. Every Docker call goes through the Engine's verbs (``uvbuild.engine``); tests pass a
fake engine.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from uvbuild.core.model import BuildPlan
from uvbuild.core.units import format_size
from uvbuild.docker.facts import (
    FIX_BUILDER,
    FIX_BUILDX,
    FIX_CLI,
    FIX_DRIVER,
    FIX_ENGINE,
    BuilderInfo,
    EngineInfo,
    Probe,
    Storage,
)
from uvbuild.errors import ConfigError, EngineUnavailable, LockError, UvbuildError
from uvbuild.flow.inputs import disk_shortfall, plan_disk_estimate

DOCTOR_SCHEMA = "uvbuild.doctor/1"
STATUSES = ("pass", "warn", "fail", "skip")

FIX_FRONTEND = (
    "upgrade Docker Engine (23 or newer) and the buildx plugin (0.8 or newer), or build "
    "with `uvbuild build --syntax docker/dockerfile:1` to use a current Dockerfile frontend"
)
FIX_PROJECT_MISSING = "run `uvbuild doctor` in your uv project or pass its directory"
FIX_BASE_REPO = (
    "start the registry or correct tool.uvbuild.base-repo (--base-repo); "
    "run `docker login <registry>` when it needs credentials"
)


class DoctorEngine(Protocol):
    """The Engine verbs doctor uses (``uvbuild.docker.engine.Engine`` has them all)."""

    builder: str | None

    def docker_path(self) -> str | None: ...
    def cli_version(self) -> str: ...
    def engine_info(self) -> EngineInfo: ...
    def buildx_version(self) -> str: ...
    def inspect_builder(self) -> BuilderInfo: ...
    def probe_frontend(self, workdir: Path) -> Probe: ...
    def probe_push(self, repo: str, workdir: Path) -> Probe: ...
    def resolve_image(self, ref: str) -> Probe: ...
    def image_exists(self, ref: str) -> bool: ...
    def storage(self, local: bool | None = None) -> Storage: ...


@dataclass(frozen=True, slots=True)
class Check:
    """One check: ``status`` is pass, warn, fail or skip; ``fix`` says what to do."""

    name: str  # stable id, as in the JSON document
    title: str
    status: str
    detail: str
    fix: str | None = None
    required: bool = True  # a failed required check makes doctor exit non-zero
    exit_code: int = EngineUnavailable.exit_code

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "status": self.status,
            "required": self.required,
            "detail": self.detail,
            "fix": self.fix,
        }


@dataclass(frozen=True, slots=True)
class Report:
    checks: tuple[Check, ...]

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status == "fail" and c.required)

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": DOCTOR_SCHEMA,
            "ok": self.ok,
            "checks": [check.to_dict() for check in self.checks],
            "counts": {s: sum(1 for c in self.checks if c.status == s) for s in STATUSES},
        }

    def error(self) -> UvbuildError | None:
        """The error the CLI exits with: the first failed required check, in one line."""
        if not self.failed:
            return None
        first = self.failed[0]
        more = len(self.failed) - 1
        suffix = f" (and {more} more failed check{'s' if more > 1 else ''})" if more else ""
        message = f"{first.title}: {first.detail}" + (f"; {first.fix}" if first.fix else "")
        message += suffix
        kinds = {ConfigError.exit_code: ConfigError, LockError.exit_code: LockError}
        return kinds.get(first.exit_code, EngineUnavailable)(message)


def _what(exc: Exception, fix: str) -> str:
    """The message of an engine error without the fix it ends with."""
    return str(exc).removesuffix(f"; {fix}")


def is_registry_repo(repo: str) -> bool:
    """A repository whose first part names a registry host (``host.tld/...``,
    ``host:5000/...``, ``localhost/...``) is pushed to; other names stay local."""
    first, sep, _ = repo.partition("/")
    return bool(sep) and ("." in first or ":" in first or first == "localhost")


def diagnose(
    engine: DoctorEngine,
    project_dir: Path,
    plan: BuildPlan | None,
    problem: UvbuildError | None,
    workdir: Path | None = None,
) -> Report:
    """Run every check in order; ``plan`` is None when the project could not be planned
    (``problem`` says why, or is None when there is no project at ``project_dir``)."""
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="uvbuild-doctor-") as scratch:
            return diagnose(engine, project_dir, plan, problem, Path(scratch))
    checks: list[Check] = []

    def add(name: str, title: str, status: str, detail: str, fix: str | None = None, **kw: Any):
        checks.append(Check(name, title, status, detail, fix, **kw))

    def skip(name: str, title: str, why: str) -> None:
        add(name, title, "skip", why)

    # -- docker CLI -------------------------------------------------------------------------
    path = engine.docker_path()
    if path is None:
        add("docker-cli", "docker CLI", "fail", "no `docker` on PATH", FIX_CLI)
    else:
        add("docker-cli", "docker CLI", "pass", f"{path} ({engine.cli_version()})")
    has_cli = path is not None

    # -- engine -----------------------------------------------------------------------------
    info: EngineInfo | None = None
    if has_cli:
        try:
            info = engine.engine_info()
        except EngineUnavailable as exc:
            add("engine", "engine", "fail", _what(exc, FIX_ENGINE), FIX_ENGINE)
        else:
            add("engine", "engine", "pass", f"Docker Engine {info.version} at {info.where}")
    else:
        skip("engine", "engine", "needs the docker CLI")

    # -- buildx plugin (client side: needs no engine) ----------------------------------------
    has_buildx = False
    if has_cli:
        try:
            version = engine.buildx_version()
        except EngineUnavailable as exc:
            add("buildx", "buildx plugin", "fail", _what(exc, FIX_BUILDX), FIX_BUILDX)
        else:
            has_buildx = True
            add("buildx", "buildx plugin", "pass", version)
    else:
        skip("buildx", "buildx plugin", "needs the docker CLI")

    # -- builder ----------------------------------------------------------------------------
    builder: BuilderInfo | None = None
    title = "builder"
    if info is None or not has_buildx:
        skip("builder", title, "needs the engine and the buildx plugin")
    else:
        try:
            builder = engine.inspect_builder()
        except EngineUnavailable as exc:
            add("builder", title, "fail", _what(exc, FIX_BUILDER), FIX_BUILDER)
        else:
            buildkit = builder.buildkit or "?"
            if buildkit.startswith("v0.0.0"):
                buildkit += ": no version reported, features are probed below"
            detail = f"{builder.name} ({builder.driver} driver, BuildKit {buildkit})"
            registry = plan is not None and is_registry_repo(plan.base_repo)
            if builder.driver != "docker" and not registry:
                add(
                    "builder",
                    title,
                    "fail",
                    f"{detail}: uvbuild needs the docker driver to use the base it builds, "
                    "or a registry base-repo (--base-repo)",
                    FIX_DRIVER,
                )
                builder = None
            else:
                add("builder", title, "pass", detail)

    # -- Dockerfile frontend features ---------------------------------------------------------
    title = "Dockerfile features"
    if builder is None:
        skip("frontend", title, "needs a usable builder")
    else:
        probe = engine.probe_frontend(workdir)
        if probe.ok:
            add("frontend", title, "pass", f"named build contexts and COPY --link: {probe.detail}")
        else:
            add(
                "frontend",
                title,
                "fail",
                f"named build contexts or COPY --link unsupported: {probe.detail}",
                FIX_FRONTEND,
            )

    # -- project ----------------------------------------------------------------------------
    if plan is not None:
        heavy = len(plan.heavy)
        add(
            "project",
            "project",
            "pass",
            f"{plan.project_name or plan.project_dir}: {heavy} heavy and {len(plan.light)} "
            f"light packages, base {plan.tag}",
        )
    elif problem is None:
        add(
            "project",
            "project",
            "warn",
            f"no uv project at {project_dir} (no pyproject.toml): the image, base "
            "repository and disk checks are skipped",
            FIX_PROJECT_MISSING,
            required=False,
        )
    else:
        add(
            "project",
            "project",
            "fail",
            str(problem),
            None,  # the message says what to do
            exit_code=problem.exit_code,
        )

    # -- images -----------------------------------------------------------------------------
    for name, title in (("base-image", "base image"), ("uv-image", "uv image")):
        if plan is None:
            skip(name, title, "needs a planned project")
        elif info is None:
            skip(name, title, "needs the engine")
        else:
            ref = plan.config.resolved_base_image if name == "base-image" else plan.config.uv_image
            probe = _resolve(engine, ref, has_buildx)
            fix = (
                f"pull it (`docker pull {ref}`), log in to its registry, or set "
                f"tool.uvbuild.{name} (--{name}) to an image you have"
            )
            add(
                name, title, "pass" if probe.ok else "fail", probe.detail, None if probe.ok else fix
            )

    # -- base repository --------------------------------------------------------------------
    title = "base repository"
    if plan is None:
        skip("base-repo", title, "needs a planned project")
    elif plan.config.base_repo is None or not is_registry_repo(plan.base_repo):
        skip("base-repo", title, f"{plan.base_repo} is local: bases stay in the engine")
    elif builder is None:
        skip("base-repo", title, "needs a usable builder")
    else:
        probe = engine.probe_push(plan.base_repo, workdir)
        if probe.ok:
            add("base-repo", title, "pass", f"{plan.base_repo} is reachable and writable")
        else:
            add("base-repo", title, "fail", f"{plan.base_repo}: {probe.detail}", FIX_BASE_REPO)

    # -- disk -------------------------------------------------------------------------------
    title = "disk"
    if info is None:
        skip("disk", title, "needs the engine")
    else:
        checks.append(_disk(engine, plan, info))
    return Report(tuple(checks))


def _resolve(engine: DoctorEngine, ref: str, has_buildx: bool) -> Probe:
    if has_buildx:
        return engine.resolve_image(ref)
    if engine.image_exists(ref):
        return Probe(True, f"{ref} is in the engine")
    return Probe(False, f"{ref} is not in the engine (the registry needs buildx to ask)")


def _disk(engine: DoctorEngine, plan: BuildPlan | None, info: EngineInfo) -> Check:
    make: Callable[..., Check] = lambda status, detail, fix=None: Check(  # noqa: E731
        "disk", "disk", status, detail, fix, required=False
    )
    storage = engine.storage(local=info.local)
    if storage.free is None:
        return make(
            "warn",
            f"free space of the engine's storage not measured: {storage.reason}",
            "check free space where the engine keeps its data "
            "(`docker system df`, and `df` on the engine's host)",
        )
    free = f"{format_size(storage.free)} free in {storage.root}"
    if plan is None:
        return make("pass", f"{free} (no project to compare with)")
    if plan.heavy and engine.image_exists(plan.tag):
        return make("pass", f"{free}; the base {plan.tag} is already built")
    estimate = plan_disk_estimate(plan)
    warning = disk_shortfall(estimate, storage)
    if warning:
        return make(
            "warn",
            f"{free}, the base needs {estimate.describe()}",
            "free space (`docker builder prune`, `docker image prune`) or move the "
            "engine's data-root",
        )
    return make("pass", f"{free}; the base needs {estimate.describe()}")


def project_problem(path: Path, make_plan: Callable[[], BuildPlan]) -> tuple[Any, Any]:
    """``(plan, None)``, ``(None, error)``, or ``(None, None)`` when ``path`` holds no
    project (no pyproject.toml), which doctor reports as a warning."""
    if path.is_dir() and not (path / "pyproject.toml").is_file():
        return None, None
    try:
        return make_plan(), None
    except UvbuildError as exc:
        return None, exc
    except OSError as exc:  # pragma: no cover - unreadable directories
        return None, ConfigError(f"{path}: {exc}")
