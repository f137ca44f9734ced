"""Real-engine test plumbing for tests/integration (no mocks).

Every test in this directory is marked ``docker`` and needs a Docker engine with buildx: the
``docker_engine`` session fixture (autoused here) skips with the reason when there is none,
or fails the test when ``UVBUILD_REQUIRE_DOCKER=1`` (CI).

Environment knobs:

* ``UVBUILD_REQUIRE_DOCKER=1`` -- a missing engine or base image fails instead of skipping.
* ``UVBUILD_TEST_BASE_IMAGE`` -- python base image (default ``uvbuild-test/python:3.11-bookworm``).
* ``UVBUILD_TEST_UV_IMAGE`` -- image holding ``/uv`` and ``/uvx`` (default: the newest local
  ``uvbuild-test/uv:*``).
* ``UVBUILD_TEST_HEAVY_MB`` -- size of one heavy set (fake-torch + fake-nvidia-cuda-cu12),
  default 300 (150 MB each).
* ``CI`` or ``UVBUILD_TEST_PRUNE=1`` -- prune all build cache at session end.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests import synth
from tests.integration import engines, seeding
from tests.integration.helpers import delete_repository, heavy_mb, registry_tags, tool_uvbuild

HERE = Path(__file__).resolve().parent
DEFAULT_PYTHON_IMAGE = "uvbuild-test/python:3.11-bookworm"
UV_IMAGE_REPO = "uvbuild-test/uv"
BASE_IMAGE_HINT = "build them with ../shared/docker/python-base-image"


def _require_docker() -> bool:
    return os.environ.get("UVBUILD_REQUIRE_DOCKER") == "1"


def _unavailable(reason: str) -> NoReturn:
    if _require_docker():
        pytest.fail(f"{reason} (UVBUILD_REQUIRE_DOCKER=1)", pytrace=False)
    pytest.skip(reason)


def _docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # This hook sees the whole session's items: mark only the ones under this directory.
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.docker)


# -- engine and base images --------------------------------------------------------------


@pytest.fixture(scope="session")
def docker_engine() -> dict[str, str]:
    """Probe ``docker version`` and ``docker buildx version``; returns
    ``{"server": <engine version>, "buildx": <buildx version line>}``."""
    if shutil.which("docker") is None:
        _unavailable("no docker CLI on PATH")
    try:
        version = _docker("version", "--format", "{{json .}}")
        buildx = _docker("buildx", "version")
    except subprocess.TimeoutExpired:
        _unavailable("docker did not answer within 60 s")
    if version.returncode != 0:
        detail = (version.stderr.strip().splitlines() or ["docker version failed"])[-1]
        _unavailable(f"no Docker engine: {detail}")
    if buildx.returncode != 0:
        _unavailable(f"docker buildx unavailable: {buildx.stderr.strip()}")
    server = (json.loads(version.stdout).get("Server") or {}).get("Version", "?")
    return {"server": server, "buildx": buildx.stdout.strip()}


@pytest.fixture(autouse=True)
def _needs_docker_engine(docker_engine: dict[str, str]) -> None:
    """Every integration test needs the engine (skip/fail before any other fixture work)."""


def _image_exists(ref: str) -> bool:
    return _docker("image", "inspect", "--format", "{{.Id}}", ref).returncode == 0


def _newest_uv_image() -> str | None:
    proc = _docker(
        "image", "ls", UV_IMAGE_REPO, "--format", "{{.Repository}}:{{.Tag}}\t{{.CreatedAt}}"
    )
    rows = [line.split("\t") for line in proc.stdout.splitlines() if "\t" in line]
    rows = [r for r in rows if not r[0].endswith(":<none>")]
    if not rows:
        return None
    # CreatedAt is "2024-01-01 12:00:00 +0000 UTC": sorts as text within one zone
    return max(rows, key=lambda r: r[1])[0]


@pytest.fixture(scope="session")
def base_images(docker_engine: dict[str, str]) -> dict[str, str]:
    """``{"python_image": ..., "uv_image": ...}`` for Dockerfiles (both exist locally)."""
    python_image = os.environ.get("UVBUILD_TEST_BASE_IMAGE", DEFAULT_PYTHON_IMAGE)
    if not _image_exists(python_image):
        _unavailable(f"base image {python_image} not found locally; {BASE_IMAGE_HINT}")
    uv_image = os.environ.get("UVBUILD_TEST_UV_IMAGE") or _newest_uv_image()
    if uv_image is None:
        _unavailable(f"no {UV_IMAGE_REPO}:* image found locally; {BASE_IMAGE_HINT}")
    if not _image_exists(uv_image):
        _unavailable(f"uv image {uv_image} not found locally; {BASE_IMAGE_HINT}")
    return {"python_image": python_image, "uv_image": uv_image}


# -- synthetic index and projects --------------------------------------------------------


@pytest.fixture(scope="session")
def synth_index() -> Iterator[synth.IndexServer]:
    """One loopback index for the whole session holding every synthetic wheel (both heavy
    versions at ``UVBUILD_TEST_HEAVY_MB``). Kept alive for the session so the registry URL
    (port) in uv.lock, and so uvbuild's base key, is stable across re-locks."""
    with tempfile.TemporaryDirectory(prefix="uvbuild-synth-wheels-") as tmp:
        wheels = synth.populate_index(tmp, heavy_mb=heavy_mb())
        with synth.IndexServer() as server:
            synth.add_to_index(server, wheels)
            yield server


@pytest.fixture(scope="module")
def small_index() -> Iterator[synth.IndexServer]:
    """Small heavy packages (16 MB): a base builds in seconds (the registry
    and trust tests)."""
    with tempfile.TemporaryDirectory(prefix="uvbuild-registry-wheels-") as tmp:
        wheels = synth.populate_index(tmp, heavy_mb=16)
        with synth.IndexServer() as server:
            synth.add_to_index(server, wheels)
            yield server


@pytest.fixture(scope="session")
def seed_index() -> Iterator[synth.IndexServer]:
    """The index of the seed-mode tests (a user's own Dockerfile): heavy packages of a few
    MB (tests/integration/seeding.py), shared by test_seed and test_seed_python."""
    with tempfile.TemporaryDirectory(prefix="uvbuild-seed-wheels-") as tmp:
        wheels = synth.populate_index(tmp, heavy_mb=seeding.SEED_HEAVY_MB)
        wheels += seeding.extra_wheels(Path(tmp))
        with synth.IndexServer() as server:
            synth.add_to_index(server, wheels)
            yield server


@pytest.fixture(scope="module")
def seed_images() -> Iterator[seeding.Images]:
    """The images and base repositories of one seed-mode test module, removed at its end."""
    made = seeding.Images()
    yield made
    made.remove_all()


@pytest.fixture
def synth_project(
    synth_index: synth.IndexServer, tmp_path: Path
) -> Callable[..., synth.SyntheticProject]:
    """Factory: ``synth_project(name="app", *, lock_now=True, **make_project_kwargs)``
    writes a fresh ``synthapp`` under ``tmp_path/name`` using the session index, locked
    by default."""
    used: set[str] = set()

    def factory(
        name: str = "app", *, lock_now: bool = True, **kwargs: Any
    ) -> synth.SyntheticProject:
        if name in used:
            raise ValueError(f"project {name!r} already made in this test")
        used.add(name)
        return synth.make_project(tmp_path / name, synth_index.url, lock_now=lock_now, **kwargs)

    return factory


# -- cleanup -----------------------------------------------------------------------------


class ImageCleanup:
    """Collects image refs made by one test; ``docker image rm -f`` on teardown."""

    def __init__(self, test_name: str) -> None:
        slug = re.sub(r"[^a-z0-9]+", "-", test_name.lower())[:40].strip("-")
        self.prefix = f"uvbuild-test/synth-{slug}"
        self.refs: list[str] = []

    def tag(self, label: str = "img") -> str:
        """A unique, registered tag ``uvbuild-test/synth-<test>:<label>-<random>``."""
        ref = f"{self.prefix}:{label}-{uuid.uuid4().hex[:8]}"
        self.refs.append(ref)
        return ref

    def add(self, ref: str) -> str:
        self.refs.append(ref)
        return ref

    def remove_all(self) -> None:
        if self.refs:
            _docker("image", "rm", "-f", *dict.fromkeys(self.refs), timeout=300)
            self.refs.clear()


@pytest.fixture
def image_cleanup(request: pytest.FixtureRequest) -> Iterator[ImageCleanup]:
    cleanup = ImageCleanup(request.node.name)
    yield cleanup
    cleanup.remove_all()


@pytest.fixture(scope="session", autouse=True)
def _prune_build_cache_at_end() -> Iterator[None]:
    """Prune all build cache after the session, only in CI or with UVBUILD_TEST_PRUNE=1
    (locally the cache is what makes re-runs fast)."""
    yield
    if (os.environ.get("CI") or os.environ.get("UVBUILD_TEST_PRUNE") == "1") and shutil.which(
        "docker"
    ):
        _docker("buildx", "prune", "-af", timeout=600)


@pytest.fixture(scope="session", autouse=True)
def _no_second_engine_left() -> Iterator[None]:
    """At the end of the session no second engine, mount, loop device or file made by
    tests/integration/engines.py is left (each test removes its own, also on failure)."""
    yield
    left = engines.leftovers()
    assert not left, f"left behind by the fault tests: {left}"


# -- the local registry (127.0.0.1:5000) -----------------------------------------------------

REGISTRY = "127.0.0.1:5000"
# every repository the tests push to is named under it (unique_repo, the fault tests)
TEST_REPOSITORIES = "uvbuild-test/"


def _tagged_test_repositories() -> list[str] | None:
    """The registry's ``uvbuild-test/`` repositories that still have tags; None when the
    registry does not answer."""
    try:
        url = f"http://{REGISTRY}/v2/_catalog?n=100000"
        with urllib.request.urlopen(url, timeout=10) as answer:
            names = json.load(answer).get("repositories") or []
    except (OSError, ValueError):
        return None
    return [
        name
        for name in names
        if name.startswith(TEST_REPOSITORIES) and registry_tags(REGISTRY, name)
    ]


@pytest.fixture(scope="session", autouse=True)
def _no_registry_tag_left() -> Iterator[None]:
    """At the end of the session no repository the tests pushed to has a tag left (each
    test removes its own, also on failure); tags from before the session do not count."""
    before = set(_tagged_test_repositories() or [])
    yield
    after = _tagged_test_repositories()
    left = sorted(set(after or []) - before)
    assert not left, f"registry tags left behind by the tests: {left}"


@pytest.fixture(scope="session")
def registry(docker_engine: dict[str, str]) -> str:
    """The plain-HTTP registry ``start-engine --registry`` runs; returns ``host:port``.
    Skips without it, fails under UVBUILD_REQUIRE_DOCKER=1."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://{REGISTRY}/v2/", timeout=5) as answer:
            if answer.status == 200:
                return REGISTRY
            reason = f"answered {answer.status}"
    except OSError as exc:
        reason = str(exc)
    _unavailable(
        f"no registry at http://{REGISTRY}/v2/ ({reason}); "
        "start it with ../shared/docker/start-engine --registry"
    )


@pytest.fixture
def pushed(registry: str) -> Iterator[Callable[[str], str]]:
    """``pushed(label)`` -> ``<registry>/uvbuild-test/<uuid>/<label>``, deleted afterwards."""
    names: list[str] = []

    def name(label: str = "base") -> str:
        names.append(f"uvbuild-test/{uuid.uuid4().hex[:12]}/{label}")
        return f"{registry}/{names[-1]}"

    yield name
    for repo in names:
        delete_repository(registry, repo)


@pytest.fixture
def small_project(
    small_index: synth.IndexServer, base_images: dict[str, str], tmp_path: Path
) -> Callable[[str], synth.SyntheticProject]:
    def make(base_repo: str) -> synth.SyntheticProject:
        """A project on the small index whose bases go to ``base_repo``."""
        return synth.make_project(
            tmp_path / "app",
            small_index.url,
            tool_uvbuild=tool_uvbuild(base_images, base_repo),
            lock_now=True,
        )

    return make
