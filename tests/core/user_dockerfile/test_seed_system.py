"""uvbuild.core.user_dockerfile.seed_system: the stage uvbuild-system the keyed layers are
built on: its FROM, its head, the images and build-context paths it reads, the recipe its
key sees."""

from __future__ import annotations

from tests.core.user_dockerfile.splitting import one_stage, split


def test_workdir_and_env_carry_over_from_the_parent_stage():
    text = "\n".join(
        [
            "FROM debian AS sys",
            "WORKDIR /app",
            "ENV UV_COMPILE_BYTECODE=1",
            "FROM sys AS deps",
            "RUN uv sync",
            "",
        ]
    )
    found = split(text)
    assert found.flags["venv"] == "/app/.venv" and found.flags["compile_bytecode"] is True
    assert found.stage_name == "deps"
    assert found.system.head == ("FROM debian AS sys\nWORKDIR /app\nENV UV_COMPILE_BYTECODE=1",)
    assert found.system.system_from == "FROM sys AS uvbuild-system"
    assert found.system.images == ("debian",)


# -- global ARGs and build args --------------------------------------------------------------

GLOBAL_ARG = """\
ARG BASE=python:3.11-slim
FROM $BASE
ARG X=1
RUN echo $X
RUN uv sync
"""


def test_global_arg_in_from():
    found = split(GLOBAL_ARG)
    assert found.system.system_from == "FROM $BASE AS uvbuild-system"
    assert found.system.head == ("ARG BASE=python:3.11-slim",)
    assert found.system.images == ("python:3.11-slim",)
    assert found.system.recipe[0] == "ARG BASE=python:3.11-slim"


def test_build_args_override_arg_defaults():
    default = split(GLOBAL_ARG)
    found = split(GLOBAL_ARG, {"BASE": "python:3.12-slim", "X": "2"})
    assert found.system.images == ("python:3.12-slim",)
    assert "ARG BASE=python:3.12-slim" in found.system.recipe
    assert "RUN echo $X [args: X=2]" in found.system.recipe
    assert "RUN echo $X [args: X=1]" in default.system.recipe


def test_unrelated_build_args_leave_the_recipe():
    assert split(GLOBAL_ARG, {"OTHER": "x"}).system.recipe == split(GLOBAL_ARG).system.recipe


# -- images and context sources --------------------------------------------------------------


def test_images_of_from_copy_and_mount():
    found = split(
        one_stage(
            "COPY --from=ghcr.io/astral-sh/uv:0.5.2 /uv /bin/uv",
            "RUN --mount=type=bind,from=busybox:1,target=/b true",
            "RUN uv sync",
        )
    )
    assert found.system.images == ("debian:bookworm", "ghcr.io/astral-sh/uv:0.5.2", "busybox:1")


def test_context_sources_of_the_system_part():
    found = split(
        one_stage(
            "ARG DIR=scripts",
            "COPY $DIR/setup.sh /tmp/",
            "ADD vendor/ /vendor/",
            "RUN --mount=type=bind,source=apt.txt,target=/apt.txt xargs apt-get install < /apt.txt",
            "COPY pyproject.toml uv.lock ./",
            "COPY extra.txt /",
            "RUN uv sync",
        )
    )
    assert found.system.context_sources == ("scripts/setup.sh", "vendor/", "apt.txt")
    # the first copy of the project's files starts the prelude, whatever follows
    assert found.prelude == ("COPY pyproject.toml uv.lock ./", "COPY extra.txt /")


def test_stage_copied_into_the_system_part_is_in_its_inputs():
    text = (
        "FROM busybox:1 AS tools\nCOPY tool.sh /tool.sh\n"
        "FROM debian\nCOPY --from=tools /tool.sh /tool.sh\nRUN uv sync\n"
    )
    found = split(text)
    assert found.system.images == ("busybox:1", "debian")
    assert found.system.context_sources == ("tool.sh",)
