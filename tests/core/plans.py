"""Plans and packages the render tests share (their fixtures are in conftest.py): a seed
build's plan, a plan with a light layer."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from tests.paths import FIXTURES
from uvbuild import planner
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


SEED = """\
# syntax=docker/dockerfile:1
FROM debian:bookworm AS builder
ARG python_version=3.11
COPY --from=ghcr.io/astral-sh/uv:0.5.2 /uv /usr/local/bin/uv
RUN apt-get update && apt-get install -y curl
ENV UV_PYTHON="python$python_version" UV_PROJECT_ENVIRONMENT=/app UV_COMPILE_BYTECODE=1
WORKDIR /project
COPY pyproject.toml uv.lock /project/
RUN --mount=type=cache,target=/root/.cache/uv uv sync --no-dev --no-install-project --frozen
COPY . /project
RUN uv sync --frozen --no-dev

FROM debian:bookworm-slim AS runtime
COPY --from=builder /app /app
CMD ["/app/bin/python"]
"""


def seed_plan(tmp_path: Path, text: str, **flags):
    project = tmp_path / "proj"
    if not project.exists():
        shutil.copytree(FIXTURES / "two_indexes", project)
    (project / "Dockerfile").write_text(text)
    return planner.make_plan(project, {**FLAGS, **flags}, dockerfile=project / "Dockerfile")


POOLED = {**FLAGS, "pool_threshold": "10kB"}  # six's wheel (11 kB) gets a layer of its own


def pooled_plan(**flags):
    return planner.make_plan(FIXTURES / "two_indexes", {**POOLED, **flags})
