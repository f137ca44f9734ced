"""uvbuild.core.user_dockerfile.seed_sync: the sync's flags and the UV_* settings it sees, read
into plan flags (selection, venv, interpreter, bytecode, python downloads), and the
refusals."""

from __future__ import annotations

import pytest

from tests.core.user_dockerfile.splitting import (
    assert_refused_at,
    one_stage,
    split,
)

# -- sync flags ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("--extra a --extra b", {"extras": ("a", "b")}),
        ("--extra=a", {"extras": ("a",)}),
        ("--group g", {"groups": ("g",)}),
        ("--no-group g --no-extra e", {"no_groups": ("g",), "no_extras": ("e",)}),
        ("--only-group g", {"only_groups": ("g",)}),
        ("--package p", {"package": "p"}),
        ("--package p --package q", {"packages": ("p", "q")}),
        ("--all-packages", {"all_packages": True}),
        ("--all-extras", {"all_extras": True}),
        ("--all-groups", {"all_groups": True}),
        ("--no-default-groups", {"no_default_groups": True}),
        ("--no-dev", {"no_dev": True}),
        ("--dev", {"dev": True}),
        ("--only-dev", {"only_dev": True}),
        ("--python 3.12", {"python": "3.12"}),
        ("--python=3.12", {"python": "3.12"}),
        ("-p 3.10", {"python": "3.10"}),
        ("--python cpython-3.13.1", {"python": "3.13"}),
        ("--compile-bytecode", {"compile_bytecode": True}),
        ("--frozen --no-install-project --link-mode copy -q", {}),
    ],
)
def test_sync_flags(args, expected):
    flags = dict(split(one_stage(f"RUN uv sync {args}")).flags)
    assert flags == {"compile_bytecode": False, "venv": "/.venv", **expected}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ("UV_NO_DEV=1", {"no_dev": True}),
        ("UV_NO_DEV=0", {}),
        ("UV_NO_DEFAULT_GROUPS=true", {"no_default_groups": True}),
        ("UV_COMPILE_BYTECODE=yes", {"compile_bytecode": True}),
        ("UV_PYTHON=3.13", {"python": "3.13"}),
        ("UV_PROJECT_ENVIRONMENT=/opt/venv", {"venv": "/opt/venv"}),
    ],
)
def test_sync_settings_from_env(env, expected):
    flags = dict(split(one_stage(f"ENV {env}", "RUN uv sync")).flags)
    assert flags == {"compile_bytecode": False, "venv": "/.venv", **expected}


def test_flag_wins_over_env():
    found = split(
        one_stage(
            "ENV UV_PYTHON=3.11 UV_COMPILE_BYTECODE=1", "RUN uv sync -p 3.12 --no-compile-bytecode"
        )
    )
    assert found.flags["python"] == "3.12" and found.flags["compile_bytecode"] is False


def test_interpreter_without_a_version_is_a_note():
    found = split(one_stage("ENV UV_PYTHON=python3", "RUN uv sync"))
    assert "python" not in found.flags
    assert found.python_request == "python3"
    assert len(found.notes) == 1 and found.notes[0].startswith("Dockerfile:3: the interpreter")


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ((), "automatic"),
        (("ENV UV_PYTHON_DOWNLOADS=never",), "never"),
        (("ENV UV_PYTHON_DOWNLOADS=manual",), "manual"),
        (("ENV UV_PYTHON_DOWNLOADS=0",), "never"),
        (("ENV UV_PYTHON_DOWNLOADS=false",), "never"),
    ],
)
def test_python_downloads(lines, expected):
    assert split(one_stage(*lines, "RUN uv sync")).python_downloads == expected


def test_python_downloads_flag():
    assert split(one_stage("RUN uv sync --no-python-downloads")).python_downloads == "never"


# -- venv and working directory --------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "venv"),
    [
        ((), "/.venv"),
        (("WORKDIR /app",), "/app/.venv"),
        (("WORKDIR /a", "WORKDIR b", "WORKDIR ../c"), "/a/c/.venv"),
        (("ENV ROOT=/srv", "WORKDIR $ROOT/app"), "/srv/app/.venv"),
        (("WORKDIR /w", "ENV UV_PROJECT_ENVIRONMENT=env"), "/w/env"),
        (("WORKDIR /w", "ENV UV_PROJECT_ENVIRONMENT=../env"), "/env"),
        (("WORKDIR /w", "ENV UV_PROJECT_ENVIRONMENT=/opt/venv"), "/opt/venv"),
    ],
)
def test_venv(lines, venv):
    assert split(one_stage(*lines, "RUN uv sync")).flags["venv"] == venv


# -- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start"),
    [
        (one_stage("RUN echo", "RUN uv sync --frobnicate"), "Dockerfile:3: `uv sync --frobnicate`"),
        (one_stage("RUN echo", "RUN uv sync extra"), "Dockerfile:3: `uv sync extra`"),
        (
            one_stage("RUN echo", "RUN uv sync --extra"),
            "Dockerfile:3: `uv sync --extra` needs a value",
        ),
        (one_stage("RUN echo", "RUN uv sync --no-sources"), "Dockerfile:3: `uv sync --no-sources`"),
        (
            one_stage("RUN echo", "RUN uv sync --directory /x"),
            "Dockerfile:3: `uv sync --directory`",
        ),
        (
            one_stage("ENV UV_NO_SOURCES=1", "RUN echo", "RUN uv sync"),
            "Dockerfile:4: UV_NO_SOURCES",
        ),
        (one_stage("RUN echo", "RUN UV_NO_BINARY=1 uv sync"), "Dockerfile:3: UV_NO_BINARY"),
        (one_stage("ENV UV_PROJECT=/x", "RUN uv sync"), "Dockerfile:3: UV_PROJECT is set"),
    ],
)
def test_sync_refusals_name_the_line_and_the_way_out(text, start):
    assert_refused_at(text, start)
