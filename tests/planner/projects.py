"""Projects and Dockerfiles the planner tests share (their fixtures are in conftest.py)."""

from __future__ import annotations

from pathlib import Path

from uvbuild.planner.plan import make_plan
from uvbuild.planner.project_files import Project

FLAGS = {"platform": "linux/amd64", "python": "3.11"}

SEED_DOCKERFILE = """\
ARG BASE=debian:bookworm
FROM $BASE AS builder
ARG python_version=3.11
ARG APT=curl
COPY --from=ghcr.io/astral-sh/uv:0.5.2 /uv /usr/local/bin/uv
COPY scripts/setup.sh /tmp/setup.sh
RUN apt-get update && apt-get install -y $APT && sh /tmp/setup.sh
ENV UV_PYTHON="python$python_version" UV_PROJECT_ENVIRONMENT=/app UV_COMPILE_BYTECODE=1
WORKDIR /project
COPY pyproject.toml uv.lock /project/
ARG APP_VERSION=1
RUN --mount=type=cache,target=/root/.cache/uv uv sync --no-dev --no-install-project --frozen
COPY . /project
RUN uv sync --frozen --no-dev

FROM debian:bookworm-slim AS runtime
COPY --from=builder /app /app
CMD ["/app/bin/python"]
"""


EXPLICIT_DOCKERFILE = """\
FROM debian:bookworm AS uvbuild-system
COPY apt.txt /tmp/apt.txt
RUN apt-get update && xargs apt-get install -y < /tmp/apt.txt

FROM uvbuild-base
WORKDIR /app
COPY . .
"""


def given_project(tmp_path: Path, **kwargs) -> Project:
    """A Project as read_project gives it, without the files."""
    values = {
        "dir": tmp_path,
        "name": "app",
        "tool_uvbuild": None,
        "default_groups": ("dev",),
        "python_version_file": None,
    }
    values.update(kwargs)
    return Project(**values)


def seed_plan(project: Path, build_args=None, flags=FLAGS):
    return make_plan(project, flags, dockerfile=project / "Dockerfile", build_args=build_args)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
