"""The light stages: the light layers (grouping.pool_layers), shared out among a few
``uvbuild-layers-light-<n>`` stages (grouping.light_stages), and ``uvbuild-layers-light``,
which the flow builds beside the base to have them all built.

They start FROM the system image, never from the base: each installs its layers one
after the other into the venv and moves each one's files to /uvbuild-layer/<layer>, which
the stage above the base takes with ``COPY --link``.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable

from uvbuild.core.model import BuildPlan, LayerGroup
from uvbuild.core.render.dockerfile_names import (
    HEAVY_MOUNT,
    LAYER_DIR,
    LIGHT_WARM_STAGE,
    light_stage_name,
)
from uvbuild.core.render.layer_installs import (
    VENV_BEFORE,
    install_commands,
    layer_comment,
    move_added_files,
)
from uvbuild.core.render.requirements import HeavyFile, layer_epoch, layer_files
from uvbuild.core.render.run_instructions import (
    run_instruction,
    secret_exports,
    secret_mounts,
    uv_cache_mount,
)
from uvbuild.core.render.venv_stages import make_venv, seed_exports, seed_mounts, venv_stage_start


def light_stage(plan: BuildPlan, number: int, groups: tuple[LayerGroup, ...]) -> str:
    """``uvbuild-layers-light-<n>``: the light layers of one stage installed one after the
    other into a venv like the base's, each one's files in ``LAYER_DIR/<layer>`` for its
    own ``COPY --link``. Nothing else of the stage reaches the image, so its other files
    keep the times they got."""
    venv = shlex.quote(plan.config.venv)
    steps = [*seed_exports(plan), *secret_exports(plan), make_venv(plan), f"cd {venv}"]
    steps.append(f"mkdir -p {HEAVY_MOUNT}")
    for group in groups:
        steps += _light_layer_steps(plan, group, layer_files(group))
    mounts = [uv_cache_mount(), *seed_mounts(plan), *secret_mounts(plan)]
    return "\n".join(
        [
            *(layer_comment(group) for group in groups),
            *venv_stage_start(plan, light_stage_name(number)),
            run_instruction(mounts, steps),
        ]
    )


def _light_layer_steps(
    plan: BuildPlan, group: LayerGroup, files: tuple[HeavyFile, ...]
) -> list[str]:
    """One light layer's install in a light stage's venv, with the epoch of its own wheels
    (so its bytes do not depend on its stage mates), and what it added moved to its own
    directory under LAYER_DIR; the venv is left as ``uv venv`` made it for the next."""
    target = f"{LAYER_DIR}/{group.name}"
    return [
        *_written_files(files),
        f"export SOURCE_DATE_EPOCH={layer_epoch(group)}",
        f"find . > {VENV_BEFORE}",
        *install_commands(plan, files),
        f"mkdir -p {target}",
        move_added_files(target),
        f'find {target} -exec touch -h -d "@$SOURCE_DATE_EPOCH" {{}} +',
    ]


def _written_files(files: Iterable[HeavyFile]) -> list[str]:
    """The requirements files written by the RUN itself, where a mount would read them:
    each file bind-mounted from the uvbuild-heavy context is one more load of that context
    in every build (measured: 0.3 to 0.5 s each, on a no-op rebuild too), and a light
    layer's few lines are as well in the RUN's text, which BuildKit's cache key covers."""
    steps = []
    for heavy in files:
        lines = " ".join(shlex.quote(line) for line in heavy.text.splitlines())
        steps.append(f"printf '%s\\n' {lines} > {HEAVY_MOUNT}/{heavy.name}")
    return steps


def light_warm_stage(plan: BuildPlan) -> str:
    """``uvbuild-layers-light``: on the first light stage, a RUN that binds the others; its
    build has every light stage built, and leaves only BuildKit's cache behind."""
    names = [light_stage_name(n) for n in range(1, len(plan.light_stages) + 1)]
    mounts = [f"--mount=type=bind,from={name},target=/tmp/{name}" for name in names[1:]]
    return "\n".join([f"FROM {names[0]} AS {LIGHT_WARM_STAGE}", run_instruction(mounts, ["true"])])


def light_copies(plan: BuildPlan) -> list[str]:
    """The light layers on the base, one ``COPY --link`` each: their stages start from the
    system image, not from the base, so a heavy change leaves them alone and a light one
    rebuilds only its own layer."""
    venv = plan.config.venv
    return [
        f"COPY --link --from={light_stage_name(plan.light_stage_of(group.name))} "
        f"{LAYER_DIR}/{group.name}/ {venv}/"
        for group in plan.light_layers
    ]
