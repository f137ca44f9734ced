"""The heavy packages as pinned requirement files, and the epoch each layer's files take.

The base stage (or each layer stage) installs one file per index with ``uv pip install
--no-deps -r``; the files reach it through the named context ``uvbuild-heavy``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from uvbuild.core.model import BuildPlan, LayerGroup, SelectedPackage


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
    return tuple(file for group in plan.layers for file in layer_files(group))


def requirement_files(plan: BuildPlan) -> tuple[HeavyFile, ...]:
    """Every requirements file a build reads: the heavy ones (:func:`heavy_files`), then
    one per light layer and index, ``layer-<group>-<n>.txt``."""
    light = tuple(file for group in plan.light_layers for file in layer_files(group))
    return heavy_files(plan) + light


def layer_files(group: LayerGroup) -> tuple[HeavyFile, ...]:
    """The files of one layer group, ``layer-<group>-<n>.txt``: the ones its stage reads."""
    selected = tuple(choice.selected for choice in group.packages)
    return _requirement_files(selected, f"layer-{group.name}", group.name)


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


def upload_epoch(wheels: Iterable[SelectedPackage]) -> int:
    """The newest ``upload-time`` of the selected wheels, in seconds since 1970, when every
    one has an upload time; else 0. A layer's files and the image's creation time take it
    as ``SOURCE_DATE_EPOCH``: the same packages always give the same number."""
    newest = 0
    for selected in wheels:
        stamp = selected.wheel.upload_time if selected.wheel is not None else None
        if not stamp:
            return 0
        try:
            moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            return 0
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        newest = max(newest, int(moment.timestamp()))
    return newest


def source_date_epoch(plan: BuildPlan) -> int:
    """``SOURCE_DATE_EPOCH`` of the base image: its creation time and history times, and
    with one layer that layer's mtimes."""
    return upload_epoch(plan.heavy)


def layer_epoch(group: LayerGroup) -> int:
    """The mtimes of one layer group's files: from that group's wheels only, so another
    group's bump leaves this layer's bytes alone."""
    return upload_epoch(choice.selected for choice in group.packages)
