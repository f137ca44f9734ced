"""Which file of a locked package uv installs on a target: the best wheel, else the sdist.

uv ranks a package's wheels by the target's wheel tags, most preferred first (CPython's
own ABI, then the stable ABI, then pure Python; the newest manylinux the target's glibc
allows first) and takes the best-ranked one, the first listed on a tie.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import parse_wheel_filename

from uvbuild.core.model import Artifact, LockedPackage, SelectedPackage, Target
from uvbuild.core.selection.target import parse_platform, parse_python

# The oldest glibc each architecture has manylinux wheels for.
_GLIBC_FLOOR = {"x86_64": 5, "aarch64": 17}
_LEGACY_MANYLINUX = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}

# Sources uv builds from what they point to, with or without an sdist entry.
_BUILT_KINDS = ("git", "url", "path")


def _platforms(arch: str, glibc: tuple[int, int]) -> list[str]:
    major, top = glibc
    floor = _GLIBC_FLOOR[arch]
    platforms = []
    if major == 2:
        for minor in range(top, floor - 1, -1):
            platforms.append(f"manylinux_2_{minor}_{arch}")
            legacy = _LEGACY_MANYLINUX.get(minor)
            if legacy and (minor == 17 or arch == "x86_64"):
                platforms.append(f"{legacy}_{arch}")
    platforms.append(f"linux_{arch}")
    return platforms


@lru_cache(maxsize=64)
def wheel_tags(target: Target) -> tuple[Tag, ...]:
    """Wheel tags the target's CPython accepts, most preferred first."""
    arch = parse_platform(target.platform)
    major, minor, _ = parse_python(target.python)
    platforms = _platforms(arch, target.glibc)
    version = (major, minor)
    abi = f"cp{major}{minor}"
    tags = list(cpython_tags(version, abis=[abi], platforms=platforms))
    tags.extend(compatible_tags(version, interpreter=abi, platforms=platforms))
    return tuple(dict.fromkeys(tags))


@lru_cache(maxsize=64)
def _tag_ranks(target: Target) -> Mapping[Tag, int]:
    return {tag: rank for rank, tag in enumerate(wheel_tags(target))}


@lru_cache(maxsize=8192)
def _wheel_file_tags(filename: str) -> frozenset[Tag] | None:
    try:
        return parse_wheel_filename(filename)[3]
    except ValueError:  # InvalidWheelFilename, InvalidVersion, InvalidTag, ...
        return None


def _wheel_rank(filename: str, target: Target) -> int | None:
    """Position of the wheel's best tag in :func:`wheel_tags` (lower is better), or None."""
    tags = _wheel_file_tags(filename)
    if not tags:
        return None
    ranks = _tag_ranks(target)
    best = None
    for tag in tags:
        rank = ranks.get(tag)
        if rank is not None and (best is None or rank < best):
            best = rank
    return best


def best_wheel(package: LockedPackage, target: Target) -> Artifact | None:
    """The wheel uv would pick on ``target``: the best-ranked tag, first one on a tie."""
    best: tuple[int, Artifact] | None = None
    for wheel in package.wheels:
        rank = _wheel_rank(wheel.filename, target)
        if rank is not None and (best is None or rank < best[0]):
            best = (rank, wheel)
    return best[1] if best else None


def install_choice(package: LockedPackage, target: Target) -> SelectedPackage | None:
    """How uv installs ``package`` on ``target``: the local project as it is, the best
    wheel, else a build from the sdist or source; None for a virtual package (nothing to
    install). Without any of these the choice carries why uv cannot install it."""
    kind = package.source.kind
    if kind == "virtual":
        return None
    if kind in ("editable", "directory"):
        return SelectedPackage(package=package, wheel=None, from_sdist=False)
    wheel = best_wheel(package, target)
    if wheel is not None:
        return SelectedPackage(package=package, wheel=wheel, from_sdist=False)
    if package.sdist is not None or kind in _BUILT_KINDS:
        return SelectedPackage(package=package, wheel=None, from_sdist=True)
    return SelectedPackage(
        package=package, wheel=None, from_sdist=False, unavailable=_why_unavailable(package, target)
    )


def _why_unavailable(package: LockedPackage, target: Target) -> str:
    where = (
        f"{target.platform} CPython {target.python} with glibc {target.glibc[0]}.{target.glibc[1]}"
    )
    for minor in range(target.glibc[1] + 1, 60):
        if best_wheel(package, replace(target, glibc=(target.glibc[0], minor))) is not None:
            return (
                f"{package.name} {package.version} has no wheel for {where} and no sdist; "
                f"its wheels need glibc {target.glibc[0]}.{minor}: pass --glibc "
                f"{target.glibc[0]}.{minor} (tool.uvbuild.glibc) with a base image that has it"
            )
    return (
        f"{package.name} {package.version} has no wheel for {where} and no sdist: "
        "uv sync cannot install it there; pick another --platform or --python"
    )
