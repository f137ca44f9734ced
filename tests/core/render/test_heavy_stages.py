"""uvbuild.core.render.heavy_stages: the layer group stages and the base, and the base's labels."""

from __future__ import annotations

from dataclasses import replace

from tests.core.plans import TORCH_INDEX
from tests.core.render.stages import stage
from uvbuild.core import hashing, render
from uvbuild.core.render import dockerfile_names, heavy_stages, requirements


def test_layered_plan_has_two_groups(layered):
    assert [g.name for g in layered.layers] == ["cuda", "frameworks"]
    assert [c.selected.name for c in layered.layers[0].packages] == ["nvidia-cublas-cu12"]
    assert layered.layer_of("torch").name == "frameworks"
    assert all(len(g.key) == 64 for g in layered.layers)


def test_layer_stages_come_first_and_install_only_their_group(layered):
    text = render.dockerfile(layered)
    order = [line.split(" AS ")[1] for line in text.splitlines() if line.startswith("FROM ")]
    assert order == [
        "uvbuild-layer-cuda",
        "uvbuild-layer-frameworks",
        "uvbuild-base",
        "uvbuild-deps",
        "uvbuild-app",
    ]
    cuda = stage(text, "uvbuild-layer-cuda")
    assert cuda.startswith("FROM python:3.11-slim-bookworm AS uvbuild-layer-cuda\n")
    # only its own requirements file reaches the stage, so another group's change
    # leaves this stage's cache key alone
    assert (
        "--mount=type=bind,from=uvbuild-heavy,source=layer-cuda-1.txt,"
        "target=/tmp/uvbuild-heavy/layer-cuda-1.txt" in cuda
    )
    assert "frameworks" not in cuda
    assert cuda.count("uv pip install") == 1 and "--require-hashes" in cuda
    assert (
        "uv venv --prompt gpuapp /opt/venv" in cuda
        and f"mkdir {dockerfile_names.LAYER_DIR}" in cuda
    )
    frameworks = stage(text, "uvbuild-layer-frameworks")
    assert f"--index-url {TORCH_INDEX} -r /tmp/uvbuild-heavy/layer-frameworks-1.txt" in frameworks
    assert "--require-hashes" not in frameworks


def test_layered_base_copies_each_group_with_link(layered):
    base = stage(render.dockerfile(layered), "uvbuild-base")
    assert "uv pip install" not in base
    assert "uvbuild-heavy" not in base
    lines = base.splitlines()
    venv = lines.index("    uv venv --prompt gpuapp /opt/venv && \\") + 2  # then the mtimes are set
    assert lines[venv + 1 : venv + 3] == [
        "COPY --link --from=uvbuild-layer-cuda /uvbuild-layer/ /opt/venv/",
        "COPY --link --from=uvbuild-layer-frameworks /uvbuild-layer/ /opt/venv/",
    ]
    labels = heavy_stages.base_labels(layered)
    assert labels["io.uvbuild.layers"] == "cuda frameworks"
    for group in layered.layers:
        assert labels[f"io.uvbuild.layer.{group.name}.key"] == group.key
        assert f'io.uvbuild.layer.{group.name}.key="{group.key}"' in base
    assert labels["io.uvbuild.recipe"] == hashing.RECIPE_VERSION


def test_single_layer_base_has_no_layer_labels(two_indexes):
    assert two_indexes.layers == ()
    labels = heavy_stages.base_labels(two_indexes)
    assert not any(k.startswith("io.uvbuild.layer") for k in labels)
    assert "COPY --link" not in render.dockerfile(two_indexes)


def test_base_environment_and_labels(two_indexes):
    plan = replace(two_indexes, config=replace(two_indexes.config, compile_bytecode=False))
    text = render.dockerfile(plan)
    assert "UV_COMPILE_BYTECODE=0" in text
    assert "UV_PROJECT_ENVIRONMENT=/opt/venv" in text
    labels = heavy_stages.base_labels(two_indexes)
    assert labels["io.uvbuild.key"] == two_indexes.key
    assert labels["io.uvbuild.packages"] == "nvidia-cublas-cu12==12.8.4.1 torch==2.7.1+cu128"


def test_layer_epochs_come_from_their_own_group(layered):
    text = render.dockerfile(layered)
    for group in layered.layers:
        epoch = requirements.layer_epoch(group)
        assert f"export SOURCE_DATE_EPOCH={epoch} &&" in stage(
            text, dockerfile_names.layer_stage_name(group)
        )
    # the base's own venv holds no package: epoch 0, whatever the groups hold
    base = stage(text, "uvbuild-base")
    # (three RUNs, each with epoch 0: uv, the Python where the image has none, the venv)
    assert "export SOURCE_DATE_EPOCH=0 &&" in base and base.count("SOURCE_DATE_EPOCH=0") == 3
    assert requirements.source_date_epoch(layered) == requirements.upload_epoch(layered.heavy)
