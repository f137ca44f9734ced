"""uvbuild.core.user_dockerfile.seed: the user's Dockerfile cut at its first ``uv sync``: the
system part, the prelude, the sync and the rest, and the refusals of what cannot be cut
safely."""

from __future__ import annotations

import pytest

from tests.core.user_dockerfile.splitting import (
    GENERATED,
    WAY_OUT,
    assert_refused_at,
    one_stage,
    refusal,
    split,
)

# uv issue #9324, as its author wrote it (the apt line shortened)
UV_9324 = """\
FROM nvcr.io/nvidia/cuda:12.6.2-cudnn-devel-ubuntu22.04
SHELL ["/bin/sh", "-exc"]
ARG DEBIAN_FRONTEND=noninteractive
ARG python_version=3.11
COPY --link --from=ghcr.io/astral-sh/uv:0.5.2 /uv /usr/local/bin/uv
RUN apt-get update --quiet && apt-get install -y curl && uv python install $python_version
ENV UV_PYTHON="python$python_version" UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/app \\
    UV_LINK_MODE=copy PYTHONFAULTHANDLER=1 PYTHONUNBUFFERED=1 UV_COMPILE_BYTECODE=1 PYTHONOPTIMIZE=1
WORKDIR /project
COPY pyproject.toml uv.lock README.md /project
RUN --mount=type=cache,target=/root/.cache/uv uv sync --no-dev --no-install-project --frozen
"""


# -- uv #9324 ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def uv9324():
    return split(UV_9324)


def test_9324_system_part(uv9324):
    lines = UV_9324.splitlines()
    system = uv9324.system
    assert system.system_from == (
        "FROM nvcr.io/nvidia/cuda:12.6.2-cudnn-devel-ubuntu22.04 AS uvbuild-system"
    )
    assert system.system == (*lines[1:6], "\n".join(lines[6:8]), lines[8])
    assert system.system_run is None
    assert system.head == ()
    assert system.installs_python and not system.creates_venv


def test_9324_prelude_sync_and_rest(uv9324):
    assert uv9324.sync_line == 11
    assert uv9324.prelude == ("COPY pyproject.toml uv.lock README.md /project",)
    assert uv9324.sync_run == UV_9324.splitlines()[10]
    assert uv9324.rest == ()
    assert uv9324.stage_name is None and uv9324.syntax is None


def test_9324_args_are_declared_again(uv9324):
    assert uv9324.system.args == ("ARG DEBIAN_FRONTEND=noninteractive", "ARG python_version=3.11")


def test_9324_flags(uv9324):
    assert dict(uv9324.flags) == {
        "no_dev": True,
        "compile_bytecode": True,  # UV_COMPILE_BYTECODE=1
        "venv": "/app",  # UV_PROJECT_ENVIRONMENT
        "python": "3.11",  # UV_PYTHON="python$python_version"
    }
    assert uv9324.python_request == "python3.11"
    assert uv9324.python_downloads == "never"
    assert uv9324.notes == ()


def test_9324_images_and_context(uv9324):
    assert uv9324.system.images == (
        "nvcr.io/nvidia/cuda:12.6.2-cudnn-devel-ubuntu22.04",
        "ghcr.io/astral-sh/uv:0.5.2",
    )
    # the project's files are copied in the prelude, not the system part
    assert uv9324.system.context_sources == ()


def test_9324_recipe_sees_the_args(uv9324):
    recipe = uv9324.system.recipe
    assert recipe[0] == "FROM  nvcr.io/nvidia/cuda:12.6.2-cudnn-devel-ubuntu22.04 (stage 0)"
    run = next(line for line in recipe if line.startswith("RUN "))
    assert run.endswith("[args: DEBIAN_FRONTEND=noninteractive python_version=3.11]")
    assert any(line.startswith('ENV UV_PYTHON="python3.11" ') for line in recipe)


def test_9324_build_arg_reaches_the_flags_and_recipe(uv9324):
    other = split(UV_9324, {"python_version": "3.12"})
    assert other.flags["python"] == "3.12" and other.python_request == "python3.12"
    assert other.system.recipe != uv9324.system.recipe
    # the text is kept as written: the ARG's default stays
    assert other.system.args == uv9324.system.args


# -- the sync's RUN --------------------------------------------------------------------------


def test_commands_chained_before_the_sync_go_to_the_system_part():
    found = split(one_stage("RUN uv python install 3.12 && uv venv && uv sync --frozen"))
    assert found.system.system_run == "RUN uv python install 3.12 && uv venv"
    assert found.sync_run == "RUN uv sync --frozen"
    assert found.system.creates_venv and found.system.installs_python
    assert found.system.recipe[-1] == "RUN uv python install 3.12 && uv venv"


def test_the_sync_runs_keep_their_mounts_in_both_parts():
    found = split(
        one_stage("RUN --mount=type=cache,target=/root/.cache/uv uv venv /v; uv sync --frozen")
    )
    assert found.system.system_run == "RUN --mount=type=cache,target=/root/.cache/uv uv venv /v"
    assert found.sync_run == "RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen"


def test_cd_before_the_sync_stays_with_the_sync():
    found = split(one_stage("RUN cd /app && uv sync --frozen"))
    assert found.system.system_run is None
    assert found.sync_run == "RUN cd /app && uv sync --frozen"
    assert found.flags["venv"] == "/app/.venv"


def test_cd_is_kept_when_the_work_before_it_moves():
    found = split(one_stage("WORKDIR /w", "RUN cd sub && apt-get install -y x && uv sync"))
    assert found.system.system_run == "RUN cd sub && apt-get install -y x"
    assert found.sync_run == "RUN cd sub && uv sync"
    assert found.flags["venv"] == "/w/sub/.venv"


def test_the_moved_commands_keep_their_mounts_but_the_project_files():
    found = split(
        one_stage(
            "RUN --mount=type=cache,target=/root/.cache/uv "
            "--mount=type=bind,source=uv.lock,target=uv.lock "
            "--mount=type=bind,source=tools,target=/tools "
            "/tools/setup.sh && uv sync --frozen"
        )
    )
    # the system part runs before the project's files are there: it does not mount them,
    # and what it does mount from the context is in the key
    assert found.system.system_run == (
        "RUN --mount=type=cache,target=/root/.cache/uv "
        "--mount=type=bind,source=tools,target=/tools /tools/setup.sh"
    )
    assert "source=uv.lock" in found.sync_run
    assert found.system.context_sources == ("tools",)


def test_commands_after_the_sync_stay_with_it():
    found = split(one_stage("RUN uv sync --frozen && rm -rf /root/.cache"))
    assert found.sync_run == "RUN uv sync --frozen && rm -rf /root/.cache"


def test_inline_environment_of_the_sync():
    found = split(one_stage("RUN UV_NO_DEV=1 UV_COMPILE_BYTECODE=1 uv sync --frozen"))
    assert found.flags["no_dev"] is True and found.flags["compile_bytecode"] is True
    assert found.sync_run == "RUN UV_NO_DEV=1 UV_COMPILE_BYTECODE=1 uv sync --frozen"


def test_inline_environment_sees_the_stage_variables():
    found = split(one_stage("ARG V=3.10", "RUN UV_PYTHON=python$V uv sync"))
    assert found.flags["python"] == "3.10" and found.python_request == "python3.10"


def test_exec_form_sync():
    text = one_stage('RUN ["uv", "sync", "--frozen", "--no-dev"]')
    found = split(text)
    assert found.sync_run == 'RUN ["uv", "sync", "--frozen", "--no-dev"]'
    assert found.flags["no_dev"] is True


def test_uv_global_options_before_sync():
    found = split(one_stage("RUN /usr/local/bin/uv --no-cache sync --frozen"))
    assert found.sync_line == 2


def test_the_first_sync_is_the_split():
    found = split(
        one_stage(
            "WORKDIR /app",
            "RUN --mount=type=bind,source=uv.lock,target=uv.lock "
            "--mount=type=bind,source=pyproject.toml,target=pyproject.toml "
            "uv sync --frozen --no-install-project",
            "COPY . /app",
            "RUN uv sync --frozen",
        )
    )
    # uv's intermediate-layer pattern: the lock is bind-mounted into the sync's RUN, which
    # keeps its mounts; the source and the second sync are the rest
    assert found.sync_line == 3
    assert found.sync_run.startswith(
        "RUN --mount=type=bind,source=uv.lock,target=uv.lock "
        "--mount=type=bind,source=pyproject.toml,target=pyproject.toml uv sync"
    )
    assert found.prelude == ()
    assert found.rest == ("COPY . /app", "RUN uv sync --frozen")
    assert found.system.system == ("WORKDIR /app",)
    assert found.system.context_sources == ()


@pytest.mark.parametrize(
    "copy",
    [
        "COPY . .",
        "COPY ./ /app/",
        "COPY uv.lock /app/",
        "COPY --chown=1000 pyproject.toml /app/",
        "COPY .python-version /app/",
        "COPY *.toml /app/",
        "ADD . /app",
        "RUN --mount=type=bind,target=/src true",
    ],
)
def test_copies_of_the_project_start_the_prelude(copy):
    found = split(one_stage("RUN apt-get update", copy, "RUN uv sync"))
    assert found.system.system == ("RUN apt-get update",)
    assert found.prelude == (copy,)


# -- multi-stage -----------------------------------------------------------------------------

MULTI = """\
FROM python:3.12 AS builder
COPY --from=ghcr.io/astral-sh/uv:0.5 /uv /bin/
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-install-project
COPY . .
RUN uv sync --frozen

FROM python:3.12-slim AS runtime
RUN apt-get update
COPY --from=builder /app/.venv /app/.venv
CMD ["/app/.venv/bin/python"]
"""


def test_builder_and_runtime():
    found = split(MULTI)
    assert found.stage_name == "builder"
    assert found.rest == (
        "COPY . .",
        "RUN uv sync --frozen",
        "FROM python:3.12-slim AS runtime\n"
        "RUN apt-get update\n"
        "COPY --from=builder /app/.venv /app/.venv\n"
        'CMD ["/app/.venv/bin/python"]',
    )
    assert found.system.images == ("python:3.12", "ghcr.io/astral-sh/uv:0.5")
    assert found.flags["venv"] == "/app/.venv"


@pytest.mark.parametrize("source", ["0", "1"])
def test_numbered_reference_to_the_sync_stage_or_later_is_refused(source):
    text = (
        "FROM python:3.12 AS builder\nRUN uv sync --frozen\n"
        "FROM python:3.12-slim\n"
        f"COPY --from={source} /app/.venv /app/.venv\n"
    )
    message = refusal(text)
    assert message.startswith(f"Dockerfile:4: `--from={source}` counts stages")
    assert WAY_OUT in message and GENERATED in message


def test_numbered_reference_to_an_earlier_stage_is_kept():
    text = (
        "FROM busybox AS tools\n"
        "FROM python:3.12 AS builder\nRUN uv sync --frozen\n"
        "FROM python:3.12-slim\nCOPY --from=0 /bin/sh /bin/sh\n"
    )
    found = split(text)
    assert found.rest == ("FROM python:3.12-slim\nCOPY --from=0 /bin/sh /bin/sh",)
    assert found.system.head == ("FROM busybox AS tools",)


# -- syntax ----------------------------------------------------------------------------------


@pytest.mark.parametrize("syntax", ["docker/dockerfile:1", "docker/dockerfile:1.7-labs"])
def test_docker_frontends_are_accepted_and_kept(syntax):
    assert split(f"# syntax={syntax}\n" + one_stage("RUN uv sync")).syntax == syntax


# -- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start"),
    [
        (
            one_stage("RUN echo", "RUN uv pip install -r requirements.txt"),
            "Dockerfile:3: installs with",
        ),
        (one_stage("RUN pip install -r requirements.txt"), "Dockerfile:2: installs with"),
        (
            "# syntax=docker/dockerfile:1\n"
            + one_stage("RUN echo", "RUN <<EOF\nuv sync --frozen\nEOF"),
            "Dockerfile:4: the `uv sync` is in a heredoc",
        ),
        (
            one_stage("RUN echo", "RUN --mount=type=secret,id=token uv sync"),
            "Dockerfile:3: the sync needs a secret mount",
        ),
        (
            one_stage("RUN echo", "RUN --mount=type=ssh uv sync"),
            "Dockerfile:3: the sync needs a ssh mount",
        ),
        (
            "# syntax=example.com/custom:1\n" + one_stage("RUN uv sync"),
            "Dockerfile:1: `# syntax=example.com/custom:1` is a frontend",
        ),
        (one_stage("RUN echo", "RUN false || uv sync"), "Dockerfile:3: the `uv sync` follows `||`"),
        (one_stage("RUN echo", "RUN echo | uv sync"), "Dockerfile:3: the `uv sync` follows `|`"),
    ],
)
def test_refusals_name_the_line_and_the_way_out(text, start):
    assert_refused_at(text, start)


def test_no_sync_at_all():
    message = refusal(one_stage("RUN echo hi"))
    assert message.startswith("Dockerfile: no `uv sync` in any RUN")
    assert WAY_OUT in message and GENERATED in message


def test_pip_install_after_the_sync_is_not_refused():
    assert split(one_stage("RUN uv sync", "RUN pip install debugpy")).sync_line == 2


def test_secret_mounts_before_the_sync_are_the_users():
    found = split(one_stage("RUN --mount=type=secret,id=apt apt-get update", "RUN uv sync"))
    assert found.system.system == ("RUN --mount=type=secret,id=apt apt-get update",)
