"""The stages above the base: the project's own ``uv sync``.

uvbuild-deps  the light layers (``COPY --link``) and the pool: ``uv sync --frozen
              --no-install-project``
uvbuild-app   the project itself: ``uv sync --frozen --no-editable``; both syncs compile
              only the files they install

In a seed build the user's own sync stage takes their place: from the sync on, on the
base, and the rest of the user's file after it.
"""

from __future__ import annotations

import shlex

from uvbuild.core.model import BuildPlan, Request
from uvbuild.core.render.dockerfile_names import APP_DIR, APP_STAGE, BASE_STAGE, DEPS_STAGE
from uvbuild.core.render.light_stages import light_copies
from uvbuild.core.render.run_instructions import (
    run_instruction,
    secret_exports,
    secret_mounts,
    uv_cache_mount,
)

# Written before the deps and app stages' `uv sync`: what is newer, the sync installed.
SYNC_START = "/tmp/uvbuild-sync-start"


def sync_flags(request: Request) -> list[str]:
    """The ``uv sync`` flags that select the same packages as the plan."""
    if request.only_dev:  # uv's order: --only-dev > --no-dev > --dev
        dev = "--only-dev"
    else:
        dev = "--no-dev" if request.no_dev else "--dev" if request.dev else ""
    # in this order: a flag with a tuple repeats once per value, one with a bool stands alone
    given: tuple[tuple[str, tuple[str, ...] | bool], ...] = (
        ("--package", request.members),
        ("--all-packages", request.all_packages),
        ("--all-extras", request.all_extras),
        ("--extra", request.extras),
        ("--group", request.groups),
        ("--only-group", request.only_groups),
        (dev, bool(dev)),
        ("--no-extra", request.no_extras),
        ("--no-group", request.no_groups),
        ("--all-groups", request.all_groups),
        ("--no-default-groups", request.no_default_groups),
    )
    flags: list[str] = []
    for flag, value in given:
        if isinstance(value, bool):
            flags += [flag] if value else []
        else:
            for item in value:
                flags += [flag, item]
    return flags


def _sync_steps(plan: BuildPlan, command: list[str]) -> list[str]:
    """``command`` (a ``uv sync``), and with compile-bytecode the bytecode of exactly the
    files it installed. uv's own compile step walks the whole venv: every layer's files,
    which their stages compiled already, are read again on each light rebuild. So uv
    compiles nothing here and ``compileall`` takes only the ``.py`` files whose inode
    changed since the marker (-cnewer: a fresh file, whatever mtime uv gave it), as
    timestamp ``.pyc`` files like uv's, in one process per core as uv's compiler runs;
    failures are ignored, as uv ignores them."""
    if not plan.config.compile_bytecode:
        return [shlex.join(command)]
    venv = shlex.quote(plan.config.venv)
    return [
        f'touch -d "@$(($(date +%s) - 2))" {SYNC_START}',
        "UV_COMPILE_BYTECODE=0 " + shlex.join(command),
        f"{{ find {venv}/lib -name '*.py' -cnewer {SYNC_START} -print0 | "
        f'xargs -0 -r -P "$(nproc 2>/dev/null || echo 1)" -n 256 '
        f"{venv}/bin/python -m compileall -q --invalidation-mode timestamp || true; }}",
        f"rm {SYNC_START}",
    ]


def _sync_run(plan: BuildPlan, steps: list[str]) -> str:
    """A sync's RUN: uv's cache, and the index secrets exported before it."""
    mounts = [uv_cache_mount(), *secret_mounts(plan)]
    return run_instruction(mounts, [*secret_exports(plan), *steps])


def deps_stage(plan: BuildPlan) -> str:
    flags = sync_flags(plan.request)
    scope = "--no-install-workspace" if plan.members else "--no-install-project"
    copies = ["COPY pyproject.toml uv.lock ./"]
    for member in plan.members:
        copies.append(f"COPY {member}/pyproject.toml {member}/pyproject.toml")
    steps = _sync_steps(plan, ["uv", "sync", "--frozen", scope, *flags])
    return "\n".join(
        [
            f"FROM {BASE_STAGE} AS {DEPS_STAGE}",
            *light_copies(plan),
            f"WORKDIR {APP_DIR}",
            *copies,
            _sync_run(plan, steps),
        ]
    )


def app_stage(plan: BuildPlan) -> str:
    steps = _sync_steps(
        plan, ["uv", "sync", "--frozen", "--no-editable", *sync_flags(plan.request)]
    )
    return "\n".join(
        [
            f"FROM {DEPS_STAGE} AS {APP_STAGE}",
            "COPY . .",
            _sync_run(plan, steps),
            f'ENV PATH="{plan.config.venv}/bin:$PATH"',
        ]
    )


def seed_app(plan: BuildPlan) -> str:
    """The user's sync stage from the sync on, on the base, and the rest of their file."""
    split = plan.seed
    name = f" AS {split.stage_name}" if split.stage_name else ""
    stage = [
        f"FROM {BASE_STAGE}{name}",
        *split.system.args,
        *light_copies(plan),
        *split.prelude,
        split.sync_run,
    ]
    return "\n\n".join(["\n".join(stage), *split.rest])
