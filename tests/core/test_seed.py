"""uvbuild.core.seed: the user's Dockerfile cut at its first ``uv sync``: the system part,
the prelude, the sync and the rest, the plan flags the sync decides, and the refusals."""

from __future__ import annotations

import pytest

from uvbuild.core import dockerfile_text, seed
from uvbuild.errors import ConfigError

WAY_OUT = "start the Python stage with `FROM uvbuild-base`"
GENERATED = 'or set tool.uvbuild.dockerfile = "generated"'

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


def split(text: str, build_args=None, path: str = "Dockerfile") -> seed.SeedSplit:
    return seed.split(dockerfile_text.parse(text, path), build_args)


def refusal(text: str, build_args=None) -> str:
    with pytest.raises(ConfigError) as info:
        split(text, build_args)
    assert info.value.exit_code == 2
    message = str(info.value)
    assert "\n" not in message
    return message


def one_stage(*lines: str) -> str:
    return "\n".join(["FROM debian:bookworm", *lines]) + "\n"


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


def test_global_arg_declared_again_in_the_stage():
    found = split("ARG V=3.12\nFROM debian\nARG V\nENV UV_PYTHON=$V\nRUN uv sync\n")
    assert found.flags["python"] == "3.12"
    # not declared again: the stage does not see it
    found = split("ARG V=3.12\nFROM debian\nENV UV_PYTHON=$V\nRUN uv sync\n")
    assert "python" not in found.flags


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


def test_stage_copied_into_the_system_part_is_in_its_inputs():
    text = (
        "FROM busybox:1 AS tools\nCOPY tool.sh /tool.sh\n"
        "FROM debian\nCOPY --from=tools /tool.sh /tool.sh\nRUN uv sync\n"
    )
    found = split(text)
    assert found.system.images == ("busybox:1", "debian")
    assert found.system.context_sources == ("tool.sh",)


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
def test_refusals_name_the_line_and_the_way_out(text, start):
    message = refusal(text)
    assert message.startswith(start), message
    assert message.endswith(f"{WAY_OUT} (on a stage named `uvbuild-system`), {GENERATED}")


def test_no_sync_at_all():
    message = refusal(one_stage("RUN echo hi"))
    assert message.startswith("Dockerfile: no `uv sync` in any RUN")
    assert WAY_OUT in message and GENERATED in message


def test_pip_install_after_the_sync_is_not_refused():
    assert split(one_stage("RUN uv sync", "RUN pip install debugpy")).sync_line == 2


def test_secret_mounts_before_the_sync_are_the_users():
    found = split(one_stage("RUN --mount=type=secret,id=apt apt-get update", "RUN uv sync"))
    assert found.system.system == ("RUN --mount=type=secret,id=apt apt-get update",)
