"""Plans and packages the render tests share (their fixtures are in conftest.py)."""

from __future__ import annotations

from dataclasses import replace

from uvbuild.core.model import (
    Artifact,
    Grouping,
    HeavyChoice,
    LockedPackage,
    SelectedPackage,
    Source,
)

PYPI = "https://pypi.org/simple"
TORCH_INDEX = "https://download.pytorch.org/whl/cu128"

FLAGS = {
    "platform": "linux/amd64",
    "python": "3.11",
    "base_image": "python:3.11-slim-bookworm",
    "uv_image": "ghcr.io/astral-sh/uv:0.13.9",
}


def registry_package(name: str, version: str, index: str, hash_: str | None) -> SelectedPackage:
    package = LockedPackage(name=name, version=version, source=Source("registry", index))
    wheel = Artifact(filename=f"{name}-{version}-py3-none-any.whl", hash=hash_, size=10)
    return SelectedPackage(package=package, wheel=wheel)


def with_heavy(plan, *selected: SelectedPackage):
    choices = tuple(HeavyChoice(s, "test") for s in selected)
    return replace(plan, grouping=Grouping(heavy=choices, light=()))
