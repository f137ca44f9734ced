"""The generated inputs of a build and where they live: the user's Dockerfile or the
generated one, uvbuild's cache directory, and what the base will take on the engine's disk."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from uvbuild.core.model import BuildPlan
from uvbuild.core.units import format_size
from uvbuild.docker import prefetch
from uvbuild.docker.facts.values import Storage

# What building the base costs in the engine's storage, per byte of heavy wheel: the venv
# layer holds the unpacked files plus their bytecode (about 2.2x the wheel), and uv's cache
# mount holds the unpacked wheels once more (about 1.8x).
LAYER_FACTOR = 2.2


CACHE_FACTOR = 1.8


# A heavy wheel whose size uv.lock does not record (the PyTorch index gives none).
UNKNOWN_WHEEL_BYTES = 500 * 1000 * 1000


@dataclass(frozen=True, slots=True)
class DiskEstimate:
    """What the base is expected to take in the engine's storage."""

    wheel_bytes: int  # heavy wheels whose size the lock records
    unknown: int  # heavy wheels without a size, counted as UNKNOWN_WHEEL_BYTES each
    expected: int  # bytes

    def describe(self) -> str:
        text = f"{format_size(self.wheel_bytes)} of heavy wheels"
        if self.unknown:
            text += (
                f", {self.unknown} of unknown size counted as "
                f"{format_size(UNKNOWN_WHEEL_BYTES)} each"
            )
        return f"about {format_size(self.expected)} ({text}, x{LAYER_FACTOR + CACHE_FACTOR:g})"


def base_disk_estimate(sizes: Sequence[int | None]) -> DiskEstimate:
    """Expected bytes for a base holding wheels of these sizes (None: unknown)."""
    known = sum(size for size in sizes if size is not None)
    unknown = sum(1 for size in sizes if size is None)
    wheels = known + unknown * UNKNOWN_WHEEL_BYTES
    return DiskEstimate(known, unknown, round(wheels * (LAYER_FACTOR + CACHE_FACTOR)))


def plan_disk_estimate(plan: BuildPlan) -> DiskEstimate:
    return base_disk_estimate([selected.size for selected in plan.heavy])


def disk_shortfall(estimate: DiskEstimate, storage: Storage) -> str | None:
    """A warning when the engine's free space is below what the base needs, else None."""
    if storage.free is None or storage.free >= estimate.expected:
        return None
    return (
        f"the base needs {estimate.describe()} in the engine's storage, but "
        f"{storage.root} has {format_size(storage.free)} free; free space "
        "(`docker builder prune`, `docker image prune`) or move the engine's data-root"
    )


def disk_room(estimate: DiskEstimate, storage: Storage) -> str:
    """What the base needs against what the engine's storage has free (or why that is
    not measured), when there is no shortfall."""
    if storage.free is None:
        return f"free space in the engine's storage not measured: {storage.reason}"
    return (
        f"the base needs {estimate.describe()}; {storage.root} has {format_size(storage.free)} free"
    )


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/uvbuild`` (``~/.cache/uvbuild``)."""
    return prefetch.user_cache_dir()


def choose_dockerfile(plan: BuildPlan) -> Path | None:
    """The user's Dockerfile the app build runs as it is (one that uses ``FROM
    uvbuild-base``), or None for the generated one (a seed build runs the generated
    Dockerfile made from the user's). The planner chose it (``--file``,
    tool.uvbuild.dockerfile, the project's Dockerfile)."""
    user = plan.dockerfile
    return Path(user.path) if user.mode == "base" and user.path else None
