"""Keys on what really goes in (issue #11, item 4), on a real engine and the local registry.

The base key covers the images the base starts from by digest, not by name: a local image
by its image ID (or the registry digest it came with), a registry image by its manifest
digest. A tag that moves (a re-tagged local image, a push upstream) moves the key, and the
old base is not reused; an unchanged image keeps it. ``--pull`` asks the registry.

Every image and tag made here is removed afterwards (``image_cleanup``); the registry
repository's manifests are deleted (``pushed``).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.integration.helpers import docker, error_lines, plan_base, unique_repo
from tests.integration.uvrun import uvbuild as run_uvbuild


def uvbuild(*args: str) -> subprocess.CompletedProcess[str]:
    return run_uvbuild(*args, timeout=600, env={**os.environ, "NO_COLOR": "1"})


def image_id(ref: str) -> str:
    return docker("image", "inspect", "--format", "{{.Id}}", ref).strip()


def build_from(ref: str, tag: str, line: str, tmp_path: Path) -> None:
    """``docker build`` of ``FROM ref`` plus one line, tagged ``tag``."""
    context = tmp_path / f"ctx-{len(list(tmp_path.iterdir()))}"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {ref}\n{line}\n")
    docker("build", "-q", "-t", tag, str(context))


def images_of(base: dict) -> dict[str, str]:
    assert base["provisional"] is False, base
    return {entry["ref"]: entry["digest"] for entry in base["images"]}


def test_a_retagged_base_image_moves_the_key_and_the_old_base_is_not_reused(
    small_project, base_images: dict[str, str], image_cleanup, tmp_path: Path
) -> None:
    python = base_images["python_image"]
    moving = image_cleanup.tag("python")  # a local "moving tag" for the base image
    docker("tag", python, moving)
    app = small_project(unique_repo("digests"))
    args = ("--base-image", moving)

    first = plan_base(app.path, *args)
    assert images_of(first)[moving] == image_id(python)
    assert first["inputs"]["images"][moving] == image_id(python)
    assert plan_base(app.path, *args)["key"] == first["key"]  # unchanged: the same key

    tag = image_cleanup.tag("app")
    built = uvbuild("build", "--network", "host", "--json", "-t", tag, *args, str(app.path))
    assert built.returncode == 0, built.stderr[-4000:]
    image_cleanup.add(first["tag"])
    assert json.loads(built.stdout)["base"]["tag"] == first["tag"]

    # The same name, a new image: what the base starts from is no longer the same.
    build_from(python, moving, "RUN touch /x", tmp_path)
    moved = plan_base(app.path, *args)
    assert images_of(moved)[moving] == image_id(moving) != image_id(python)
    assert moved["key"] != first["key"] and moved["tag"] != first["tag"]

    again = uvbuild("build", "--network", "host", "--json", "-t", tag, *args, str(app.path))
    assert again.returncode == 0, again.stderr[-4000:]
    image_cleanup.add(moved["tag"])
    summary = json.loads(again.stdout)
    assert summary["base"]["tag"] == moved["tag"]
    assert summary["base"]["action"] == "built"  # the old base is not reused
    assert docker("run", "--rm", "--network", "none", moved["tag"], "ls", "/x").strip() == "/x"


def test_pull_asks_the_registry_for_a_tag_moved_upstream(
    small_project, base_images: dict[str, str], image_cleanup, pushed, tmp_path: Path
) -> None:
    uv_ref = f"{pushed('uv')}:moving"
    image_cleanup.add(uv_ref)
    docker("tag", base_images["uv_image"], uv_ref)
    docker("push", "-q", uv_ref)
    app = small_project(unique_repo("digests"))
    # only plans here: both images from the registry (--pull asks for each), one name
    args = ("--uv-image", uv_ref, "--base-image", uv_ref)

    local = plan_base(app.path, *args)
    pushed_digest = images_of(local)[uv_ref]
    # the local copy came from that registry: its digest there, which the registry gives too
    assert pushed_digest.startswith("sha256:") and pushed_digest != image_id(uv_ref)
    assert plan_base(app.path, "--pull", *args)["key"] == local["key"]

    # Upstream moves: another image is pushed under the tag; the engine keeps the old one.
    build_from(base_images["uv_image"], uv_ref, 'LABEL moved="1"', tmp_path)
    image_cleanup.add(image_id(uv_ref))  # untagged below, still named by its repo digest
    docker("push", "-q", uv_ref)
    docker("tag", base_images["uv_image"], uv_ref)

    assert plan_base(app.path, *args)["key"] == local["key"]  # the engine's image goes in
    pulled = plan_base(app.path, "--pull", *args)
    assert pulled["key"] != local["key"]
    assert images_of(pulled)[uv_ref] not in (pushed_digest, image_id(uv_ref))


def test_an_image_that_exists_nowhere_stops_the_build_with_one_line(
    small_project, registry: str, tmp_path: Path
) -> None:
    app = small_project(unique_repo("digests"))
    missing = f"{registry}/uvbuild-test/no-such-image:1"
    for command in (("plan",), ("build", "-t", "uvbuild-test/never:1")):
        proc = uvbuild(*command, "--base-image", missing, str(app.path))
        assert proc.returncode == 2, proc.stderr[-2000:]
        (line,) = error_lines(proc.stderr)
        assert missing in line and "--base-image (tool.uvbuild.base-image)" in line
        assert "building" not in proc.stderr
