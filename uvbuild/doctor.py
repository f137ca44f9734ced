"""``uvbuild doctor``: is this machine ready to build? Each check passes, warns or fails
with a one-line fix; checks that cannot run because an earlier one failed are skipped.

Nothing here prints or exits: :func:`diagnose` returns a :class:`Report` and the CLI shows
it. Every Docker call goes through the verbs of ``uvbuild.docker.verbs.EngineLike``; tests
pass ``tests.fakes.FakeEngine``. Whether the builder's driver can serve the base repository
is the rule of ``uvbuild.flow.decide``, which ``build`` and ``bake`` follow too.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uvbuild.core.model import BuildPlan
from uvbuild.core.units import format_size
from uvbuild.docker.facts.faults import FIX_BUILDER, FIX_BUILDX, FIX_CLI, FIX_ENGINE
from uvbuild.docker.facts.values import BuilderInfo, EngineInfo, Probe
from uvbuild.docker.verbs import EngineLike
from uvbuild.errors import ConfigError, EngineUnavailable, UvbuildError
from uvbuild.flow.decide import FIX_DRIVER, driver_problem, is_registry_repo
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


@dataclass(frozen=True, slots=True)
class Check:
    """One check: ``status`` is pass, warn, fail or skip; ``fix`` says what to do."""

    name: str  # stable id, as in the JSON document
    title: str
    status: str
    detail: str
    fix: str | None = None
    required: bool = True  # a failed required check makes doctor exit non-zero
    error: type[UvbuildError] = EngineUnavailable  # what the CLI raises when it fails first

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
        return first.error(message + suffix)


def diagnose(
    engine: EngineLike,
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
    checkup = _Checkup(engine, plan, workdir)
    # In this order: a check reads what the checks before it found (kept on ``checkup``).
    return Report(
        (
            checkup.check_docker_cli(),
            checkup.check_engine(),
            checkup.check_buildx(),
            checkup.check_builder(),
            checkup.check_frontend(),
            check_project(project_dir, plan, problem),
            checkup.check_image("base-image", "base image"),
            checkup.check_image("uv-image", "uv image"),
            checkup.check_base_repo(),
            checkup.check_disk(),
        )
    )


def _skip(name: str, title: str, why: str) -> Check:
    return Check(name, title, "skip", why)


def _failed(name: str, title: str, exc: EngineUnavailable, fix: str) -> Check:
    """A check the engine refused: its message without the fix it ends with, and the fix
    apart, so it is said once."""
    return Check(name, title, "fail", str(exc).removesuffix(f"; {fix}"), fix)


@dataclass(slots=True)
class _Checkup:
    """The checks that ask the engine, and what each found for the later ones."""

    engine: EngineLike
    plan: BuildPlan | None
    workdir: Path
    cli: bool = False
    info: EngineInfo | None = None  # the engine answered
    buildx: bool = False
    builder: BuilderInfo | None = None  # a buildx builder uvbuild can use

    def check_docker_cli(self) -> Check:
        path = self.engine.docker_path()
        if path is None:
            return Check("docker-cli", "docker CLI", "fail", "no `docker` on PATH", FIX_CLI)
        self.cli = True
        return Check("docker-cli", "docker CLI", "pass", f"{path} ({self.engine.cli_version()})")

    def check_engine(self) -> Check:
        if not self.cli:
            return _skip("engine", "engine", "needs the docker CLI")
        try:
            info = self.engine.engine_info()
        except EngineUnavailable as exc:
            return _failed("engine", "engine", exc, FIX_ENGINE)
        self.info = info
        return Check("engine", "engine", "pass", f"Docker Engine {info.version} at {info.where}")

    def check_buildx(self) -> Check:
        """The buildx plugin: client side, so it needs no engine."""
        if not self.cli:
            return _skip("buildx", "buildx plugin", "needs the docker CLI")
        try:
            version = self.engine.buildx_version()
        except EngineUnavailable as exc:
            return _failed("buildx", "buildx plugin", exc, FIX_BUILDX)
        self.buildx = True
        return Check("buildx", "buildx plugin", "pass", version)

    def check_builder(self) -> Check:
        """The selected buildx builder runs, and its driver can use the base it builds
        (the rule of flow.decide: the docker driver, or a registry base-repo)."""
        if self.info is None or not self.buildx:
            return _skip("builder", "builder", "needs the engine and the buildx plugin")
        try:
            builder = self.engine.inspect_builder()
        except EngineUnavailable as exc:
            return _failed("builder", "builder", exc, FIX_BUILDER)
        buildkit = builder.buildkit or "?"
        if buildkit.startswith("v0.0.0"):
            buildkit += ": no version reported, features are probed below"
        detail = f"{builder.name} ({builder.driver} driver, BuildKit {buildkit})"
        registry = self.plan is not None and is_registry_repo(self.plan.base_repo)
        if driver_problem(builder.driver, builder.name, registry):
            detail += (
                ": uvbuild needs the docker driver to use the base it builds, "
                "or a registry base-repo (--base-repo)"
            )
            return Check("builder", "builder", "fail", detail, FIX_DRIVER)
        self.builder = builder
        return Check("builder", "builder", "pass", detail)

    def check_frontend(self) -> Check:
        title = "Dockerfile features"
        if self.builder is None:
            return _skip("frontend", title, "needs a usable builder")
        probe = self.engine.probe_frontend(self.workdir)
        if probe.ok:
            detail = f"named build contexts and COPY --link: {probe.detail}"
            return Check("frontend", title, "pass", detail)
        detail = f"named build contexts or COPY --link unsupported: {probe.detail}"
        return Check("frontend", title, "fail", detail, FIX_FRONTEND)

    def check_image(self, name: str, title: str) -> Check:
        """``base-image`` or ``uv-image``: the engine or its registry has it."""
        if self.plan is None:
            return _skip(name, title, "needs a planned project")
        if self.info is None:
            return _skip(name, title, "needs the engine")
        config = self.plan.config
        ref = config.resolved_base_image if name == "base-image" else config.uv_image
        probe = self._resolve(ref)
        if probe.ok:
            return Check(name, title, "pass", probe.detail)
        fix = (
            f"pull it (`docker pull {ref}`), log in to its registry, or set "
            f"tool.uvbuild.{name} (--{name}) to an image you have"
        )
        return Check(name, title, "fail", probe.detail, fix)

    def _resolve(self, ref: str) -> Probe:
        if self.buildx:
            return self.engine.resolve_image(ref)
        if self.engine.image_exists(ref):
            return Probe(True, f"{ref} is in the engine")
        return Probe(False, f"{ref} is not in the engine (the registry needs buildx to ask)")

    def check_base_repo(self) -> Check:
        title = "base repository"
        plan = self.plan
        if plan is None:
            return _skip("base-repo", title, "needs a planned project")
        repo = plan.base_repo
        if plan.config.base_repo is None or not is_registry_repo(repo):
            return _skip("base-repo", title, f"{repo} is local: bases stay in the engine")
        if self.builder is None:
            return _skip("base-repo", title, "needs a usable builder")
        probe = self.engine.probe_push(repo, self.workdir)
        if probe.ok:
            return Check("base-repo", title, "pass", f"{repo} is reachable and writable")
        return Check("base-repo", title, "fail", f"{repo}: {probe.detail}", FIX_BASE_REPO)

    def check_disk(self) -> Check:
        """Free space where the engine keeps its data, against what the base needs; only
        ever a warning."""
        if self.info is None:
            return _skip("disk", "disk", "needs the engine")
        storage = self.engine.storage(local=self.info.local)
        if storage.free is None:
            return _disk(
                "warn",
                f"free space of the engine's storage not measured: {storage.reason}",
                "check free space where the engine keeps its data "
                "(`docker system df`, and `df` on the engine's host)",
            )
        free = f"{format_size(storage.free)} free in {storage.root}"
        plan = self.plan
        if plan is None:
            return _disk("pass", f"{free} (no project to compare with)")
        if plan.heavy and self.engine.image_exists(plan.tag):
            return _disk("pass", f"{free}; the base {plan.tag} is already built")
        estimate = plan_disk_estimate(plan)
        if disk_shortfall(estimate, storage):
            return _disk(
                "warn",
                f"{free}, the base needs {estimate.describe()}",
                "free space (`docker builder prune`, `docker image prune`) or move the "
                "engine's data-root",
            )
        return _disk("pass", f"{free}; the base needs {estimate.describe()}")


def _disk(status: str, detail: str, fix: str | None = None) -> Check:
    return Check("disk", "disk", status, detail, fix, required=False)


def check_project(project_dir: Path, plan: BuildPlan | None, problem: UvbuildError | None) -> Check:
    """The project was planned; no project is a warning, a broken one fails with the
    class (so the exit code) of its error."""
    if plan is not None:
        detail = (
            f"{plan.project_name or plan.project_dir}: {len(plan.heavy)} heavy and "
            f"{len(plan.light)} light packages, base {plan.tag}"
        )
        return Check("project", "project", "pass", detail)
    if problem is None:
        detail = (
            f"no uv project at {project_dir} (no pyproject.toml): the image, base "
            "repository and disk checks are skipped"
        )
        return Check("project", "project", "warn", detail, FIX_PROJECT_MISSING, required=False)
    # the message says what to do
    return Check("project", "project", "fail", str(problem), None, error=type(problem))


def project_problem(
    path: Path, make_plan: Callable[[], BuildPlan]
) -> tuple[BuildPlan | None, UvbuildError | None]:
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
