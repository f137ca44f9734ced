"""The closing summary of a build: the image's layers (each named by what it holds, from the
plan and the image history), the base reused or built, the durations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from uvbuild.console.markup import escape
from uvbuild.core.model import BuildPlan, HeavyChoice
from uvbuild.core.render.dockerfile_names import LAYER_DIR, UV_MOUNT
from uvbuild.core.units import format_size
from uvbuild.flow.result import BuildResult

if TYPE_CHECKING:
    from rich.console import Console


def print_summary(err: Console, result: BuildResult, plan: BuildPlan | None = None) -> None:
    """The image's layers (shared with the base or new), the base reused or built, the
    durations; with the plan, each layer is named by what it holds (layer_names)."""
    from rich.table import Table

    table = Table(title="image layers")
    for column in ("#", "layer", "size", "from", "holds"):
        table.add_column(column, justify="right" if column in ("#", "size") else "left")
    steps = [(layer.created_by, layer.shared) for layer in result.layers]
    names = layer_names(plan, steps) if plan else [_short_step(s) for s, _ in steps]
    for number, (layer, name) in enumerate(zip(result.layers, names, strict=True), start=1):
        table.add_row(
            str(number),
            layer.diff_id.removeprefix("sha256:")[:12],
            format_size(layer.size) if layer.size >= 0 else "?",
            "base" if layer.shared else "[green]new[/]",
            escape(name),
        )
    err.print(table)
    new = sum(x.size for x in result.layers if not x.shared and x.size > 0)
    shared = sum(x.size for x in result.layers if x.shared and x.size > 0)
    err.print(
        f"base {escape(result.base_tag)}: {result.base_action}"
        + (f" in {result.base_seconds:.1f} s" if result.base_seconds else "")
    )
    err.print(
        f"app: {result.app_seconds:.1f} s; new layers {format_size(new)}, "
        f"shared with base {format_size(shared)}"
    )


def describe_packages(choices: Sequence[HeavyChoice], label: str) -> str:
    """``frameworks: torch 2.5.1 +3`` when one package holds most of the bytes, else
    ``cuda: 12 packages, 2.9 GB`` (``choices``: HeavyChoice, as in a LayerGroup)."""
    selected = [choice.selected for choice in choices]
    if not selected:
        return label
    total = sum(s.size or 0 for s in selected)
    biggest = max(selected, key=lambda s: (s.size or 0, s.name))
    if len(selected) == 1 or (total and (biggest.size or 0) * 2 >= total):
        more = f" +{len(selected) - 1}" if len(selected) > 1 else ""
        return f"{label}: {biggest.name} {biggest.version or ''}".rstrip() + more
    unknown = sum(1 for s in selected if s.size is None)
    size = format_size(total) + (f" + {unknown} of unknown size" if unknown else "")
    return f"{label}: {len(selected)} packages, {size}"


def layer_names(plan: BuildPlan, layers: Sequence[tuple[str, bool]]) -> list[str]:
    """What each image layer holds, from the plan and the image history.

    ``layers`` is (created by, shared with the base) per layer, oldest first. The base's
    own layers follow heavy_stages.base_stage: the uv binaries (``uv``), the target Python where
    the image has none (``python 3.11, ...``), then either the venv and
    one ``COPY --link`` per layer group in plan.layers order (``venv``,
    ``cuda: 12 packages, 2.9 GB``...), or one RUN holding the venv and every heavy package;
    below uv, the base image's layers (``base image``). The generated app stages give
    ``deps: ...`` and ``app: ...``; any other layer is named by its instruction.
    """
    copy_group = iter((*plan.layers, *plan.light_layers))
    heavy = [choice for group in plan.layers for choice in group.packages] or list(
        plan.grouping.heavy
    )
    light = [s for s in plan.pool if not s.package.source.is_local]
    created = [_short_step(step, width=10_000) for step, _ in layers]
    uv_at = next((i for i, step in enumerate(created) if f"cp {UV_MOUNT}/uv " in step), None)
    names = []
    for index, ((_, shared), step) in enumerate(zip(layers, created, strict=True)):
        name = None
        if uv_at is not None and index < uv_at and shared:
            name = "base image"
        elif index == uv_at:
            name = "uv"
        elif step.startswith(f"COPY {LAYER_DIR}/"):
            group = next(copy_group, None)
            name = describe_packages(group.packages, group.name) if group else None
        elif step.startswith("RUN ") and "uv python find" in step and "uv python install" in step:
            name = f"python {plan.target.python}, where the image has none"
        elif step.startswith("RUN ") and "uv venv" in step and f" {plan.config.venv}" in step:
            name = "venv" if plan.layers or not heavy else describe_packages(heavy, "venv + heavy")
        elif step.startswith("RUN ") and "uv sync" in step and "--no-install-" in step:
            name = f"deps: {len(light)} light packages"
        elif step.startswith("RUN ") and "uv sync" in step:
            project = plan.project_name or "the project"
            name = f"app: {project}" + (f" + {len(plan.members)} members" if plan.members else "")
        elif step.startswith("COPY pyproject.toml uv.lock "):
            name = "deps: pyproject.toml, uv.lock"
        elif step.startswith("COPY . "):
            name = "app: source"
        names.append(name or _short_step(step))
    return names


def _short_step(created_by: str, width: int = 70) -> str:
    text = " ".join(created_by.replace("/bin/sh -c ", "").split())
    text = text.removeprefix("#(nop) ").removesuffix(" # buildkit").strip()
    return text if len(text) <= width else text[: width - 1] + "…"
