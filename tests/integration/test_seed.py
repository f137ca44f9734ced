"""Seed mode on a real engine (issue 11, items 1 and 6): a user's own Dockerfile, which does
not mention uvbuild, built by ``uvbuild build -f Dockerfile``.

uvbuild splits the Dockerfile at the first ``uv sync`` of the stage that installs the
dependencies: what comes before it is the system part (stage ``uvbuild-system``), the keyed
heavy layers go on it into the venv that sync would use, and the rest of the Dockerfile
runs unchanged on top. Each Dockerfile here is built twice, by ``docker buildx build`` as
its user does today and by ``uvbuild build``, and the two venvs must hold the same
distributions (name, version, RECORD). The sync's own selection must reach the keyed
layers: the project's heavy dev group (``big-devtool``) and heavy extra (``big-gpu``) are
in the layers only when the sync asks for them.

The Dockerfiles are the patterns of real GPU projects that use uv, with local images in
place of the public ones and a local stand-in for their apt line:

* the one of uv issue #9324 (``UV_PROJECT_ENVIRONMENT=/app``, settings as ``ENV``), plus a
  light bump that reuses the keyed layers;
* uv's documented intermediate layer (lock and pyproject bind-mounted, then the source,
  then a second sync) in a builder stage whose venv a runtime stage copies;
* the sync's flags as ``UV_*`` variables and a custom ``UV_PROJECT_ENVIRONMENT``;
* the base key: an edit of the system part moves it, nothing else does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import synth
from tests.integration import seeding
from tests.integration.helpers import Build, diff_ids, docker, plan_base
from tests.integration.seeding import (
    BASE_HEAVY,
    DEV_HEAVY,
    EXTRA_HEAVY,
    LIGHT_BYTES,
    assert_same_pyvenv,
    assert_same_venv,
    buildx,
    dist_versions,
    file_in,
    image_config,
    new_bytes,
    seed_build,
    seed_project,
    write_dockerfile,
)

# uv issue #9324's Dockerfile, FROM images local, the apt line a stand-in that leaves a file.
DOCKERFILE_9324 = """\
FROM {python_image}
SHELL ["/bin/sh", "-exc"]
ARG DEBIAN_FRONTEND=noninteractive
ARG python_version=3.11
COPY --link --from={uv_image} /uv /usr/local/bin/uv
RUN mkdir -p /opt/sys && echo lib > /opt/sys/libfoo
ENV UV_PYTHON="python$python_version" UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/app \\
    UV_LINK_MODE=copy PYTHONFAULTHANDLER=1 PYTHONUNBUFFERED=1 UV_COMPILE_BYTECODE=1 PYTHONOPTIMIZE=1
WORKDIR /project
COPY pyproject.toml uv.lock README.md /project
RUN --mount=type=cache,target=/root/.cache/uv uv sync --no-dev --no-install-project --frozen
"""

# uv's intermediate layer with bind mounts in a builder stage; the runtime stage installs
# its own system files after and copies the venv.
DOCKERFILE_BIND_RUNTIME = """\
FROM {python_image} AS builder
COPY --from={uv_image} /uv /uvx /bin/
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
RUN mkdir -p /opt/sys && echo builder > /opt/sys/build-lib
RUN --mount=type=cache,target=/root/.cache/uv \\
    --mount=type=bind,source=uv.lock,target=uv.lock \\
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \\
    uv sync --locked --no-install-project --no-dev
COPY . /app
RUN --mount=type=cache,target=/root/.cache/uv \\
    uv sync --locked --no-dev --no-editable

FROM {python_image}
RUN mkdir -p /opt/sys && echo runtime > /opt/sys/runtime-lib
COPY --from=builder /app/.venv /app/.venv
ENV PATH="/app/.venv/bin:$PATH"
WORKDIR /app
CMD ["python", "-c", "import synthapp; synthapp.main()"]
"""

# The sync's flags as UV_* variables (each listed as [env: ...] by `uv sync --help` of
# uv 0.13.9), the venv at a custom UV_PROJECT_ENVIRONMENT, the extra on the command line.
DOCKERFILE_UV_VARIABLES = """\
FROM {python_image}
COPY --from={uv_image} /uv /uvx /bin/
ENV UV_PROJECT_ENVIRONMENT=/opt/env UV_NO_DEV=1 UV_FROZEN=1 UV_COMPILE_BYTECODE=1 \\
    UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /src
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv uv sync --no-install-project --extra gpu
COPY . .
RUN --mount=type=cache,target=/root/.cache/uv uv sync --extra gpu --no-editable
ENV PATH="/opt/env/bin:$PATH"
"""

# A system part that copies a file of the context (and runs a command).
DOCKERFILE_SYSTEM_COPY = """\
FROM {python_image}
COPY --from={uv_image} /uv /uvx /bin/
COPY sys.conf /etc/sys.conf
RUN mkdir -p /opt/sys && echo lib > /opt/sys/libfoo
ENV UV_PROJECT_ENVIRONMENT=/opt/venv UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-install-project --no-dev
COPY . .
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev
"""

LIGHT_BUMP = ("lightpkg-a", synth.LIGHT_VERSIONS[1])


# -- builds ----------------------------------------------------------------------------------


def heavy_in_plan(project: Path, dockerfile: Path) -> set[str]:
    """The packages the keyed layers install, from ``plan --json -f``."""
    return {
        package["name"]
        for package in plan_base(project, "-f", str(dockerfile))["inputs"]["packages"]
    }


def sync_layer_bytes(image: str) -> int:
    """The size of the newest ``uv sync`` layer of a plain build (``docker history``)."""
    rows = docker(
        "history", "--human=false", "--no-trunc", "--format", "{{.Size}}\t{{.CreatedBy}}", image
    )
    sizes = [
        int(size)
        for size, _, created in (r.partition("\t") for r in rows.splitlines())
        if "uv sync" in created
    ]
    return sizes[0] if sizes else 0


# -- uv #9324 ----------------------------------------------------------------------------------


@dataclass
class State:
    plain: str
    seeded: Build
    tag: str
    base_ids: list[str]
    plain_seconds: float


@dataclass
class Issue9324:
    project: synth.SyntheticProject
    dockerfile: Path
    cold: State
    bumped: State


@pytest.fixture(scope="module")
def issue_9324(
    seed_index: synth.IndexServer,
    base_images: dict[str, str],
    seed_images: seeding.Images,
    tmp_path_factory: pytest.TempPathFactory,
) -> Issue9324:
    root = tmp_path_factory.mktemp("seed-9324") / "app"
    project = seed_project(root, seed_index.url, seed_images.repo("9324"), base_images["uv_image"])
    dockerfile = write_dockerfile(root, DOCKERFILE_9324, base_images)

    def state() -> State:
        plain = seed_images.tag("9324-plain")
        seconds, _ = buildx(root, dockerfile, plain)
        tag = seed_images.tag("9324")
        seeded = seed_build(root, dockerfile, tag, seed_images)
        return State(plain, seeded, tag, diff_ids(seeded.summary["base"]["tag"]), seconds)

    cold = state()
    project.bump(*LIGHT_BUMP)
    return Issue9324(project, dockerfile, cold, state())


def test_9324_builds_unchanged_with_the_environment_of_buildx(issue_9324: Issue9324) -> None:
    cold = issue_9324.cold
    inventory = assert_same_venv(cold.tag, cold.plain, "/app")
    assert dist_versions(inventory)[synth.TORCH] == synth.TORCH_VERSIONS[0]
    assert DEV_HEAVY not in dist_versions(inventory)  # --no-dev
    assert file_in(cold.tag, "/opt/sys/libfoo") == "lib\n"
    assert image_config(cold.tag) == image_config(cold.plain)


def test_9324_venv_config_is_that_of_buildx(issue_9324: Issue9324) -> None:
    assert_same_pyvenv(issue_9324.cold.tag, issue_9324.cold.plain, "/app")


def test_9324_keyed_layers_hold_the_heavy_packages_of_its_sync(issue_9324: Issue9324) -> None:
    project, dockerfile = issue_9324.project.path, issue_9324.dockerfile
    base = plan_base(project, "-f", str(dockerfile))
    assert {p["name"] for p in base["inputs"]["packages"]} == BASE_HEAVY  # no dev, no extra
    assert base["inputs"]["venv"] == "/app"  # UV_PROJECT_ENVIRONMENT
    assert base["inputs"]["python"] == "3.11"
    # The user's sync adds the light packages only: the heavy ones are in the keyed layers.
    cold = issue_9324.cold.seeded
    assert (
        diff_ids(issue_9324.cold.tag)[: len(issue_9324.cold.base_ids)] == issue_9324.cold.base_ids
    )
    assert new_bytes(cold) < LIGHT_BYTES, cold.summary["image"]["layers"]


def test_9324_light_bump_reuses_the_keyed_layers(issue_9324: Issue9324, record_property) -> None:
    cold, bumped = issue_9324.cold, issue_9324.bumped
    assert bumped.seeded.summary["base"]["action"] == "reused"
    assert bumped.seeded.summary["base"]["key"] == cold.seeded.summary["base"]["key"]
    assert (
        bumped.seeded.summary["base"]["key"]
        == plan_base(issue_9324.project.path, "-f", str(issue_9324.dockerfile))["key"]
    )
    assert bumped.base_ids == cold.base_ids
    assert diff_ids(bumped.tag)[: len(cold.base_ids)] == cold.base_ids
    assert new_bytes(bumped.seeded) < LIGHT_BYTES
    inventory = assert_same_venv(bumped.tag, bumped.plain, "/app")
    assert dist_versions(inventory)[LIGHT_BUMP[0]] == LIGHT_BUMP[1]
    # The measure of the issue's closing note: light bump, uvbuild against buildx, same run.
    seconds = bumped.seeded.summary["base"]["seconds"] + bumped.seeded.summary["image"]["seconds"]
    record_property("seed_9324_bump_seconds", round(seconds, 1))
    record_property("seed_9324_bump_new_bytes", new_bytes(bumped.seeded))
    record_property("buildx_9324_bump_seconds", round(bumped.plain_seconds, 1))
    record_property("buildx_9324_bump_sync_layer_bytes", sync_layer_bytes(bumped.plain))


# -- more patterns -----------------------------------------------------------------------------


def build_both(
    name: str,
    template: str,
    index: synth.IndexServer,
    base_images: dict[str, str],
    seed_images: seeding.Images,
    tmp_path: Path,
) -> tuple[Path, Path, str, str, Build]:
    """A seed project with ``template`` as its Dockerfile, built by ``docker buildx build``
    and by ``uvbuild build -f``: (root, Dockerfile, plain tag, uvbuild tag, uvbuild's build)."""
    root = tmp_path / "app"
    seed_project(root, index.url, seed_images.repo(name), base_images["uv_image"])
    dockerfile = write_dockerfile(root, template, base_images)
    plain = seed_images.tag(f"{name}-plain")
    buildx(root, dockerfile, plain)
    tag = seed_images.tag(name)
    return root, dockerfile, plain, tag, seed_build(root, dockerfile, tag, seed_images)


def test_bind_mounted_intermediate_layer_and_a_runtime_stage(
    seed_index: synth.IndexServer,
    base_images: dict[str, str],
    seed_images: seeding.Images,
    tmp_path: Path,
) -> None:
    both = build_both(
        "bind", DOCKERFILE_BIND_RUNTIME, seed_index, base_images, seed_images, tmp_path
    )
    root, dockerfile, plain, tag, seeded = both

    assert seeded.summary["base"]["action"] in ("built", "reused")
    assert heavy_in_plan(root, dockerfile) == BASE_HEAVY  # --no-dev
    inventory = assert_same_venv(tag, plain, "/app/.venv")
    assert synth.PROJECT_NAME in dist_versions(inventory)
    assert file_in(tag, "/opt/sys/runtime-lib") == "runtime\n"
    assert image_config(tag) == image_config(plain)
    out = docker("run", "--rm", "--network", "none", tag)
    assert out.split() == ["synthapp", "0.1.0", "fake_torch", synth.TORCH_VERSIONS[0]]


def test_sync_flags_from_uv_variables_and_a_custom_project_environment(
    seed_index: synth.IndexServer,
    base_images: dict[str, str],
    seed_images: seeding.Images,
    tmp_path: Path,
) -> None:
    both = build_both(
        "vars", DOCKERFILE_UV_VARIABLES, seed_index, base_images, seed_images, tmp_path
    )
    root, dockerfile, plain, tag, seeded = both

    base = plan_base(root, "-f", str(dockerfile))
    assert {p["name"] for p in base["inputs"]["packages"]} == BASE_HEAVY | {EXTRA_HEAVY}
    assert base["inputs"]["venv"] == "/opt/env"
    assert base["inputs"]["compile-bytecode"] is True
    assert base["inputs"]["link-mode"] == "copy"
    inventory = assert_same_venv(tag, plain, "/opt/env")
    versions = dist_versions(inventory)
    assert EXTRA_HEAVY in versions and DEV_HEAVY not in versions
    assert new_bytes(seeded) < LIGHT_BYTES
    assert image_config(tag) == image_config(plain)


# -- the base key ------------------------------------------------------------------------------


def test_an_edit_of_the_system_part_moves_the_key_and_nothing_else_does(
    seed_index: synth.IndexServer,
    base_images: dict[str, str],
    seed_images: seeding.Images,
    tmp_path: Path,
) -> None:
    root = tmp_path / "app"
    project = seed_project(root, seed_index.url, seed_images.repo("key"), base_images["uv_image"])
    (root / "sys.conf").write_text("setting = 1\n")
    dockerfile = write_dockerfile(root, DOCKERFILE_SYSTEM_COPY, base_images)

    def key() -> str:
        return plan_base(root, "-f", str(dockerfile))["key"]

    first = key()
    assert key() == first  # unchanged: the same key

    # Files copied after the sync, and a light bump, leave the keyed layers' key alone.
    (root / "README.md").write_text("# synthapp\n\nEdited.\n")
    (root / "src" / synth.PROJECT_NAME / "__init__.py").write_text("__version__ = '0.1.0'\n")
    project.bump(*LIGHT_BUMP)
    assert key() == first

    # A RUN of the system part moves it; put back, the key is the first one again.
    text = dockerfile.read_text()
    dockerfile.write_text(text.replace("echo lib >", "echo lib2 >"))
    assert key() != first
    dockerfile.write_text(text)
    assert key() == first

    # So does the content of a file the system part copies.
    (root / "sys.conf").write_text("setting = 2\n")
    assert key() != first
    (root / "sys.conf").write_text("setting = 1\n")
    assert key() == first


def test_a_retagged_base_image_moves_the_key(
    seed_index: synth.IndexServer,
    base_images: dict[str, str],
    seed_images: seeding.Images,
    tmp_path: Path,
) -> None:
    root = tmp_path / "app"
    seed_project(root, seed_index.url, seed_images.repo("retag"), base_images["uv_image"])
    moving = seed_images.tag("moving")
    docker("tag", base_images["python_image"], moving)
    dockerfile = write_dockerfile(root, DOCKERFILE_9324, {**base_images, "python_image": moving})
    first = plan_base(root, "-f", str(dockerfile))["key"]
    assert plan_base(root, "-f", str(dockerfile))["key"] == first

    # The tag moves to another image (as `python:3.11-slim` does upstream).
    context = tmp_path / "moved"
    context.mkdir()
    (context / "Dockerfile").write_text(
        f"FROM {base_images['python_image']}\nRUN echo moved > /moved\n"
    )
    buildx(context, context / "Dockerfile", moving)

    assert plan_base(root, "-f", str(dockerfile))["key"] != first
