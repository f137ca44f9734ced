"""The plan of a project: ``make_plan`` reads its files, then ``plan_from`` composes the pure
steps (selection, heavy / light split, layer groups, keys) into a BuildPlan."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from uvbuild.core import grouping, hashing, selection
from uvbuild.core.config import Config, normalize_platform
from uvbuild.core.model import (
    BuildPlan,
    Grouping,
    LayerGroup,
    Lock,
    SelectedPackage,
    Target,
    UserDockerfile,
)
from uvbuild.errors import ConfigError, short_list
from uvbuild.planner.keys import image_refs, key_inputs, plan_keys
from uvbuild.planner.project_files import Project, read_lock, read_project, workspace_members
from uvbuild.planner.resolve import credential_indexes, host_platform, resolve_config
from uvbuild.planner.sync_request import make_request, seeded_config, with_origin
from uvbuild.planner.user_dockerfile import user_dockerfile


def make_plan(
    project_dir: str | Path,
    flags: Mapping[str, Any] | None = None,
    *,
    lock_path: str | Path | None = None,
    dockerfile: str | Path | None = None,
    build_args: Mapping[str, str] | None = None,
    digests: Mapping[str, str] | None = None,
) -> BuildPlan:
    """The plan of the project at ``project_dir``; ``dockerfile`` is ``--file`` (else
    tool.uvbuild.dockerfile, else the project's Dockerfile if any), ``build_args`` the
    ``--build-arg`` values its ARGs take. ``digests`` (ref -> digest, one for each of the
    plan's ``image_refs``, as :mod:`uvbuild.flow.images` resolves them) go into the keys;
    without them the keys name the images only (see :func:`with_digests`)."""
    root = Path(project_dir).resolve()
    project = read_project(root)
    lock_file = Path(lock_path).resolve() if lock_path else root / "uv.lock"
    lock_data = read_lock(lock_file)
    config = resolve_config(project, flags, lock_data.requires_python)
    user = user_dockerfile(root, config, dockerfile, build_args or {}, project.uv_settings)
    try:
        if user.seed is not None:
            config = seeded_config(project, flags or {}, user.seed, lock_data.requires_python)
        return plan_from(project, config, lock_data, str(lock_file), digests, user)
    except ConfigError as exc:
        raise with_origin(exc, flags or {}, project, user) from exc


def plan_from(
    project: Project,
    config: Config,
    lock_data: Lock,
    lock_path: str,
    digests: Mapping[str, str] | None = None,
    user: UserDockerfile | None = None,
) -> BuildPlan:
    user = user or UserDockerfile()
    target = _target(config)
    request = make_request(config, project, lock_data)
    selected = selection.select(
        lock_data, request, target, project=project.name, lock_file=lock_path
    )
    split, split_notes = _split(config, project, selected)
    refs = image_refs(config, user)
    inputs = key_inputs(config, target, refs, digests, user)
    groups, layer_notes = grouping.layer_groups(
        split.heavy, mode=config.layer_mode, layout=config.layers, limit=config.layer_limit
    )
    light_groups, pool_notes = _light_layers(config, user, split, groups)
    repo = config.base_repo or hashing.default_base_repo(project.name or project.dir.name)
    keys = plan_keys(split, groups, inputs, repo, light_groups)
    return BuildPlan(
        project_dir=str(project.dir),
        project_name=project.name,
        lock_path=lock_path,
        config=config,
        target=target,
        request=request,
        selected=selected,
        grouping=split,
        members=workspace_members(lock_data, project.dir),
        notes=_notes(config, user, split, selected, split_notes, (*layer_notes, *pool_notes)),
        layer_mode=config.layer_mode,
        light_stages=tuple(
            tuple(group.name for group in stage)
            for stage in grouping.light_stages(light_groups, threshold=config.pool_threshold)
        ),
        credential_indexes=credential_indexes(project, config),
        image_refs=refs,
        dockerfile=user,
        **keys.fields(),
    )


def _target(config: Config) -> Target:
    glibc = tuple(int(part) for part in config.glibc.split("."))
    return Target(
        platform=normalize_platform(config.platform or host_platform(), "--platform"),
        python=config.python,
        glibc=(glibc[0], glibc[1]),
    )


def _split(
    config: Config, project: Project, selected: tuple[SelectedPackage, ...]
) -> tuple[Grouping, tuple[str, ...]]:
    """Heavy and light as the config's heavy settings decide, and the notes on it."""
    return grouping.split(
        selected,
        patterns=grouping.heavy_patterns(config.heavy, config.heavy_only),
        exclude=config.heavy_exclude,
        threshold=config.heavy_threshold,
        min_size=config.heavy_min_size,
        named=grouping.named_packages(config.heavy, config.heavy_only),
        default_index=project.default_index,
    )


def _light_layers(
    config: Config, user: UserDockerfile, split: Grouping, heavy_groups: tuple[LayerGroup, ...]
) -> tuple[tuple[LayerGroup, ...], tuple[str, ...]]:
    """The light packages' keyed layers (grouping.pool_layers) and their notes. A
    Dockerfile that uses ``FROM uvbuild-base`` runs its own sync on the base: nothing of
    uvbuild's sits between them, so there every light package stays in that sync."""
    if user.mode == "base":
        return (), ()
    groups, _pool, notes = grouping.pool_layers(
        split.light,
        threshold=config.pool_threshold,
        taken=[group.name for group in heavy_groups],
    )
    return groups, notes


def _notes(
    config: Config,
    user: UserDockerfile,
    split: Grouping,
    selected: tuple[SelectedPackage, ...],
    split_notes: tuple[str, ...],
    layer_notes: tuple[str, ...],
) -> tuple[str, ...]:
    """The plan's notes, in this order: the split's, the packages no file of which fits the
    target, the layer groups' (heavy, then light), the seed's, an unused layers table, the
    heavy packages of unknown size."""
    notes = (*split_notes, *(s.unavailable for s in selected if s.unavailable), *layer_notes)
    if user.seed is not None:
        notes = (*notes, *user.seed.notes)
    if config.layer_mode == "single" and config.layers is not None:
        notes = (*notes, 'layer-mode is "single": tool.uvbuild.layers is not used')
    return (*notes, *_unknown_size_note(split))


def _unknown_size_note(split: Grouping) -> tuple[str, ...]:
    unknown = [c.selected.name for c in split.heavy if c.selected.size is None]
    if not unknown:
        return ()
    return (
        f"size unknown for {len(unknown)} heavy package(s) (the lock records none): "
        + short_list(unknown),
    )


def check_installable(plan: BuildPlan) -> None:
    """Raise ConfigError when uv could not install a selected package on the plan's target
    (no wheel fits and no sdist to build), before anything reaches Docker.

    ``plan`` only notes these packages; ``build``, ``bake`` and ``dockerfile`` call this.
    """
    missing = plan.unavailable
    if not missing:
        return
    first = missing[0].unavailable or f"{missing[0].name} cannot be installed"
    more = ""
    if len(missing) > 1:
        others = short_list(s.name for s in missing[1:])
        more = f" (also {others})"
    raise ConfigError(f"{plan.lock_path}: {first}{more}")
