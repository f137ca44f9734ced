"""`uvbuild bake` on a real engine: the bake file resolves, builds, and tags the base.

The real `docker buildx bake` cannot use `--network host` (buildx 0.13 drops the bake
file's `network` attribute), so this module serves the synthetic index on the docker0
bridge address: build containers on the default bridge network reach the host's own
bridge IP without host networking.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import synth
from tests.integration.helpers import docker, image_exists, remove_images, tool_uvbuild, unique_repo
from tests.integration.uvrun import uvbuild


def bridge_address() -> str:
    """The gateway of docker's default bridge network (the host's docker0 address)."""
    out = docker("network", "inspect", "bridge", "--format", "{{json .IPAM.Config}}")
    for entry in json.loads(out) or []:
        if entry.get("Gateway"):
            return str(entry["Gateway"])
    pytest.skip("docker's bridge network has no gateway address")


@pytest.fixture(scope="module")
def bridge_index(synth_index: synth.IndexServer) -> Iterator[synth.IndexServer]:
    """The session's wheels, served on the bridge address."""
    server = synth.IndexServer(host=bridge_address())
    for entry in synth_index.files.values():
        server.add(entry.path, broken=entry.broken)
    with server:
        yield server


def bake_file(project: Path, output: Path, *args: str) -> dict[str, Any]:
    proc = uvbuild("bake", "--json", "-o", str(output), *args, str(project))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["schema"] == "uvbuild.bake/1"
    assert Path(summary["file"]) == output.resolve()
    return summary


@dataclass
class Baked:
    project: synth.SyntheticProject
    base_tag: str
    app_tag: str
    file: Path
    summary: dict[str, Any]
    document: dict[str, Any]
    printed: dict[str, Any]
    bake_log: str
    workdir: Path


@pytest.fixture(scope="module")
def baked(
    bridge_index: synth.IndexServer,
    base_images: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Baked]:
    workdir = tmp_path_factory.mktemp("bake")
    repo = unique_repo("bake")
    project = synth.make_project(
        workdir / "app",
        bridge_index.url,
        tool_uvbuild=tool_uvbuild(base_images, f"{repo}-base"),
        lock_now=True,
    )
    app_tag = f"{repo}:baked"
    refs = [app_tag]
    try:
        file = workdir / "docker-bake.json"
        summary = bake_file(project.path, file, "-t", app_tag)
        base_tag = summary["base"]["tag"]
        refs.append(base_tag)
        document = json.loads(file.read_text())
        printed = json.loads(docker("buildx", "bake", "--print", "-f", str(file)))
        assert not image_exists(base_tag)
        proc = subprocess.run(
            ["docker", "buildx", "bake", "--progress", "plain", "-f", str(file)],
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr[-4000:]
        yield Baked(
            project, base_tag, app_tag, file, summary, document, printed, proc.stderr, workdir
        )
    finally:
        remove_images(refs)


def test_bake_print_resolves_both_targets(baked: Baked) -> None:
    assert baked.summary["base"]["action"] == "build"
    targets = baked.printed["target"]
    assert set(targets) == {"uvbuild-base", "app"}
    base, app = targets["uvbuild-base"], targets["app"]
    assert base["target"] == "uvbuild-base"
    assert base["tags"] == [baked.base_tag]
    assert app["tags"] == [baked.app_tag]
    assert app["contexts"]["uvbuild-base"] == "target:uvbuild-base"
    assert app["context"] == str(baked.project.path)
    # The generated inputs live in the user cache, named by absolute path.
    inputs = Path(baked.summary["inputs"])
    assert inputs.is_absolute() and inputs.parts[-2] == "bake"
    assert Path(app["dockerfile"]) == inputs / "Dockerfile"
    assert Path(app["contexts"]["uvbuild-heavy"]) == inputs / "heavy"
    assert "network" not in base and "network" not in app


def test_bake_builds_and_tags_the_base_without_host_network(baked: Baked) -> None:
    assert image_exists(baked.base_tag)
    labels = json.loads(
        docker("image", "inspect", "--format", "{{json .Config.Labels}}", baked.base_tag)
    )
    assert labels["io.uvbuild.base"] == "1"
    assert baked.base_tag.endswith(":" + labels["io.uvbuild.key"][:16])
    assert "--network" not in baked.file.read_text()


def test_baked_app_installs_what_the_lock_says(baked: Baked) -> None:
    installed = synth.installed_distributions(baked.app_tag)
    assert installed == synth.expected_distributions(baked.project.path)


def test_baked_app_equals_uvbuild_build(baked: Baked) -> None:
    """`uvbuild build` of the same project (base reused) installs the same distributions."""
    built = f"{baked.app_tag}-build"
    try:
        proc = uvbuild("build", "--json", "-t", built, str(baked.project.path))
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert json.loads(proc.stdout)["base"]["action"] == "reused"
        assert synth.installed_distributions(built) == synth.installed_distributions(baked.app_tag)
    finally:
        remove_images([built])


def test_second_bake_reads_the_existing_base_as_an_image(baked: Baked) -> None:
    again = baked.workdir / "again.json"
    summary = bake_file(baked.project.path, again, "-t", baked.app_tag)
    assert summary["base"]["action"] == "reuse"
    document = json.loads(again.read_text())
    assert set(document["target"]) == {"app"}
    contexts = document["target"]["app"]["contexts"]
    assert contexts["uvbuild-base"] == f"docker-image://{baked.base_tag}"
    printed = json.loads(docker("buildx", "bake", "--print", "-f", str(again)))
    assert printed["target"]["app"]["contexts"]["uvbuild-base"] == (
        f"docker-image://{baked.base_tag}"
    )


def test_network_that_bake_drops_is_refused(baked: Baked) -> None:
    output = baked.workdir / "network.json"
    proc = uvbuild("bake", "--network", "host", "-o", str(output), str(baked.project.path))
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "network" in errors[0] and "uvbuild build" in errors[0]
    assert not output.exists()
