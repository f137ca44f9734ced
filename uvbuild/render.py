"""BuildPlan -> the generated Dockerfile and the files its base stage reads.

Stages:
  uvbuild-base  the base image, a venv and exactly the heavy packages, installed by name
                from the index the lock records (so a later ``uv sync`` keeps them)
  uvbuild-deps  the light dependencies: ``uv sync --frozen --no-install-project``
  uvbuild-app   the project itself: ``uv sync --frozen --no-editable``

The heavy requirements reach the base stage through the named context ``uvbuild-heavy``,
so nothing is written into the user's tree. When the base already exists, the app build
passes ``--build-context uvbuild-base=docker-image://<tag>``, which replaces the stage.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass

from uvbuild import __version__
from uvbuild.hashing import RECIPE_VERSION
from uvbuild.model import BuildPlan, Request, SelectedPackage

BASE_STAGE = "uvbuild-base"
DEPS_STAGE = "uvbuild-deps"
APP_STAGE = "uvbuild-app"
HEAVY_CONTEXT = "uvbuild-heavy"
HEAVY_MOUNT = "/tmp/uvbuild-heavy"
APP_DIR = "/app"
UV_CACHE = "/root/.cache/uv"
LABEL_PREFIX = "io.uvbuild"

# What a generated build never needs from the project directory, on top of the user's
# own .dockerignore: a local venv would only bloat the app layer.
DEFAULT_IGNORES = (
    ".venv",
    "**/__pycache__",
    "**/*.pyc",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".tox",
    ".nox",
)

_USES_BASE = re.compile(
    rf"^\s*FROM\s+(?:--\S+\s+)*{BASE_STAGE}(?:\s|$)"
    rf"|^\s*(?:COPY|ADD)\s+(?:--\S+\s+)*?--from={BASE_STAGE}(?:\s|$)"
    rf"|^\s*RUN\s+(?:--\S+\s+)*?--mount=\S*\bfrom={BASE_STAGE}(?:[\s,]|$)",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True, slots=True)
class HeavyFile:
    """One requirements file: the heavy packages that come from one index."""

    name: str
    index: str
    text: str
    hashed: bool


def heavy_files(plan: BuildPlan) -> tuple[HeavyFile, ...]:
    """Pinned, hashed requirements, one file per index, in a stable order."""
    by_index: dict[str, list[SelectedPackage]] = {}
    for selected in plan.heavy:
        by_index.setdefault(selected.package.source.location, []).append(selected)
    files = []
    for number, index in enumerate(sorted(by_index), start=1):
        packages = sorted(by_index[index], key=lambda s: s.name)
        # --require-hashes is all or nothing, and a few indexes publish no hashes.
        hashed = all(s.wheel is not None and s.wheel.hash for s in packages)
        lines = []
        for selected in packages:
            line = f"{selected.name}=={selected.version}"
            if hashed and selected.wheel is not None:
                line += f" --hash={selected.wheel.hash}"
            lines.append(line)
        text = "\n".join(lines) + "\n"
        files.append(HeavyFile(f"heavy-{number}.txt", index, text, hashed))
    return tuple(files)


def sync_flags(request: Request) -> list[str]:
    """The ``uv sync`` flags that select the same packages as the plan."""
    flags: list[str] = []
    if request.package:
        flags += ["--package", request.package]
    if request.all_packages:
        flags.append("--all-packages")
    if request.all_extras:
        flags.append("--all-extras")
    for extra in request.extras:
        flags += ["--extra", extra]
    for group in request.groups:
        flags += ["--group", group]
    for group in request.only_groups:
        flags += ["--only-group", group]
    if request.no_dev:
        flags.append("--no-dev")
    return flags


def _env(pairs: Iterable[tuple[str, str]]) -> str:
    body = " \\\n    ".join(f"{key}={_quote(value)}" for key, value in pairs)
    return f"ENV {body}"


def _quote(value: str) -> str:
    return value if re.fullmatch(r"[A-Za-z0-9_./:@+=,-]+", value) else f'"{value}"'


def _cache_mount() -> str:
    return f"--mount=type=cache,target={UV_CACHE}"


def base_labels(plan: BuildPlan) -> dict[str, str]:
    packages = " ".join(f"{s.name}=={s.version}" for s in plan.heavy)
    return {
        f"{LABEL_PREFIX}.base": "1",
        f"{LABEL_PREFIX}.key": plan.key,
        f"{LABEL_PREFIX}.project": plan.project_name or "",
        f"{LABEL_PREFIX}.recipe": RECIPE_VERSION,
        f"{LABEL_PREFIX}.platform": plan.target.platform,
        f"{LABEL_PREFIX}.packages": packages,
    }


def base_stage(plan: BuildPlan) -> str:
    config = plan.config
    venv = config.venv
    env = [
        ("UV_LINK_MODE", "copy"),
        ("UV_PYTHON_DOWNLOADS", "never"),
        ("UV_PYTHON", plan.target.python),
        ("UV_PROJECT_ENVIRONMENT", venv),
        ("UV_COMPILE_BYTECODE", "1" if config.compile_bytecode else "0"),
        ("VIRTUAL_ENV", venv),
    ]
    install = [f"uv venv {shlex.quote(venv)}"]
    for heavy in heavy_files(plan):
        command = ["uv", "pip", "install", "--python", venv, "--no-deps"]
        if heavy.hashed:
            command.append("--require-hashes")
        command += ["--index-url", heavy.index, "-r", f"{HEAVY_MOUNT}/{heavy.name}"]
        install.append(shlex.join(command))
    run = " && \\\n    ".join(install)
    labels = " \\\n      ".join(f'{k}="{v}"' for k, v in base_labels(plan).items())
    return "\n".join(
        [
            f"FROM {config.resolved_base_image} AS {BASE_STAGE}",
            f"COPY --from={config.uv_image} /uv /uvx /bin/",
            _env(env),
            f"RUN {_cache_mount()} \\",
            f"    --mount=type=bind,from={HEAVY_CONTEXT},target={HEAVY_MOUNT} \\",
            f"    {run}",
            f"LABEL {labels}",
        ]
    )


def deps_stage(plan: BuildPlan) -> str:
    flags = sync_flags(plan.request)
    scope = "--no-install-workspace" if plan.members else "--no-install-project"
    copies = ["COPY pyproject.toml uv.lock ./"]
    for member in plan.members:
        copies.append(f"COPY {member}/pyproject.toml {member}/pyproject.toml")
    command = shlex.join(["uv", "sync", "--frozen", scope, *flags])
    return "\n".join(
        [
            f"FROM {BASE_STAGE} AS {DEPS_STAGE}",
            f"WORKDIR {APP_DIR}",
            *copies,
            f"RUN {_cache_mount()} \\",
            f"    {command}",
        ]
    )


def app_stage(plan: BuildPlan) -> str:
    command = shlex.join(["uv", "sync", "--frozen", "--no-editable", *sync_flags(plan.request)])
    return "\n".join(
        [
            f"FROM {DEPS_STAGE} AS {APP_STAGE}",
            "COPY . .",
            f"RUN {_cache_mount()} \\",
            f"    {command}",
            f'ENV PATH="{plan.config.venv}/bin:$PATH"',
        ]
    )


def dockerfile(plan: BuildPlan, *, syntax: str | None = None) -> str:
    header = [] if syntax is None else [f"# syntax={syntax}"]
    header += [
        f"# Generated by uvbuild {__version__} for {plan.project_name or plan.project_dir}.",
        f"# Base key {plan.key} -> {plan.tag}",
        f"# Build it with `uvbuild build`, which passes the named context {HEAVY_CONTEXT}",
        f"# (the heavy requirements) or replaces the {BASE_STAGE} stage with the built base.",
    ]
    parts = ["\n".join(header), base_stage(plan), deps_stage(plan), app_stage(plan)]
    return "\n\n".join(parts) + "\n"


def dockerignore(user_ignore: str | None) -> str:
    """The ignore file for a generated build: the user's rules, then uvbuild's defaults."""
    lines = [user_ignore.rstrip("\n")] if user_ignore else []
    lines.append("# added by uvbuild")
    lines += DEFAULT_IGNORES
    return "\n".join(lines) + "\n"


def uses_base(dockerfile_text: str) -> bool:
    """Whether a user Dockerfile refers to the base (``FROM uvbuild-base``, ``--from=``).

    Comment lines do not count: a commented-out ``# COPY --from=uvbuild-base`` uses nothing.
    """
    code = "\n".join(
        line for line in dockerfile_text.splitlines() if not line.lstrip().startswith("#")
    )
    return _USES_BASE.search(code) is not None
