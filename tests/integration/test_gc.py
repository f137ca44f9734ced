"""`uvbuild gc` on a real engine: two bases of one project, the older removed once no
image is built on it, the bytes freed measured in the engine's data root."""

from __future__ import annotations

import json
from pathlib import Path

from tests import synth
from tests.integration.helpers import (
    build,
    docker,
    image_exists,
    plan_tag,
    tool_uvbuild,
    unique_repo,
)
from tests.integration.uvrun import uvbuild


def gc(project: Path, *args: str) -> dict:
    proc = uvbuild("gc", "--json", *args, str(project), timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    document = json.loads(proc.stdout)
    assert document["schema"] == "uvbuild.gc/1"
    return document


def test_gc_keeps_the_newest_and_protected_bases_and_frees_bytes(
    synth_index: synth.IndexServer, base_images, tmp_path: Path, image_cleanup, record_property
) -> None:
    repo = unique_repo("gc")
    project = synth.make_project(
        tmp_path / "app",
        synth_index.url,
        tool_uvbuild=tool_uvbuild(base_images, f"{repo}-base"),
        lock_now=True,
    )
    old_base = image_cleanup.add(plan_tag(project.path))
    old_app = image_cleanup.add(f"{repo}:old")
    build(project.path, old_app)
    project.bump(synth.TORCH, synth.TORCH_VERSIONS[1])
    new_base = image_cleanup.add(plan_tag(project.path))
    assert new_base != old_base
    new_app = image_cleanup.add(f"{repo}:new")
    build(project.path, new_app)
    assert image_exists(old_base) and image_exists(new_base)

    # The old base is older than --keep 1 allows, but the old app is built on it.
    kept = gc(project.path, "--keep", "1")
    assert kept["removed"] == []
    reasons = {tag: entry["reason"] for entry in kept["kept"] for tag in entry["tags"]}
    assert reasons[new_base] == "newest"
    assert reasons[old_base] == f"image {old_app} is built on it"
    assert image_exists(old_base)

    # A dry run names it once the app is gone, and removes nothing.
    docker("image", "rm", old_app)
    dry = gc(project.path, "--keep", "1", "--dry-run")
    assert [entry["tags"] for entry in dry["removed"]] == [[old_base]]
    assert dry["bytes-freed"] is None
    assert image_exists(old_base)

    removed = gc(project.path, "--keep", "1")
    record_property("gc_bytes_freed", removed["bytes-freed"])
    record_property("gc_cache_records", len(removed["cache-records"]))
    assert [entry["tags"] for entry in removed["removed"]] == [[old_base]]
    assert not image_exists(old_base)
    assert image_exists(new_base) and image_exists(new_app)
    assert removed["bytes-freed"] is not None, removed
    assert removed["bytes-freed"] > 0, removed
    assert removed["measured"].startswith("du -sb ")
    assert removed["cache-records"], "no build cache record was pruned"
    print(f"gc freed {removed['bytes-freed']} bytes, {len(removed['cache-records'])} records")

    # The kept base still serves a build.
    again = build(project.path, image_cleanup.tag("again"))
    assert again.summary["base"]["action"] == "reused"
