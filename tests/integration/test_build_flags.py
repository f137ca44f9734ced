"""`uvbuild build` with the docker buildx build flags of Makefiles and CI, on a real engine.

One synthetic project (from a module index whose heavy set is small, 16 MB) is built cold
once with ``--iidfile`` and ``--metadata-file`` by the module fixture; the other tests reuse
its base and check ``-o type=docker,dest=...``, ``--load`` beside ``-o type=tar`` and
``--build-context``. The fixture removes every image it made, then runs ``uvbuild gc
--keep 0`` on the project, which removes the base and the build-cache records of its layers.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import synth
from tests.integration.helpers import (
    build,
    copy_project,
    docker,
    image_exists,
    plan_base,
    python_in,
    remove_images,
    tool_uvbuild,
    unique_repo,
)
from tests.integration.uvrun import uvbuild


@dataclass
class Cold:
    project: synth.SyntheticProject
    repo: str
    base_tag: str
    base_key: str
    tag: str
    iidfile: Path
    metadata: dict
    summary: dict
    refs: list[str]


@pytest.fixture(scope="module")
def cold(
    small_index: synth.IndexServer,
    base_images: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Cold]:
    repo = unique_repo("flags")
    workdir = tmp_path_factory.mktemp("flags")
    project = synth.make_project(
        workdir / "app",
        small_index.url,
        tool_uvbuild=tool_uvbuild(base_images, f"{repo}-base"),
        lock_now=True,
    )
    planned = plan_base(project.path)
    refs = [planned["tag"]]
    tag = f"{repo}:cold"
    refs.append(tag)
    iidfile = workdir / "out" / "app.iid"
    metadata_file = workdir / "out" / "metadata.json"
    iidfile.parent.mkdir()
    try:
        result = build(
            project.path, tag, "--iidfile", str(iidfile), "--metadata-file", str(metadata_file)
        )
        refs.append(result.summary["image"]["id"])
        yield Cold(
            project,
            repo,
            planned["tag"],
            planned["key"],
            tag,
            iidfile,
            json.loads(metadata_file.read_text()),
            result.summary,
            refs,
        )
    finally:
        remove_images(refs)
        # the base and the build-cache records of its layers (nothing else is in use)
        gc = uvbuild("gc", "--keep", "0", str(project.path))
        assert gc.returncode == 0, f"uvbuild gc failed: {gc.stderr[-2000:]}"


def test_iidfile_holds_the_app_image_id(cold: Cold) -> None:
    image_id = cold.iidfile.read_text().strip()
    assert image_id.startswith("sha256:")
    assert image_id == docker("image", "inspect", "--format", "{{.Id}}", cold.tag).strip()
    assert image_id == cold.summary["image"]["id"]
    # not the base's id
    assert image_id != docker("image", "inspect", "--format", "{{.Id}}", cold.base_tag).strip()


def test_metadata_file_is_buildx_metadata_plus_uvbuild_facts(cold: Cold) -> None:
    document = cold.metadata
    # buildx's own keys describe the app image
    assert document["containerimage.config.digest"] == cold.iidfile.read_text().strip()
    assert "buildx.build.ref" in document
    facts = document["uvbuild"]
    assert facts["schema"] == "uvbuild.build/1"
    assert facts["base"]["tag"] == cold.base_tag
    assert facts["base"]["key"] == cold.base_key
    assert facts["base"]["action"] == "built"
    assert facts["image"]["tags"] == [cold.tag]


def test_output_docker_dest_writes_a_loadable_tar(
    cold: Cold, tmp_path: Path, image_cleanup
) -> None:
    project = copy_project(cold.project, tmp_path / "app")
    tag = image_cleanup.tag("tar")
    tar = tmp_path / "app.tar"

    result = build(project.path, tag, "-o", f"type=docker,dest={tar}")

    assert result.summary["base"]["action"] == "reused"
    image_cleanup.add(result.summary["image"]["id"])
    with tarfile.open(tar) as archive:
        assert "manifest.json" in archive.getnames()
    # the docker driver has no docker exporter: uvbuild loaded the image and saved it;
    # the tar alone must bring it back
    docker("image", "rm", tag)
    assert not image_exists(tag)
    loaded = docker("load", "-i", str(tar))
    assert tag in loaded, loaded
    out = python_in(tag, "import fake_torch, synthapp; synthapp.main()")
    assert out.split() == ["synthapp", "0.1.0", "fake_torch", synth.TORCH_VERSIONS[0]]


USER_DOCKERFILE = """\
FROM uvbuild-base
WORKDIR /app
COPY . .
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-editable
COPY --from=assets greeting.txt /srv/greeting.txt
"""


def test_build_context_reaches_the_user_dockerfile(
    cold: Cold, tmp_path: Path, image_cleanup
) -> None:
    project = copy_project(cold.project, tmp_path / "app")
    (project.path / "Dockerfile").write_text(USER_DOCKERFILE)
    assets = tmp_path / "assets"
    assets.mkdir()
    (assets / "greeting.txt").write_text("hello from a named context\n")
    tag = image_cleanup.tag("ctx")

    result = build(project.path, tag, "--build-context", f"assets={assets}")
    image_cleanup.add(result.summary["image"]["id"])

    assert result.summary["base"]["action"] == "reused"
    out = docker("run", "--rm", "--network", "none", tag, "cat", "/srv/greeting.txt")
    assert out == "hello from a named context\n"


def test_reserved_build_context_is_refused_before_docker(cold: Cold, tmp_path: Path) -> None:
    project = copy_project(cold.project, tmp_path / "app")
    proc = uvbuild("build", "--build-context", "uvbuild-heavy=/tmp", str(project.path))
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: --build-context uvbuild-heavy:")


def test_load_together_with_a_tar_output(cold: Cold, tmp_path: Path, image_cleanup) -> None:
    project = copy_project(cold.project, tmp_path / "app")
    tag = image_cleanup.tag("both")
    tar = tmp_path / "fs.tar"
    proc = uvbuild(
        "build",
        "--network",
        "host",
        "-t",
        tag,
        "--load",
        "-o",
        f"type=tar,dest={tar}",
        str(project.path),
    )
    if proc.returncode != 0 and "multiple exporters" in proc.stderr:
        pytest.skip(f"this buildx/BuildKit has one exporter per build: {proc.stderr[-200:]}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert image_exists(tag)
    with tarfile.open(tar) as archive:
        assert any(
            name.endswith("site-packages/synthapp") or "synthapp" in name
            for name in archive.getnames()
        )


def test_attestation_on_the_docker_driver_is_refused_before_any_build(
    cold: Cold, tmp_path: Path
) -> None:
    status = docker("info", "--format", "{{json .DriverStatus}}")
    if "io.containerd.snapshotter" in status:
        pytest.skip("this engine uses the containerd image store, which keeps attestations")
    project = copy_project(cold.project, tmp_path / "app")
    proc = uvbuild("build", "--dry-run", "--sbom=true", str(project.path))
    assert proc.returncode == 2, proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert "--sbom=true: builder" in line and "containerd image store" in line
