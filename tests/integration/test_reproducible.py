"""Reproducible bases on a real engine: one key built twice from scratch, one digest.

For one layer (``layer-mode = "single"``) and for two layer groups, the base of the
synthetic project is built twice with ``uvbuild build --rebuild-base`` (which builds the
base with ``--no-cache``); the two images must have the same ID (config digest) and the
same layer diff ids. The engine here does not rewrite file timestamps itself: the base
and layer stages set them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from tests import synth
from tests.integration.helpers import (
    GROUPS,
    TORCH_FROM,
    build,
    diff_ids,
    docker,
    heavy_mb,
    remove_images,
    unique_repo,
)

VENV = "/opt/venv"
SITE = f"{VENV}/lib/python3.11/site-packages"
# Every .pyc of the heavy packages: its flags field (bytes 4-8; 0 = timestamp) and the
# source mtime it records (bytes 8-12).
PYC_FLAGS = """\
import json, os
flags = {}
for top, _dirs, files in os.walk(%r):
    for name in files:
        if name.endswith(".pyc"):
            with open(os.path.join(top, name), "rb") as fh:
                head = fh.read(12)
                flags[name] = [int.from_bytes(head[4:8], "little"),
                               int.from_bytes(head[8:12], "little")]
print(json.dumps(flags))
"""


def image_id(ref: str) -> str:
    return docker("image", "inspect", "--format", "{{.Id}}", ref).strip()


def inspect(ref: str) -> dict[str, Any]:
    return json.loads(docker("image", "inspect", ref))[0]


@pytest.mark.parametrize("mode", ["single", "groups"])
def test_two_no_cache_builds_of_one_key_give_one_digest(
    mode: str,
    synth_index: synth.IndexServer,
    base_images: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
    record_property: pytest.RecordProperty,
) -> None:
    wheels = synth.layer_wheels(tmp_path_factory.mktemp("wheels"), heavy_mb=heavy_mb())
    synth.add_to_index(synth_index, wheels)
    repo = unique_repo(f"repro-{mode}")
    layout: dict[str, Any] = {"layers": GROUPS} if mode == "groups" else {"layer-mode": "single"}
    project = synth.make_project(
        tmp_path_factory.mktemp(f"repro-{mode}") / "app",
        synth_index.url,
        dependencies=[
            *synth.default_dependencies(torch_version=TORCH_FROM),
            f"{synth.CUDNN}=={synth.CUDNN_VERSIONS[0]}",
        ],
        tool_uvbuild={
            "heavy": synth.HEAVY_PATTERNS,
            "base-image": base_images["python_image"],
            "uv-image": base_images["uv_image"],
            "base-repo": f"{repo}-base",
            **layout,
        },
        lock_now=True,
    )
    refs: list[str] = []
    try:
        builds = []
        for attempt in (1, 2):
            tag = f"{repo}:{attempt}"
            refs.append(tag)
            result = build(project.path, tag, "--rebuild-base")
            base = result.summary["base"]
            refs.append(base["tag"])
            assert base["action"] in ("built", "rebuilt")
            builds.append((image_id(base["tag"]), diff_ids(base["tag"]), inspect(base["tag"])))
        (first_id, first_layers, first), (second_id, second_layers, second) = builds
        record_property(f"{mode}_base_ids", [first_id, second_id])
        record_property(f"{mode}_diff_ids", [first_layers, second_layers])
        assert first_layers == second_layers
        assert first_id == second_id
        groups = len(GROUPS) if mode == "groups" else 0
        # python image, uv, the venv (with the heavy packages, or then each group's layer)
        assert len(first_layers) >= 3 + groups

        # SOURCE_DATE_EPOCH: the newest upload time of the heavy wheels (synth's constant)
        assert first["Created"] == second["Created"] == synth.UPLOAD_TIME.replace(".000000", "")
        # timestamp .pyc files, compiled once every source had the epoch as its mtime
        out = docker(
            "run",
            "--rm",
            "--network",
            "none",
            base["tag"],
            f"{VENV}/bin/python",
            "-c",
            PYC_FLAGS % SITE,
        )
        flags = json.loads(out.strip().splitlines()[-1])
        epoch = int(datetime.fromisoformat(synth.UPLOAD_TIME.replace("Z", "+00:00")).timestamp())
        assert flags and {tuple(v) for v in flags.values()} == {(0, epoch)}, flags
    finally:
        remove_images(refs)
