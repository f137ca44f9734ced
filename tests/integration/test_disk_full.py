"""The engine's disk fills up during the base build, for real (issue 13).

A second engine keeps its data root on a 768 MB ext4 filesystem on a loop device
(tests/integration/engines.py); the test images are copied into it, and a filler file
leaves less free space than the heavy wheels alone take. ``uvbuild build`` then stops with
exit 5 and one line that says the engine's disk is full and how to free it; no base is
tagged and the per-key lock is free. Once the filler is gone, the same command builds
without any cleanup in between. The engine, the mount and the loop device go at the end,
also when the test fails (the conftest checks at the end of the session that none is left).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import synth
from tests.integration import engines
from tests.integration.helpers import error_lines, tool_uvbuild
from tests.integration.uvrun import uvbuild

FS_MB = 768
HEAVY_MB = 96  # one heavy set: uv's cache alone takes it twice (the wheels, unpacked)
FREE_MB = 110  # what the filler leaves


@pytest.fixture(scope="module")
def full_index() -> Iterator[synth.IndexServer]:
    with tempfile.TemporaryDirectory(prefix="uvbuild-diskfull-wheels-") as tmp:
        wheels = synth.populate_index(tmp, heavy_mb=HEAVY_MB)
        with synth.IndexServer() as server:
            synth.add_to_index(server, wheels)
            yield server


@pytest.fixture
def small_engine(base_images: dict[str, str]) -> Iterator[engines.Engine]:
    reason = engines.available()
    if reason is not None:
        if os.environ.get("UVBUILD_REQUIRE_DOCKER") == "1":
            pytest.fail(f"{reason} (UVBUILD_REQUIRE_DOCKER=1)", pytrace=False)
        pytest.skip(reason)
    with engines.engine(size_mb=FS_MB) as engine:
        engine.load(base_images["python_image"], base_images["uv_image"])
        yield engine


def test_a_full_engine_disk_fails_cleanly_and_the_next_build_recovers(
    small_engine: engines.Engine,
    full_index: synth.IndexServer,
    base_images: dict[str, str],
    tmp_path: Path,
    record_property: pytest.RecordProperty,
) -> None:
    repo = f"uvbuild-test/synth-diskfull-{uuid.uuid4().hex[:8]}"
    project = synth.make_project(
        tmp_path / "app",
        full_index.url,
        tool_uvbuild=tool_uvbuild(base_images, f"{repo}-base"),
        lock_now=True,
    )
    env = {**small_engine.env(), "NO_COLOR": "1", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    base_tag = json.loads(uvbuild("plan", "--json", str(project.path), env=env).stdout)["base"][
        "tag"
    ]
    filler = small_engine.data_root.parent / "filler"
    with open(filler, "wb") as out:
        os.posix_fallocate(out.fileno(), 0, small_engine.free_bytes() - (FREE_MB << 20))
    assert small_engine.free_bytes() < 2 * HEAVY_MB << 20  # uv fits; the wheels, unpacked, not

    args = ("build", "--network", "host", "--progress", "plain", "-t", f"{repo}:app")
    failed = uvbuild(*args, str(project.path), env=env, timeout=600)
    assert failed.returncode == 5, failed.stderr[-4000:]
    errors = error_lines(failed.stderr)
    assert len(errors) == 1, failed.stderr[-4000:]
    assert "the engine's disk is full" in errors[0], errors
    assert "no space left on device" in errors[0].lower(), errors
    assert "`uvbuild gc`" in errors[0] and "`docker builder prune`" in errors[0], errors
    assert small_engine.docker("image", "inspect", base_tag).returncode != 0  # no base tag
    bases = small_engine.docker("image", "ls", "-q", "--filter", "label=io.uvbuild.base=1")
    assert bases.stdout.strip() == ""
    lock = tmp_path / "cache" / "uvbuild" / "locks"
    name = hashlib.sha256(base_tag.encode()).hexdigest()[:32]
    with open(lock / f"{name}.lock", "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if still held

    filler.unlink()  # space is freed; nothing else is cleaned up
    again = uvbuild(*args, "--json", str(project.path), env=env, timeout=600)
    assert again.returncode == 0, again.stderr[-4000:]
    summary = json.loads(again.stdout)
    assert summary["base"]["action"] == "built" and summary["base"]["tag"] == base_tag
    assert small_engine.docker("image", "inspect", base_tag).returncode == 0
    record_property("disk_full_free_mb", small_engine.free_bytes() >> 20)
