"""Seed mode's refusals and selection (issue 11, item 1), in-process and without an engine.

Where uvbuild cannot prove a split of the user's Dockerfile safe it stops before anything
is built: exit 2 and one line that names ``<Dockerfile>:<line>`` and the way forward (a
``uvbuild-system`` stage under ``FROM uvbuild-base``, or ``tool.uvbuild.dockerfile =
"generated"``). ``dockerfile``, ``plan`` and ``build`` refuse alike; ``build`` runs on a fake
engine that fails the test if anything is built. The selection (extras, groups, dev) is the
sync's: its flags, ENV, ARG (with --build-arg) and the command's own variables. The
real-engine halves are tests/integration/test_seed.py and test_seed_python.py.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.clirun import PLAN_ARGS, assert_one_error_line, fake_lock_check, run_main
from tests.fakes import FakeEngine
from tests.paths import FIXTURES

UV = "COPY --from=ghcr.io/astral-sh/uv:0.9.5 /uv /uvx /bin/"
WAYS_FORWARD = ("uvbuild-system", "uvbuild-base", '"generated"')

# uv #9324's Dockerfile as its issue has it (the public images stay: nothing is built).
ISSUE_9324 = """\
FROM nvcr.io/nvidia/cuda:12.6.2-cudnn-devel-ubuntu22.04
SHELL ["/bin/sh", "-exc"]
ARG DEBIAN_FRONTEND=noninteractive
ARG python_version=3.11
COPY --link --from=ghcr.io/astral-sh/uv:0.5.2 /uv /usr/local/bin/uv
RUN apt-get update --quiet && apt-get install -qy libgl1 && uv python install $python_version
ENV UV_PYTHON="python$python_version" UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/app \\
    UV_LINK_MODE=copy PYTHONFAULTHANDLER=1 PYTHONUNBUFFERED=1 UV_COMPILE_BYTECODE=1 PYTHONOPTIMIZE=1
WORKDIR /project
COPY pyproject.toml uv.lock /project
RUN --mount=type=cache,target=/root/.cache/uv uv sync --no-dev --no-install-project --frozen
"""

# (id, Dockerfile, the line it names or None, more words of the error line)
REFUSED = [
    (
        "no-uv-sync",
        f"FROM python:3.11-slim\n{UV}\nWORKDIR /app\nCOPY . .\nRUN pip install .\n",
        None,
        ["uv sync"],
    ),
    (
        "uv-pip-install-r",
        f"FROM python:3.11-slim\n{UV}\nCOPY requirements.txt .\n"
        "RUN uv pip install --system -r requirements.txt\n",
        4,
        ["uv pip install"],
    ),
    (
        "ssh-mount",
        f"FROM python:3.11-slim\n{UV}\nWORKDIR /app\nCOPY pyproject.toml uv.lock ./\n"
        "RUN --mount=type=ssh uv sync --frozen --no-install-project\n",
        5,
        ["ssh"],
    ),
    (
        "secret-mount",
        f"FROM python:3.11-slim\n{UV}\nWORKDIR /app\nCOPY pyproject.toml uv.lock ./\n"
        "RUN --mount=type=secret,id=netrc,target=/root/.netrc \\\n"
        "    uv sync --frozen --no-install-project\n",
        5,
        ["secret"],
    ),
    (
        "custom-frontend",
        f"# syntax=registry.example.com/acme/dockerfile-frontend:2\nFROM python:3.11-slim\n{UV}\n"
        "WORKDIR /app\nCOPY pyproject.toml uv.lock ./\nRUN uv sync --frozen --no-install-project\n",
        1,
        ["syntax"],
    ),
    (
        "unknown-sync-flag",
        f"FROM python:3.11-slim\n{UV}\nWORKDIR /app\nCOPY pyproject.toml uv.lock ./\n"
        "RUN uv sync --frozen --frobnicate\n",
        5,
        ["--frobnicate"],
    ),
    (
        "flags-from-a-command",
        f"FROM python:3.11-slim\n{UV}\nWORKDIR /app\nCOPY pyproject.toml uv.lock sync-flags ./\n"
        "RUN uv sync $(cat sync-flags)\n",
        5,
        [],
    ),
]


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch):
    fake_lock_check(monkeypatch)
    monkeypatch.setenv("NO_COLOR", "1")


class BuildsNothing(FakeEngine):
    """A healthy engine on which nothing may be built or tagged."""

    def build(self, *_args, **_kwargs):
        raise AssertionError("a refused Dockerfile must not be built")

    def tag(self, *_args, **_kwargs):
        raise AssertionError("a refused Dockerfile must not be built")


def _project(tmp_path: Path, dockerfile: str) -> tuple[Path, Path]:
    project = tmp_path / "proj"
    shutil.copytree(FIXTURES / "two_indexes", project)
    (project / "requirements.txt").write_text("six\n")
    (project / "sync-flags").write_text("--frozen\n")
    path = project / "Dockerfile"
    path.write_text(dockerfile)
    return project, path


def _run(capsys, command: str, project: Path, dockerfile: Path) -> tuple[int, str, str]:
    args = (command, "-f", str(dockerfile), str(project), *PLAN_ARGS)
    if command == "build":
        return run_main(capsys, *args, "-t", "app:dev", engine=BuildsNothing())
    return run_main(capsys, *args)


@pytest.mark.parametrize("command", ["dockerfile", "plan", "build"])
@pytest.mark.parametrize(
    ("text", "line", "needles"), [pytest.param(*case[1:], id=case[0]) for case in REFUSED]
)
def test_refused_pattern_is_one_line_and_exit_2(
    tmp_path, capsys, command, text, line, needles
) -> None:
    project, dockerfile = _project(tmp_path, text)

    got, out, err = _run(capsys, command, project, dockerfile)

    assert got == 2, err
    where = "Dockerfile" if line is None else f"Dockerfile:{line}"
    message = assert_one_error_line(out, err, where, *needles)
    assert any(way in message for way in WAYS_FORWARD), message


def test_the_9324_dockerfile_splits_at_its_sync(tmp_path, capsys) -> None:
    project, dockerfile = _project(tmp_path, ISSUE_9324)

    got, out, err = run_main(capsys, "dockerfile", "-f", str(dockerfile), str(project), *PLAN_ARGS)

    assert got == 0, err
    assert re.search(r"^FROM \S+ AS uvbuild-system$", out, re.MULTILINE | re.IGNORECASE), out
    lines = out.splitlines()
    system = next(i for i, text in enumerate(lines) if re.search(r"AS uvbuild-system$", text, re.I))
    # Before the split: the system part (the apt line and the interpreter with it) ...
    apt = next(i for i, text in enumerate(lines) if text.startswith("RUN apt-get update"))
    assert system < apt
    # ... after it the rest of the user's Dockerfile, from the project's files on, unchanged.
    tail = ISSUE_9324.split("WORKDIR /project\n", 1)[1].splitlines()
    start = lines.index(tail[0])
    assert start > apt
    assert lines[start : start + len(tail)] == tail


def test_the_standard_frontend_is_not_a_custom_one(tmp_path, capsys) -> None:
    project, dockerfile = _project(tmp_path, "# syntax=docker/dockerfile:1\n" + ISSUE_9324)

    got, out, err = run_main(capsys, "dockerfile", "-f", str(dockerfile), str(project), *PLAN_ARGS)

    assert got == 0, err
    assert "uvbuild-system" in out


# -- the selection comes from the sync: its flags, ENV, ARG (with --build-arg), the command's
# own variables -----------------------------------------------------------------------------

SELECTION_HEAD = f"FROM python:3.11-slim\n{UV}\nWORKDIR /app\nCOPY pyproject.toml uv.lock ./\n"

# (id, the lines from the sync's stage on, plan's extra flags, the request fields expected)
SELECTIONS = [
    (
        "flags",
        "RUN uv sync --frozen --extra f --group g --no-dev --no-install-project\n",
        [],
        {"extras": ["f"], "groups": ["g"], "no-dev": True},
    ),
    (
        "env",
        "ENV UV_NO_DEV=1 UV_FROZEN=1\nRUN uv sync --all-extras --no-group g --no-install-project\n",
        [],
        {"all-extras": True, "no-groups": ["g"], "no-dev": True},
    ),
    (
        "arg-default",
        "ARG UV_NO_DEV=1\nRUN uv sync --frozen --only-group g\n",
        [],
        {"only-groups": ["g"], "no-dev": True},
    ),
    (
        "arg-from-build-arg",
        "ARG UV_NO_DEV\nRUN uv sync --frozen --no-install-project\n",
        ["--build-arg", "UV_NO_DEV=1"],
        {"no-dev": True},
    ),
    (
        "arg-not-given",
        "ARG UV_NO_DEV\nRUN uv sync --frozen --no-install-project\n",
        [],
        {"no-dev": False},
    ),
    (
        "command-variable",
        "RUN UV_NO_DEV=1 uv sync --frozen --extra e --no-install-project\n",
        [],
        {"extras": ["e"], "no-dev": True},
    ),
]


@pytest.mark.parametrize(
    ("rest", "flags", "expected"), [pytest.param(*case[1:], id=case[0]) for case in SELECTIONS]
)
def test_the_selection_is_the_syncs(tmp_path, capsys, rest, flags, expected) -> None:
    project = tmp_path / "proj"
    shutil.copytree(FIXTURES / "empty_extra", project)
    dockerfile = project / "Dockerfile"
    dockerfile.write_text(SELECTION_HEAD + rest)

    got, out, err = run_main(
        capsys, "plan", "--json", "-f", str(dockerfile), str(project), *PLAN_ARGS, *flags
    )

    assert got == 0, err
    plan = json.loads(out)
    assert plan["dockerfile"]["mode"] == "seed"
    request = plan["request"]
    assert {key: request[key] for key in expected} == expected
