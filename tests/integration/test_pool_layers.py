"""Light layers on a real engine: a mid-size light package has a keyed layer of its own.

The module fixture builds the synthetic project (two heavy groups, ``cuda`` and ``torch``;
the small light packages; five mid-size ones above ``pool-threshold`` 1 MB: MID_A of
1.2 MB, MID_B and the MATES of 2.2 MB, so that the four light stages hold MID_A with a
stage mate) three times: cold, after a small-package bump (a light package of a few kB:
only the pool moves) and after a mid-package bump (MID_A 1.0.0 -> 1.1.0: its stage
reruns, and only its layer moves). The last lock is also built with the plain recipe.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import synth
from tests.integration.helpers import (
    GROUPS,
    STALE_PYC,
    VENV,
    Build,
    build,
    diff_ids,
    differences,
    plan_base,
    remove_images,
    run_python,
    tool_uvbuild,
    unique_repo,
    venv_files,
)
from tests.integration.seeding import Images, assert_same_venv, buildx, seed_build, write_dockerfile
from uvbuild.docker.facts.build_output import outside_layer_stages

MID_A, MID_B = "midpkg-a", "midpkg-b"
MATES = ("midpkg-c", "midpkg-d", "midpkg-e")
MID_VERSIONS = ("1.0.0", "1.1.0")
SMALL = "lightpkg-c"
MB = 1 << 20
# the project's own dist-info records its build; uv sync and uv venv name the interpreter
# link alike but for bin/python
SKIP = (f"lib/python3.11/site-packages/{synth.PROJECT_NAME}-", "bin/python")


def mid_wheels(dest: Path) -> list[Path]:
    """MID_A in both versions (1.2 MB of payload and 200 modules), MID_B and MATES
    (2.2 MB each)."""
    wheels = []
    for version in MID_VERSIONS:
        modules = {
            f"midpkg_a/mod_{n:03d}.py": f'"""{version}"""\n\ndef f{n}(x):\n    return x + {n}\n'
            for n in range(200)
        }
        wheels.append(
            synth.make_wheel(
                dest,
                MID_A,
                version,
                payload_bytes=6 * MB // 5,
                seed=f"{MID_A}=={version}",
                files=modules,
                requires_python=">=3.9",
            )
        )
    for name in (MID_B, *MATES):
        wheels.append(
            synth.make_wheel(
                dest, name, "1.0.0", payload_bytes=11 * MB // 5, seed=name, requires_python=">=3.9"
            )
        )
    return wheels


@dataclass
class State:
    plan: dict[str, Any]
    build: Build
    tag: str

    @property
    def layers(self) -> dict[str, dict[str, Any]]:
        return {entry["name"]: entry for entry in self.plan["layers"]}

    def image_layers(self) -> dict[str, str]:
        """What each of the app image's layers holds -> its diff id: the base (all its
        layers as one entry), each light layer by name, the pool's sync."""
        layers = self.build.layers
        base = diff_ids(self.plan["tag"])
        assert [layer["diff-id"] for layer in layers[: len(base)]] == base
        named = {"base": " ".join(base)}
        light = [e["name"] for e in self.plan["layers"] if e["kind"] == "light"]
        # the history names no stage: the light layers are the COPYs right above the base
        copies = layers[len(base) : len(base) + len(light)]
        for name, layer in zip(light, copies, strict=True):
            assert layer["created-by"].startswith(f"COPY /uvbuild-layer/{name}/ "), (name, layer)
            named[name] = layer["diff-id"]
        (pool,) = [
            layer
            for layer in layers
            if "uv sync" in layer["created-by"] and "--no-install-project" in layer["created-by"]
        ]
        named["pool"] = pool["diff-id"]
        return named


@dataclass
class Pooled:
    project: Path
    cold: State
    small_bump: State
    mid_bump: State
    plain_last: str


@pytest.fixture(scope="module")
def pooled(
    synth_index: synth.IndexServer,
    base_images: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Pooled]:
    synth.add_to_index(synth_index, mid_wheels(tmp_path_factory.mktemp("mid-wheels")))
    repo = unique_repo("pool")
    project = synth.make_project(
        tmp_path_factory.mktemp("pool") / "app",
        synth_index.url,
        dependencies=[
            *synth.default_dependencies(),
            f"{MID_A}=={MID_VERSIONS[0]}",
            f"{MID_B}==1.0.0",
            *(f"{name}==1.0.0" for name in MATES),
        ],
        tool_uvbuild={**tool_uvbuild(base_images, f"{repo}-base"), "layers": GROUPS},
        lock_now=True,
    )
    refs: list[str] = []

    def state(label: str) -> State:
        planned = plan_base(project.path)
        tag = f"{repo}:{label}"
        refs.extend([planned["tag"], tag])
        result = build(project.path, tag)
        refs.append(result.summary["image"]["id"])
        return State(planned, result, tag)

    try:
        cold = state("cold")
        project.bump(SMALL, synth.LIGHT_VERSIONS[1])
        small_bump = state("small")
        project.bump(MID_A, MID_VERSIONS[1])
        mid_bump = state("mid")
        plain = f"{repo}:plain"
        refs.append(plain)
        synth.plain_build(project.path, plain, base_images)
        yield Pooled(project.path, cold, small_bump, mid_bump, plain)
    finally:
        remove_images(refs)


def test_plan_lists_the_light_layers_above_the_heavy_ones(pooled: Pooled) -> None:
    plan = pooled.cold.plan
    assert [(e["name"], e["kind"]) for e in plan["layers"]] == [
        ("cuda", "heavy"),
        ("torch", "heavy"),
        (f"light-{MID_A}", "light"),
        (f"light-{MID_B}", "light"),
        *((f"light-{name}", "light") for name in MATES),
    ]
    assert pooled.cold.layers[f"light-{MID_A}"]["packages"] == [MID_A]
    # four stages for five layers: MID_A, the lightest, joins the first (MID_B's)
    stages = {e["name"]: e["stage"] for e in plan["layers"] if e["kind"] == "light"}
    assert sorted(set(stages.values())) == [1, 2, 3, 4]
    assert [n for n, s in stages.items() if s == stages[f"light-{MID_A}"]] == [
        f"light-{MID_A}",
        f"light-{MID_B}",
    ]
    # the base key covers the heavy layers only
    assert [e["name"] for e in plan["inputs"]["layers"]] == ["cuda", "torch"]


def test_a_small_bump_makes_only_the_pool_new(
    pooled: Pooled, record_property: pytest.RecordProperty
) -> None:
    before, after = pooled.cold, pooled.small_bump
    record_property("small_bump_new_bytes", after.build.summary["image"]["new-bytes"])
    record_property("small_bump_seconds", round(after.build.seconds, 2))
    assert after.plan["key"] == before.plan["key"]
    assert after.build.summary["base"]["action"] == "reused"
    old, new = before.image_layers(), after.image_layers()
    assert [name for name in new if new[name] != old[name]] == ["pool"]


def test_a_mid_bump_makes_only_its_layer_and_the_pool_new(
    pooled: Pooled, record_property: pytest.RecordProperty
) -> None:
    before, after = pooled.small_bump, pooled.mid_bump
    record_property("mid_bump_new_bytes", after.build.summary["image"]["new-bytes"])
    record_property("mid_bump_seconds", round(after.build.seconds, 2))
    assert after.plan["key"] == before.plan["key"]  # the heavy layers' diff ids stay
    assert after.build.summary["base"]["action"] == "reused"
    old, new = before.image_layers(), after.image_layers()
    # MID_B's stage reran with MID_A's (the log shows its install), its layer is the same
    assert re.search(rf"\+ {MID_B}==1\.0\.0", after.build.app_log)
    assert [name for name in new if new[name] != old[name]] == [f"light-{MID_A}", "pool"]
    keys = {name: (before.layers[name]["key"], e["key"]) for name, e in after.layers.items()}
    assert [name for name, (a, b) in keys.items() if a != b] == [f"light-{MID_A}"]


def test_the_last_sync_installs_nothing_a_layer_holds(pooled: Pooled) -> None:
    layered = (synth.TORCH, synth.CUDA, MID_A, MID_B, *MATES)
    for state in (pooled.cold, pooled.small_bump, pooled.mid_bump):
        # the deps and app stages' output (the layer stages install into their own venv)
        log = "\n".join(outside_layer_stages(state.build.app_log.splitlines()))
        assert "uv sync" in log
        assert "Creating virtual environment" not in log
        for name in layered:
            assert not re.search(rf"[+-] {name}==", log), (name, log[-3000:])
        assert state.build.summary["warnings"] == []
    # the small packages are the pool's: its sync installed them
    assert f"+ {SMALL}=={synth.LIGHT_VERSIONS[0]}" in pooled.cold.build.app_log
    assert f"+ {SMALL}=={synth.LIGHT_VERSIONS[1]}" in pooled.small_bump.build.app_log


def test_the_venv_equals_a_plain_build(pooled: Pooled) -> None:
    ours = venv_files(pooled.mid_bump.tag)
    diff = differences(ours, venv_files(pooled.plain_last), SKIP)
    assert diff == [], " ".join(diff)
    assert "lib/python3.11/site-packages/midpkg_a/mod_199.py" in ours


def test_the_bytecode_is_valid_and_compiled_once(pooled: Pooled) -> None:
    site = f"{VENV}/lib/python3.11/site-packages"
    modules = ["midpkg_a", "midpkg_b", synth.module_name(SMALL), synth.PROJECT_NAME]
    report = run_python(pooled.mid_bump.tag, STALE_PYC % (site, modules))
    assert report["checked"] >= 200
    assert report["stale"] == []
    # the syncs compile only what they install (uv's own step would walk the whole venv)
    for state in (pooled.cold, pooled.small_bump, pooled.mid_bump):
        assert "Bytecode compiled" not in state.build.app_log


# A Dockerfile of the user's, built as it is (seed mode): the light layers go into the
# venv of its sync, at the top of its sync stage.
SEED_DOCKERFILE = """\
FROM {python_image}
COPY --from={uv_image} /uv /usr/local/bin/uv
ENV UV_PROJECT_ENVIRONMENT=/opt/venv UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1 \\
    UV_PYTHON_DOWNLOADS=never
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-install-project
COPY . .
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-editable
"""


def test_a_seed_dockerfile_takes_the_light_layers(
    pooled: Pooled, base_images: dict[str, str]
) -> None:
    project = pooled.project
    dockerfile = write_dockerfile(project, SEED_DOCKERFILE, base_images, "Dockerfile.seed")
    images = Images()
    try:
        planned = plan_base(project, "-f", str(dockerfile))
        assert [e["name"] for e in planned["layers"] if e["kind"] == "light"] == [
            f"light-{MID_A}",
            f"light-{MID_B}",
            *(f"light-{name}" for name in MATES),
        ]
        ours = seed_build(project, dockerfile, images.tag("pool"), images)
        plain = images.tag("pool-plain")
        buildx(project, dockerfile, plain)
        assert_same_venv(ours.summary["image"]["id"], plain, VENV)
        log = "\n".join(outside_layer_stages(ours.app_log.splitlines()))
        for name in (MID_A, MID_B, synth.TORCH):
            assert not re.search(rf"[+-] {name}==", log), (name, log[-3000:])
        assert ours.summary["warnings"] == []
    finally:
        images.remove_all()
