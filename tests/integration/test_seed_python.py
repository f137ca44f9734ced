"""Seed mode on an image without Python (issue 11, items 3 and 6), as a CUDA base image is:
``uvbuild-test/nopython:bookworm``, with CPython 3.11 from the offline mirror that
``../shared/docker/python-mirror start`` serves (``UV_PYTHON_DOWNLOADS_JSON_URL``, a build
argument of every build here; builds run with ``--network host`` to reach it). The mirror
serves its own directory of links to the shared archive, so that its downloads.json (which
names its port) is not the one other sessions' mirrors serve.

Three ways a Dockerfile gets its Python, each built by ``docker buildx build`` and by
``uvbuild build -f``, whose venvs must hold the same distributions (name, version,
RECORD) on the same interpreter:

* ``uv python install 3.11`` in its own RUN before the sync (uv #9324 as written): the
  system part has the interpreter;
* ``uv sync`` downloads it itself: the keyed layers install the same Python the same way;
* ``uv python install 3.11 && uv venv && uv sync`` in one RUN: the commands before the sync
  are the system part.

Either way the user's sync adds the light packages only (not the heavy ones, not Python).
With ``UV_PYTHON_DOWNLOADS=never`` and no Python in the image, uvbuild stops with one line
and exit 2, as the user's sync would fail.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from tests import synth
from tests.integration import seeding
from tests.integration.helpers import error_lines, image_exists, plan_base
from tests.integration.seeding import (
    BASE_HEAVY,
    LIGHT_BYTES,
    assert_same_pyvenv,
    assert_same_venv,
    buildx,
    dist_versions,
    file_in,
    new_bytes,
    seed_build,
    seed_project,
    write_dockerfile,
)
from tests.integration.uvrun import uvbuild
from tests.paths import REPO

NOPYTHON_IMAGE = os.environ.get("UVBUILD_TEST_NOPYTHON_IMAGE", "uvbuild-test/nopython:bookworm")
MIRROR_ARG = "UV_PYTHON_DOWNLOADS_JSON_URL"

# uv #9324 as written: the apt line (a stand-in) chained with `uv python install`.
DOCKERFILE_INSTALL_RUN = """\
FROM {nopython_image}
SHELL ["/bin/sh", "-exc"]
ARG DEBIAN_FRONTEND=noninteractive
ARG python_version=3.11
ARG UV_PYTHON_DOWNLOADS_JSON_URL
COPY --link --from={uv_image} /uv /usr/local/bin/uv
RUN mkdir -p /opt/sys && echo lib > /opt/sys/libfoo && uv python install $python_version
ENV UV_PYTHON="python$python_version" UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/app \\
    UV_LINK_MODE=copy PYTHONFAULTHANDLER=1 PYTHONUNBUFFERED=1 UV_COMPILE_BYTECODE=1 PYTHONOPTIMIZE=1
WORKDIR /project
COPY pyproject.toml uv.lock README.md /project
RUN --mount=type=cache,target=/root/.cache/uv uv sync --no-dev --no-install-project --frozen
"""

# No Python anywhere before the sync: `uv sync` downloads the one .python-version asks for.
DOCKERFILE_SYNC_DOWNLOADS = """\
FROM {nopython_image}
COPY --from={uv_image} /uv /uvx /bin/
ARG UV_PYTHON_DOWNLOADS_JSON_URL
RUN mkdir -p /opt/sys && echo lib > /opt/sys/libfoo
ENV UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1
WORKDIR /app
COPY pyproject.toml uv.lock .python-version ./
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-install-project --no-dev
COPY . .
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev
"""

# Python, the venv and the sync in one RUN.
DOCKERFILE_ONE_RUN = """\
FROM {nopython_image}
COPY --from={uv_image} /uv /uvx /bin/
ARG UV_PYTHON_DOWNLOADS_JSON_URL
ENV UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \\
    uv python install 3.11 && uv venv && uv sync --frozen --no-install-project --no-dev
COPY . .
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev
"""

# Downloads forbidden and no Python in the image: the user's own sync fails too.
DOCKERFILE_NO_DOWNLOADS = """\
FROM {nopython_image}
COPY --from={uv_image} /uv /uvx /bin/
ENV UV_PYTHON_DOWNLOADS=never
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-install-project
"""


def _mirror_script() -> Path:
    """``python-mirror`` of ../shared/docker, beside the repository or a worktree of it
    (``UVBUILD_PYTHON_MIRROR`` names it outright)."""
    named = os.environ.get("UVBUILD_PYTHON_MIRROR")
    candidates = [Path(named)] if named else []
    candidates += [up / "shared" / "docker" / "python-mirror" for up in REPO.parents[:2]]
    for path in candidates:
        if path.is_file():
            return path
    _unavailable(f"no python-mirror script (looked at {', '.join(map(str, candidates))})")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _own_mirror_directory(root: Path) -> Path:
    """A ``CACHE_DIR`` whose python-mirror/ links to the shared archive: the script writes
    downloads.json (naming its port) and its pid file there, not in the shared directory
    that other sessions' mirrors serve."""
    shared = Path(os.environ.get("CACHE_DIR", "/var/cache/uvbuild-test")) / "python-mirror"
    names = ["archive.name", "python.version"]
    if not (shared / names[0]).is_file():
        _unavailable(f"no managed-Python archive in {shared}; run python-base-image")
    names.append((shared / names[0]).read_text().strip())
    own = root / "python-mirror"
    own.mkdir()
    for name in names:
        (own / name).symlink_to(shared / name)
    return root


def _unavailable(message: str) -> NoReturn:
    if os.environ.get("UVBUILD_REQUIRE_DOCKER") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def python_mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The offline managed-Python mirror on a free loopback port, for the session; yields
    its ``UV_PYTHON_DOWNLOADS_JSON_URL`` and stops the server (its own pid file) at the end."""
    script, port = _mirror_script(), str(_free_port())
    env = {**os.environ, "CACHE_DIR": str(_own_mirror_directory(tmp_path_factory.mktemp("py")))}
    started = subprocess.run(
        [str(script), "start", "--port", port], capture_output=True, text=True, timeout=60, env=env
    )
    try:
        assert started.returncode == 0, started.stderr
        (line,) = [
            line for line in started.stdout.splitlines() if line.startswith(f"{MIRROR_ARG}=")
        ]
        yield line.partition("=")[2]
    finally:
        stop = [str(script), "stop", "--port", port]
        subprocess.run(stop, capture_output=True, timeout=60, env=env)


@pytest.fixture(scope="module")
def images_here(base_images: dict[str, str]) -> dict[str, str]:
    if not image_exists(NOPYTHON_IMAGE):
        _unavailable(f"{NOPYTHON_IMAGE} not found locally; make it with python-base-image")
    return {**base_images, "nopython_image": NOPYTHON_IMAGE}


@pytest.mark.parametrize(
    ("template", "venv"),
    [
        pytest.param(DOCKERFILE_INSTALL_RUN, "/app", id="python-install-run"),
        pytest.param(DOCKERFILE_SYNC_DOWNLOADS, "/app/.venv", id="sync-downloads"),
        pytest.param(DOCKERFILE_ONE_RUN, "/app/.venv", id="install-venv-sync-one-run"),
    ],
)
def test_python_less_image_matches_buildx(
    template: str,
    venv: str,
    seed_index: synth.IndexServer,
    images_here: dict[str, str],
    python_mirror: str,
    seed_images: seeding.Images,
    tmp_path: Path,
) -> None:
    root = tmp_path / "app"
    seed_project(root, seed_index.url, seed_images.repo("nopy"), images_here["uv_image"])
    dockerfile = write_dockerfile(root, template, images_here)
    mirror = ("--build-arg", f"{MIRROR_ARG}={python_mirror}")
    plain = seed_images.tag("nopy-plain")
    buildx(root, dockerfile, plain, *mirror)
    tag = seed_images.tag("nopy")

    seeded = seed_build(root, dockerfile, tag, seed_images, *mirror)

    inventory = assert_same_venv(tag, plain, venv)
    assert inventory["python"].startswith("3.11.")
    assert dist_versions(inventory)[synth.TORCH] == synth.TORCH_VERSIONS[0]
    base = plan_base(root, "-f", str(dockerfile))
    assert {package["name"] for package in base["inputs"]["packages"]} == BASE_HEAVY
    assert base["inputs"]["venv"] == venv
    # The user's sync found the venv, the heavy packages and the interpreter below it.
    assert new_bytes(seeded) < LIGHT_BYTES, seeded.summary["image"]["layers"]
    if "libfoo" in template:
        assert file_in(tag, "/opt/sys/libfoo") == "lib\n"
    assert_same_pyvenv(tag, plain, venv)


def test_no_python_and_no_downloads_is_one_line(
    seed_index: synth.IndexServer,
    images_here: dict[str, str],
    seed_images: seeding.Images,
    tmp_path: Path,
) -> None:
    root = tmp_path / "app"
    seed_project(root, seed_index.url, seed_images.repo("nodl"), images_here["uv_image"])
    dockerfile = write_dockerfile(root, DOCKERFILE_NO_DOWNLOADS, images_here)
    tag = seed_images.tag("nodl")
    # The user's own build fails at the sync: no interpreter, downloads never.
    command = ["docker", "buildx", "build", "--builder", "default", "--progress", "plain"]
    plain = subprocess.run(
        [*command, "-f", str(dockerfile), str(root)], capture_output=True, text=True, timeout=600
    )
    assert plain.returncode != 0 and "No interpreter found" in plain.stderr, plain.stderr[-2000:]

    args = ("build", "--network", "host", "-f", str(dockerfile), "-t", tag, str(root))
    proc = uvbuild(*args, env={**os.environ, "NO_COLOR": "1"})

    assert proc.returncode == 2, proc.stderr[-4000:]
    assert "Traceback" not in proc.stderr
    (line,) = error_lines(proc.stderr)
    assert proc.stderr.rstrip().endswith(line)
    assert "3.11" in line and "Python" in line, line
    assert f"{dockerfile.name}:" in line or NOPYTHON_IMAGE in line, line
    assert not image_exists(tag)
