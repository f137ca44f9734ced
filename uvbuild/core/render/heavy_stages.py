"""The heavy stages: one ``uvbuild-layer-<group>`` per layer group, and ``uvbuild-base``.

uvbuild-layer-<group>  (only with two or more layer groups) one per group of heavy
              packages: the same venv as the base, that group installed, and the files
              the install added moved to /uvbuild-layer with the venv's layout
uvbuild-base  the base image, a venv and exactly the heavy packages, installed by name
              from the index the lock records (so a later ``uv sync`` keeps them); with
              layer groups it creates the venv and takes each group's files with
              ``COPY --link``, so a group's layer does not depend on the layers below it

The heavy requirements reach these stages through the named context ``uvbuild-heavy``,
so nothing is written into the user's tree.
"""

from __future__ import annotations

import shlex

from uvbuild.core.hashing import LAYER_RECIPE_VERSION, RECIPE_VERSION
from uvbuild.core.model import BuildPlan, LayerGroup
from uvbuild.core.render.dockerfile_names import (
    BASE_STAGE,
    HEAVY_MOUNT,
    KEY_LABEL,
    LABEL_PREFIX,
    LAYER_DIR,
    UV_CACHE,
    layer_stage_name,
)
from uvbuild.core.render.layer_installs import (
    VENV_BEFORE,
    install_commands,
    layer_comment,
    move_added_files,
)
from uvbuild.core.render.reproducible import reproducible_steps
from uvbuild.core.render.requirements import (
    heavy_files,
    layer_epoch,
    layer_files,
    source_date_epoch,
)
from uvbuild.core.render.run_instructions import (
    mounted_paths,
    requirement_mounts,
    run_instruction,
    secret_exports,
    secret_mounts,
    uv_cache_mount,
)
from uvbuild.core.render.venv_stages import (
    make_venv,
    seed_exports,
    seed_mounted_paths,
    seed_mounts,
    venv_stage_start,
)


def layer_stage(plan: BuildPlan, group: LayerGroup) -> str:
    """``uvbuild-layer-<group>``: the group's packages installed alone into a venv like
    the base's, and what they added gathered in LAYER_DIR for ``COPY --link``."""
    venv = shlex.quote(plan.config.venv)
    files = layer_files(group)
    steps = [
        *seed_exports(plan),
        *secret_exports(plan),
        make_venv(plan),
        f"cd {venv}",
        f"find . > {VENV_BEFORE}",
        *install_commands(plan, files),
        f"mkdir {LAYER_DIR}",
        move_added_files(LAYER_DIR),
    ]
    steps = reproducible_steps(
        layer_epoch(group),
        steps,
        [plan.config.venv, LAYER_DIR],
        mounted_paths(plan, HEAVY_MOUNT, *seed_mounted_paths(plan)),
    )
    mounts = [
        uv_cache_mount(),
        *seed_mounts(plan),
        *requirement_mounts(files),
        *secret_mounts(plan),
    ]
    return "\n".join(
        [
            layer_comment(group),
            *venv_stage_start(plan, layer_stage_name(group)),
            run_instruction(mounts, steps),
        ]
    )


def base_stage(plan: BuildPlan) -> str:
    return _layered_base_stage(plan) if plan.layers else _single_base_stage(plan)


def _layered_base_stage(plan: BuildPlan) -> str:
    """The base as a venv and each layer group's files, ``COPY --link`` from its stage."""
    venv = plan.config.venv
    copies = [
        f"COPY --link --from={layer_stage_name(group)} {LAYER_DIR}/ {venv}/"
        for group in plan.layers
    ]
    # The venv alone holds no package: its files take the epoch 0, so a group's bump
    # leaves this layer as it is, as it leaves the other groups' layers.
    create = reproducible_steps(
        0,
        [*seed_exports(plan), make_venv(plan)],
        [venv],
        [UV_CACHE, *seed_mounted_paths(plan)],
    )
    return "\n".join(
        [
            *venv_stage_start(plan, BASE_STAGE),
            run_instruction([uv_cache_mount(), *seed_mounts(plan)], create),
            *copies,
            _label_instruction(plan),
        ]
    )


def _single_base_stage(plan: BuildPlan) -> str:
    """The base as one layer: every heavy package installed in one RUN."""
    install = [
        *seed_exports(plan),
        *secret_exports(plan),
        make_venv(plan),
        *install_commands(plan, heavy_files(plan)),
    ]
    steps = reproducible_steps(
        source_date_epoch(plan),
        install,
        [plan.config.venv],
        mounted_paths(plan, HEAVY_MOUNT, *seed_mounted_paths(plan)),
    )
    mounts = [
        uv_cache_mount(),
        *seed_mounts(plan),
        *requirement_mounts(heavy_files(plan)),
        *secret_mounts(plan),
    ]
    return "\n".join(
        [
            *venv_stage_start(plan, BASE_STAGE),
            run_instruction(mounts, steps),
            _label_instruction(plan),
        ]
    )


def base_labels(plan: BuildPlan) -> dict[str, str]:
    packages = " ".join(f"{s.name}=={s.version}" for s in plan.heavy)
    labels = {
        f"{LABEL_PREFIX}.base": "1",
        KEY_LABEL: plan.key,
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


def _label_instruction(plan: BuildPlan) -> str:
    return "LABEL " + " \\\n      ".join(f'{k}="{v}"' for k, v in base_labels(plan).items())
