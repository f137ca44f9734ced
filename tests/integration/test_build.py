"""`uvbuild build` on a real engine, driven through its CLI in a subprocess.

The synthetic project (fake-torch + fake-nvidia-cuda-cu12 heavy, a dozen light packages) is
built once cold and once after a light bump by the module fixture ``light_bump``; the tests
a-c assert on those two builds. Every other test copies that project (same lock, same base
key, so the base is reused) or writes its own, and builds only what it checks.
"""

from __future__ import annotations

import json
import re
import subprocess
import tarfile
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import synth
from tests.integration.helpers import (
    APP_LOG_START,
    Build,
    build,
    copy_project,
    diff_ids,
    docker,
    error_lines,
    image_exists,
    plan_base,
    plan_tag,
    python_in,
    remove_images,
    tool_uvbuild,
    unique_repo,
)
from tests.integration.uvrun import uvbuild

REPO = Path(__file__).resolve().parents[2]
HEAVY = (synth.TORCH, synth.CUDA)
SITE = "/opt/venv/lib/python3.11/site-packages"
BUMPED_LIGHT = ("lightpkg-c", synth.LIGHT_VERSIONS[1])


# -- helpers -----------------------------------------------------------------------------


def image_size(ref: str) -> int:
    return int(docker("image", "inspect", "--format", "{{.Size}}", ref))


def failed_build(project: Path, tag: str, *args: str) -> subprocess.CompletedProcess[str]:
    return uvbuild("build", "--network", "host", "-t", tag, *args, str(project))


IMPORT_ALL = (
    "import importlib, json; "
    "print(json.dumps({m: importlib.import_module(m).__version__ for m in %r}))"
)


def imported_versions(image: str, names: Iterable[str]) -> dict[str, str]:
    """Import the module of each distribution in ``image``; their ``__version__``s."""
    modules = sorted(synth.module_name(name) for name in names)
    return json.loads(python_in(image, IMPORT_ALL % (modules,)).strip().splitlines()[-1])


LIGHT_SIZE = (
    "import os, json; site = %r; total = 0\n"
    "for entry in os.listdir(site):\n"
    "    if entry.split('-')[0] in %r:\n"
    "        path = os.path.join(site, entry)\n"
    "        for root, _dirs, files in os.walk(path):\n"
    "            total += sum(os.lstat(os.path.join(root, f)).st_size for f in files)\n"
    "print(total)"
)


def light_installed_bytes(image: str) -> int:
    """Bytes of the light packages' module and .dist-info dirs in the venv, .pyc included."""
    modules = sorted(synth.module_name(name) for name in synth.LIGHT_PACKAGES)
    return int(python_in(image, LIGHT_SIZE % (SITE, modules)).strip().splitlines()[-1])


def layer_files(image: str, indexes: list[int], workdir: Path) -> dict[int, list[str]]:
    """The paths in the given layers of ``image`` (0 = oldest), read from ``docker save``."""
    archive = workdir / f"save-{uuid.uuid4().hex[:8]}.tar"
    docker("save", "-o", str(archive), image, timeout=600)
    try:
        with tarfile.open(archive) as outer:
            manifest = json.load(outer.extractfile("manifest.json"))
            paths = manifest[0]["Layers"]
            files = {}
            for index in indexes:
                with tarfile.open(fileobj=outer.extractfile(paths[index]), mode="r:*") as layer:
                    files[index] = layer.getnames()
        return files
    finally:
        archive.unlink()


# -- the shared builds: cold, then a light bump ------------------------------------------


@dataclass
class LightBump:
    project: synth.SyntheticProject
    base_tag: str
    base_key: str
    cold: Build
    cold_tag: str
    expected_before: dict[str, str]
    plain: synth.BuildResult
    bumped: Build
    bumped_tag: str
    workdir: Path


@pytest.fixture(scope="module")
def light_bump(
    synth_index: synth.IndexServer,
    base_images: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LightBump]:
    repo = unique_repo("shared")
    workdir = tmp_path_factory.mktemp("light-bump")
    project = synth.make_project(
        workdir / "app",
        synth_index.url,
        tool_uvbuild=tool_uvbuild(base_images, f"{repo}-base"),
        lock_now=True,
    )
    refs: list[str] = []
    try:
        planned = plan_base(project.path)
        base_tag = planned["tag"]
        refs.append(base_tag)
        assert not image_exists(base_tag)
        cold_tag = f"{repo}:cold"
        refs.append(cold_tag)
        cold = build(project.path, cold_tag)
        refs.append(cold.summary["image"]["id"])
        expected_before = synth.expected_distributions(project.path)
        plain_tag = f"{repo}:plain"
        refs.append(plain_tag)
        plain = synth.plain_build(project.path, plain_tag, base_images)
        project.bump(*BUMPED_LIGHT)
        bumped_tag = f"{repo}:bumped"
        refs.append(bumped_tag)
        bumped = build(project.path, bumped_tag)
        refs.append(bumped.summary["image"]["id"])
        yield LightBump(
            project,
            base_tag,
            planned["key"],
            cold,
            cold_tag,
            expected_before,
            plain,
            bumped,
            bumped_tag,
            workdir,
        )
    finally:
        remove_images(refs)


def test_cold_build_installs_what_the_plain_recipe_installs(
    light_bump: LightBump, record_property: pytest.RecordProperty
) -> None:
    cold = light_bump.cold
    record_property("cold_build_seconds", round(cold.seconds, 1))
    record_property("base_build_seconds", cold.summary["base"]["seconds"])
    assert cold.summary["base"]["action"] == "built"
    assert cold.summary["base"]["tag"] == light_bump.base_tag
    assert cold.summary["base"]["key"] == light_bump.base_key
    assert cold.summary["base"]["seconds"] > 0
    assert image_exists(light_bump.base_tag)
    assert cold.summary["image"]["tags"] == [light_bump.cold_tag]
    assert (
        cold.summary["image"]["id"]
        == docker("image", "inspect", "--format", "{{.Id}}", light_bump.cold_tag).strip()
    )

    # Every package imports, at the locked version (heavy, light and the project).
    versions = imported_versions(light_bump.cold_tag, light_bump.expected_before)
    assert versions == {
        synth.module_name(name): version for name, version in light_bump.expected_before.items()
    }
    assert {"fake_torch", "fake_nvidia_cuda_cu12", "synthapp"} <= versions.keys()
    assert {synth.module_name(name) for name in synth.LIGHT_PACKAGES} <= versions.keys()

    # The core claim: the same distributions as one plain `uv sync --frozen`, no more or less.
    installed = synth.installed_distributions(light_bump.cold_tag)
    plain = synth.installed_distributions(light_bump.plain.tag)
    assert installed == plain
    assert installed == light_bump.expected_before
    out = python_in(light_bump.cold_tag, "import synthapp; synthapp.main()")
    assert out.split() == ["synthapp", "0.1.0", "fake_torch", synth.TORCH_VERSIONS[0]]


def test_light_bump_reuses_the_base_and_adds_only_light_bytes(
    light_bump: LightBump, record_property: pytest.RecordProperty
) -> None:
    bumped = light_bump.bumped
    assert bumped.summary["base"]["action"] == "reused"
    assert bumped.summary["base"]["tag"] == light_bump.base_tag
    assert bumped.summary["base"]["key"] == light_bump.base_key
    assert "==> building base" not in bumped.proc.stderr
    assert bumped.summary["base"]["seconds"] == 0

    name, version = BUMPED_LIGHT
    installed = synth.installed_distributions(light_bump.bumped_tag)
    assert installed[name] == version
    assert installed == synth.expected_distributions(light_bump.project.path)
    assert installed == {**light_bump.expected_before, name: version}

    # The base's layers are the image's bottom layers, byte for byte, in both images.
    base = diff_ids(light_bump.base_tag)
    before = diff_ids(light_bump.cold_tag)
    after = diff_ids(light_bump.bumped_tag)
    n = len(base)
    assert before[:n] == base
    assert after[:n] == base
    assert len(after) > n
    # The summary says the same.
    assert [layer["diff-id"] for layer in bumped.layers] == after
    assert [layer["shared-with-base"] for layer in bumped.layers] == [True] * n + [False] * (
        len(after) - n
    )

    # What the bump adds is about the light packages' size, nowhere near the heavy one.
    new_bytes = image_size(light_bump.bumped_tag) - image_size(light_bump.base_tag)
    light = light_installed_bytes(light_bump.bumped_tag)
    record_property("light_rebuild_seconds", round(bumped.seconds, 1))
    record_property("app_build_seconds", bumped.summary["image"]["seconds"])
    record_property("new_bytes", new_bytes)
    record_property("light_installed_bytes", light)
    assert bumped.summary["image"]["new-bytes"] == new_bytes
    assert 0 < light < new_bytes < 2 * light, (new_bytes, light)


def test_deps_stage_keeps_the_heavy_packages_of_the_base(light_bump: LightBump) -> None:
    cold, bumped = light_bump.cold, light_bump.bumped
    # The base build did install them (so the app-log check below looks at real uv output)
    for name, version in ((synth.TORCH, synth.TORCH_VERSIONS[0]), (synth.CUDA, "12.1.0")):
        assert f" + {name}=={version}" in cold.base_log
    assert f" + {BUMPED_LIGHT[0]}=={BUMPED_LIGHT[1]}" in bumped.app_log
    for run in (cold, bumped):
        for name in HEAVY:
            assert not re.search(rf"[+-] {re.escape(name)}==", run.app_log), run.app_log
        assert "Creating virtual environment" not in run.app_log
        assert run.summary["warnings"] == []

    # No file of a heavy package in any layer above the base: bytecode compilation in the
    # deps stage must not rewrite the base's files into the light layer.
    image = light_bump.bumped_tag
    n = len(diff_ids(light_bump.base_tag))
    layers = bumped.layers
    new = list(range(n, len(layers)))
    files = layer_files(image, new, light_bump.workdir)
    heavy_dirs = tuple(f"{SITE.lstrip('/')}/{synth.module_name(name)}" for name in HEAVY)
    for index in new:
        touched = [path for path in files[index] if path.startswith(heavy_dirs) or ".wh." in path]
        assert touched == [], f"layer {index} ({layers[index]['created-by']}): {touched[:10]}"

    (deps,) = [i for i in new if "--no-install-project" in layers[i]["created-by"]]
    bumped_module = f"{SITE.lstrip('/')}/{synth.module_name(BUMPED_LIGHT[0])}/__pycache__/"
    assert any(path.startswith(bumped_module) for path in files[deps]), files[deps]
    heavy_layer = max(layers[:n], key=lambda layer: layer["size"])
    assert "uv pip install" in heavy_layer["created-by"]
    assert layers[deps]["size"] * 50 < heavy_layer["size"]


# -- user Dockerfiles ----------------------------------------------------------------------

USER_DOCKERFILE = """\
FROM uvbuild-base
WORKDIR /app
COPY . .
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-editable
"""


def test_user_dockerfile_from_uvbuild_base(
    light_bump: LightBump, tmp_path: Path, image_cleanup
) -> None:
    project = copy_project(light_bump.project, tmp_path / "app")
    dockerfile = project.path / "Dockerfile"
    dockerfile.write_text(USER_DOCKERFILE)
    tag = image_cleanup.tag("user")

    result = build(project.path, tag)
    image_cleanup.add(result.summary["image"]["id"])

    assert result.summary["base"]["action"] == "reused"
    assert result.summary["image"]["dockerfile"] == str(dockerfile)
    assert result.summary["warnings"] == []
    assert diff_ids(tag)[: len(diff_ids(light_bump.base_tag))] == diff_ids(light_bump.base_tag)
    expected = synth.expected_distributions(project.path)
    assert imported_versions(tag, expected) == {
        synth.module_name(name): version for name, version in expected.items()
    }
    out = python_in(tag, "import fake_torch, synthapp; synthapp.main()")
    assert out.split() == ["synthapp", "0.1.0", "fake_torch", synth.TORCH_VERSIONS[0]]


def test_user_dockerfile_without_uvbuild_base_is_a_config_error(
    light_bump: LightBump, base_images: dict[str, str], tmp_path: Path, image_cleanup
) -> None:
    project = copy_project(light_bump.project, tmp_path / "app")
    (project.path / "Dockerfile").write_text(f"FROM {base_images['python_image']}\nRUN true\n")
    tag = image_cleanup.tag("user")

    proc = failed_build(project.path, tag)

    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:")
    assert "FROM uvbuild-base" in lines[0]
    assert "Dockerfile" in lines[0]
    assert proc.stdout == ""
    assert not image_exists(tag)


# -- heavy bump ----------------------------------------------------------------------------


def test_heavy_bump_builds_a_new_base(
    light_bump: LightBump, tmp_path: Path, image_cleanup, record_property
) -> None:
    project = copy_project(light_bump.project, tmp_path / "app")
    project.bump(synth.TORCH, synth.TORCH_VERSIONS[1])
    locked = project.locked_packages()
    assert locked[synth.CUDA]["version"] == synth.TORCH_CUDA[synth.TORCH_VERSIONS[1]]
    new_tag = image_cleanup.add(plan_tag(project.path))
    assert new_tag != light_bump.base_tag
    assert not image_exists(new_tag)
    tag = image_cleanup.tag("heavy")

    result = build(project.path, tag)
    image_cleanup.add(result.summary["image"]["id"])

    record_property("heavy_bump_base_seconds", result.summary["base"]["seconds"])
    assert result.summary["base"]["action"] == "built"
    assert result.summary["base"]["tag"] == new_tag
    assert result.summary["base"]["key"] != light_bump.base_key
    assert image_exists(new_tag)
    assert image_exists(light_bump.base_tag)  # the old base is left alone
    assert result.summary["warnings"] == []
    installed = synth.installed_distributions(tag)
    assert installed == synth.expected_distributions(project.path)
    assert installed[synth.TORCH] == synth.TORCH_VERSIONS[1]
    assert installed[synth.CUDA] == synth.TORCH_CUDA[synth.TORCH_VERSIONS[1]]
    assert diff_ids(tag)[: len(diff_ids(new_tag))] == diff_ids(new_tag)


# -- failures ------------------------------------------------------------------------------


def test_failing_run_in_user_dockerfile_exits_5_naming_the_step(
    light_bump: LightBump, tmp_path: Path, image_cleanup
) -> None:
    project = copy_project(light_bump.project, tmp_path / "app")
    (project.path / "Dockerfile").write_text("FROM uvbuild-base\nWORKDIR /app\nRUN false\n")
    tag = image_cleanup.tag("fails")

    proc = failed_build(project.path, tag)

    assert proc.returncode == 5, proc.stderr
    errors = error_lines(proc.stderr)
    assert len(errors) == 1, proc.stderr
    assert "the app build failed" in errors[0]
    assert "[2/3] RUN false: exit code: 1" in errors[0]  # BuildKit's own step label
    assert proc.stderr.rstrip().endswith(errors[0])
    assert re.search(r"^#\d+ \[\d+/\d+\] RUN false$", proc.stderr, re.M), proc.stderr
    assert "reusing base" in proc.stderr
    assert not image_exists(tag)


def test_heavy_package_that_cannot_be_installed_leaves_no_base_tag(
    synth_project, base_images: dict[str, str], image_cleanup
) -> None:
    repo = unique_repo("base")
    project = synth_project(tool_uvbuild=tool_uvbuild(base_images, repo))
    project.bump(synth.BROKEN, "1.0.0")  # its wheel 404s; `heavy` names it: heavy
    base_tag = image_cleanup.add(plan_tag(project.path))
    tag = image_cleanup.tag("broken")

    proc = failed_build(project.path, tag)

    assert proc.returncode == 5, proc.stderr
    errors = error_lines(proc.stderr)
    assert len(errors) == 1, proc.stderr
    assert errors[0].startswith(f"error: the base build ({base_tag}) failed")
    assert "404 Not Found" in proc.stderr
    assert APP_LOG_START not in proc.stderr
    assert not image_exists(base_tag)
    assert not image_exists(tag)
    # The next run finds no base and plans to build it again.
    again = uvbuild("build", "--dry-run", "-t", tag, str(project.path))
    assert again.returncode == 0, again.stderr
    assert "--target uvbuild-base" in again.stdout


# -- dry run and eject ---------------------------------------------------------------------


def test_dry_run_prints_commands_and_builds_nothing(light_bump: LightBump, image_cleanup) -> None:
    project = light_bump.project.path
    repo = unique_repo("base")
    base_tag = image_cleanup.add(plan_tag(project, "--base-repo", repo))
    tag = image_cleanup.tag("dry")

    proc = uvbuild(
        "build", "--dry-run", "--network", "host", "-t", tag, "--base-repo", repo, str(project)
    )
    assert proc.returncode == 0, proc.stderr
    commands = proc.stdout.splitlines()
    assert len(commands) == 3, proc.stdout
    assert "buildx build" in commands[0]
    assert "--target uvbuild-base" in commands[0]
    assert re.search(rf"\btag .* {re.escape(base_tag)}$", commands[1])
    assert "buildx build" in commands[2]
    assert f"--build-context uvbuild-base=docker-image://{base_tag}" in commands[2]
    assert f"--tag {tag}" in commands[2]
    assert "--network host" in commands[2]
    assert "#1 " not in proc.stderr  # no BuildKit output: nothing ran
    assert not image_exists(base_tag)
    assert not image_exists(tag)

    # With the base present, only the app command remains.
    reuse = uvbuild("build", "--dry-run", "--json", "-t", tag, str(project))
    assert reuse.returncode == 0, reuse.stderr
    summary = json.loads(reuse.stdout)
    assert summary["dry-run"] is True
    assert summary["base"]["action"] == "would reuse"
    assert summary["image"]["id"] is None
    assert len(summary["commands"]) == 1
    assert not image_exists(tag)


def test_ejected_dockerfile_builds_the_same_image(
    light_bump: LightBump, tmp_path: Path, image_cleanup
) -> None:
    project = copy_project(light_bump.project, tmp_path / "app")
    proc = uvbuild("dockerfile", str(project.path))
    assert proc.returncode == 0, proc.stderr
    dockerfile = project.path / "Dockerfile"
    dockerfile.write_text(proc.stdout)
    tag = image_cleanup.tag("ejected")

    result = build(project.path, tag)
    image_cleanup.add(result.summary["image"]["id"])

    assert result.summary["base"]["action"] == "reused"
    assert result.summary["image"]["dockerfile"] == str(dockerfile)
    assert result.summary["warnings"] == []
    generated = light_bump.bumped
    assert [layer["created-by"] for layer in result.layers] == [
        layer["created-by"] for layer in generated.layers
    ]
    n = len(diff_ids(light_bump.base_tag))
    assert diff_ids(tag)[:n] == diff_ids(light_bump.bumped_tag)[:n]
    assert synth.installed_distributions(tag) == synth.installed_distributions(
        light_bump.bumped_tag
    )


def test_base_repo_with_a_tag_is_a_config_error(light_bump: LightBump, image_cleanup) -> None:
    repo = unique_repo("tagged") + ":latest"
    tag = image_cleanup.tag("tagged")

    proc = failed_build(light_bump.project.path, tag, "--base-repo", repo)

    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("error:")
    assert "base-repo" in lines[-1]
    assert "Traceback" not in proc.stderr
    assert APP_LOG_START not in proc.stderr
    assert not image_exists(tag)
