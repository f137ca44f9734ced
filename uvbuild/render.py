"""BuildPlan -> the generated Dockerfile and the files its base stage reads.

Stages:
  uvbuild-layer-<group>  (only with two or more layer groups) one per group of heavy
                packages: the same venv as the base, that group installed, and the files
                the install added moved to /uvbuild-layer with the venv's layout
  uvbuild-base  the base image, a venv and exactly the heavy packages, installed by name
                from the index the lock records (so a later ``uv sync`` keeps them); with
                layer groups it creates the venv and takes each group's files with
                ``COPY --link``, so a group's layer does not depend on the layers below it
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
from uvbuild.hashing import LAYER_RECIPE_VERSION, RECIPE_VERSION
from uvbuild.model import BuildPlan, LayerGroup, Request, SelectedPackage

BASE_STAGE = "uvbuild-base"
LAYER_STAGE_PREFIX = "uvbuild-layer-"
# Where a layer stage gathers the files its install added, laid out as in the venv.
LAYER_DIR = "/uvbuild-layer"
VENV_BEFORE = "/tmp/uvbuild-venv-before"
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
    layer: str | None = None  # the layer group it installs; None: the single base layer


def heavy_files(plan: BuildPlan) -> tuple[HeavyFile, ...]:
    """Pinned, hashed requirements, one file per index (and per layer group), in a stable
    order: ``heavy-<n>.txt``, or ``layer-<group>-<n>.txt`` with layer groups."""
    if not plan.layers:
        return _requirement_files(plan.heavy, "heavy", None)
    files: list[HeavyFile] = []
    for group in plan.layers:
        selected = tuple(choice.selected for choice in group.packages)
        files += _requirement_files(selected, f"layer-{group.name}", group.name)
    return tuple(files)


def _requirement_files(
    heavy: Iterable[SelectedPackage], prefix: str, layer: str | None
) -> tuple[HeavyFile, ...]:
    by_index: dict[str, list[SelectedPackage]] = {}
    for selected in heavy:
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
        files.append(HeavyFile(f"{prefix}-{number}.txt", index, text, hashed, layer))
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
    labels = {
        f"{LABEL_PREFIX}.base": "1",
        f"{LABEL_PREFIX}.key": plan.key,
        f"{LABEL_PREFIX}.project": plan.project_name or "",
        f"{LABEL_PREFIX}.recipe": RECIPE_VERSION,
        f"{LABEL_PREFIX}.platform": plan.target.platform,
        f"{LABEL_PREFIX}.packages": packages,
    }
    if plan.layers:
        labels[f"{LABEL_PREFIX}.layer-recipe"] = LAYER_RECIPE_VERSION
        labels[f"{LABEL_PREFIX}.layers"] = " ".join(group.name for group in plan.layers)
        for group in plan.layers:
            labels[f"{LABEL_PREFIX}.layer.{group.name}.key"] = group.key
    return labels


def layer_stage_name(group: LayerGroup) -> str:
    return f"{LAYER_STAGE_PREFIX}{group.name}"


def _base_env(plan: BuildPlan) -> str:
    config = plan.config
    return _env(
        [
            ("UV_LINK_MODE", "copy"),
            ("UV_PYTHON_DOWNLOADS", "never"),
            ("UV_PYTHON", plan.target.python),
            ("UV_PROJECT_ENVIRONMENT", config.venv),
            ("UV_COMPILE_BYTECODE", "1" if config.compile_bytecode else "0"),
            ("VIRTUAL_ENV", config.venv),
        ]
    )


def _install_commands(plan: BuildPlan, files: Iterable[HeavyFile]) -> list[str]:
    commands = []
    for heavy in files:
        command = ["uv", "pip", "install", "--python", plan.config.venv, "--no-deps"]
        if heavy.hashed:
            command.append("--require-hashes")
        command += ["--index-url", heavy.index, "-r", f"{HEAVY_MOUNT}/{heavy.name}"]
        commands.append(shlex.join(command))
    return commands


def _labels(plan: BuildPlan) -> str:
    return "LABEL " + " \\\n      ".join(f'{k}="{v}"' for k, v in base_labels(plan).items())


def _stage_start(plan: BuildPlan, stage: str) -> list[str]:
    """The first lines every stage that holds the venv shares (BuildKit builds them once)."""
    config = plan.config
    return [
        f"FROM {config.resolved_base_image} AS {stage}",
        f"COPY --from={config.uv_image} /uv /uvx /bin/",
        _base_env(plan),
    ]


# A layer stage keeps exactly what its install added to the venv: every path that did not
# exist before and whose parent did (the top of each new tree: a package directory, its
# .dist-info, a console script in bin/) moves to LAYER_DIR at the same relative place.
# The venv's own files (pyvenv.cfg, the interpreter links, activate scripts) stay behind,
# so the base keeps the ones its own `uv venv` wrote, as a single install would.
_NEW_TOPS = (
    "find . | awk 'NR == FNR { old[$0]; next } "
    '!($0 in old) { parent = $0; sub("/[^/]*$", "", parent); if (parent in old) print }\' '
    f"{VENV_BEFORE} - | \\\n"
    "    while IFS= read -r path; do "
    f'mkdir -p "{LAYER_DIR}/${{path%/*}}" && mv "$path" "{LAYER_DIR}/$path" || exit 1; done'
)


def layer_stage(plan: BuildPlan, group: LayerGroup) -> str:
    """``uvbuild-layer-<group>``: the group's packages installed alone into a venv like
    the base's, and what they added gathered in LAYER_DIR for ``COPY --link``."""
    venv = shlex.quote(plan.config.venv)
    files = [f for f in heavy_files(plan) if f.layer == group.name]
    mounts = [
        f"    --mount=type=bind,from={HEAVY_CONTEXT},source={f.name},"
        f"target={HEAVY_MOUNT}/{f.name} \\"
        for f in files
    ]
    steps = [
        f"uv venv {venv}",
        f"cd {venv}",
        f"find . > {VENV_BEFORE}",
        *_install_commands(plan, files),
        f"mkdir {LAYER_DIR}",
        _NEW_TOPS,
    ]
    run = " && \\\n    ".join(steps)
    return "\n".join(
        [
            f"# layer {group.name}: {' '.join(c.selected.name for c in group.packages)}",
            f"# key {group.key}",
            *_stage_start(plan, layer_stage_name(group)),
            f"RUN {_cache_mount()} \\",
            *mounts,
            f"    {run}",
        ]
    )


def base_stage(plan: BuildPlan) -> str:
    venv = plan.config.venv
    if plan.layers:
        copies = [
            f"COPY --link --from={layer_stage_name(group)} {LAYER_DIR}/ {venv}/"
            for group in plan.layers
        ]
        return "\n".join(
            [
                *_stage_start(plan, BASE_STAGE),
                f"RUN uv venv {shlex.quote(venv)}",
                *copies,
                _labels(plan),
            ]
        )
    install = [f"uv venv {shlex.quote(venv)}", *_install_commands(plan, heavy_files(plan))]
    run = " && \\\n    ".join(install)
    return "\n".join(
        [
            *_stage_start(plan, BASE_STAGE),
            f"RUN {_cache_mount()} \\",
            f"    --mount=type=bind,from={HEAVY_CONTEXT},target={HEAVY_MOUNT} \\",
            f"    {run}",
            _labels(plan),
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
    layers = [layer_stage(plan, group) for group in plan.layers]
    parts = ["\n".join(header), *layers, base_stage(plan), deps_stage(plan), app_stage(plan)]
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
