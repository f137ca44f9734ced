"""uvbuild.core.render.light_stages: the light layers' stages, and their copies above the base."""

from __future__ import annotations

from tests.core.plans import FLAGS, SEED, pooled_plan, seed_plan
from tests.core.render.stages import stage
from tests.paths import FIXTURES
from uvbuild import planner
from uvbuild.core import render


def test_light_layer_stage_on_the_system_image_and_copied_above_the_base():
    plan = pooled_plan()
    assert [g.name for g in plan.light_layers] == ["light-six"]
    text = render.dockerfile(plan)
    assert plan.light_stages == (("light-six",),)
    light = stage(text, "uvbuild-layers-light-1")
    assert light.splitlines()[0] == "FROM python:3.11-slim-bookworm AS uvbuild-layers-light-1"
    # its requirements are in the RUN's text (no mount: one load of the context less)
    assert "from=uvbuild-heavy" not in light
    assert (
        "printf '%s\\n' 'six==1.17.0 --hash=sha256:"
        "4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274' "
        "> /tmp/uvbuild-heavy/layer-light-six-1.txt &&"
    ) in light
    assert "layer-cuda" not in light and "layer-frameworks" not in light
    assert "-r /tmp/uvbuild-heavy/layer-light-six-1.txt" in light
    assert "compileall" in light  # the layer compiles its own files
    assert "mkdir -p /uvbuild-layer/light-six &&" in light
    # above the base: its stage comes after it, and the deps stage copies it first thing
    assert text.index("AS uvbuild-base\n") < text.index("AS uvbuild-layers-light-1\n")
    deps = stage(text, "uvbuild-deps").splitlines()
    assert deps[:2] == [
        "FROM uvbuild-base AS uvbuild-deps",
        "COPY --link --from=uvbuild-layers-light-1 /uvbuild-layer/light-six/ /opt/venv/",
    ]
    # the base does not copy it, and the final sync stays
    assert "light-six" not in stage(text, "uvbuild-base")
    assert "uv sync --frozen --no-editable" in stage(text, "uvbuild-app")


def test_light_layers_leave_the_base_and_heavy_layers_alone():
    pooled, plain = pooled_plan(), planner.make_plan(FIXTURES / "two_indexes", FLAGS)
    assert plain.light_layers == ()  # six is under the default 1 MB: in the pool
    assert pooled.key == plain.key and pooled.layers == plain.layers
    for name in ("uvbuild-layer-cuda", "uvbuild-layer-frameworks", "uvbuild-base"):
        assert stage(render.dockerfile(pooled), name) == stage(render.dockerfile(plain), name)
    single = pooled_plan(layer_mode="single")
    base = stage(render.dockerfile(single), "uvbuild-base")
    assert "light-six" not in base  # the single base mounts its own files only
    assert "source=heavy-1.txt" in base


def test_seed_sync_stage_takes_the_light_layers(tmp_path):
    plan = seed_plan(tmp_path, SEED, pool_threshold="10kB")
    assert [g.name for g in plan.light_layers] == ["light-six"]
    text = render.dockerfile(plan)
    assert "FROM uvbuild-python AS uvbuild-layers-light-1" in text
    builder = text[text.index("FROM uvbuild-base AS builder") :]
    assert builder.startswith(
        "FROM uvbuild-base AS builder\nARG python_version=3.11\n"
        "COPY --link --from=uvbuild-layers-light-1 /uvbuild-layer/light-six/ /app/\n"
        "COPY pyproject.toml uv.lock /project/\n"
    )
