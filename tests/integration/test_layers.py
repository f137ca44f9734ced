"""Layer groups on a real engine: each group's layer is independent of the others.

The module fixture ``layered`` builds the synthetic project with two layer groups,
``cuda`` (fake-nvidia-cuda-cu12, fake-nvidia-cudnn-cu12) and ``torch`` (fake-torch), three
times: cold, after a torch-only bump (fake-torch 2.0.1 -> 2.0.2, both pinning the same fake
CUDA) and after a CUDA-only bump (fake-nvidia-cudnn-cu12 9.0.0 -> 9.1.0, which nothing
else pins). The tests assert on those builds and compare the first and last state with
a plain build and with a ``layer-mode = "single"`` build of the same lock.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests import synth
from tests.integration.helpers import (
    GROUPS,
    STALE_PYC,
    TORCH_FROM,
    TORCH_TO,
    VENV,
    Build,
    build,
    diff_ids,
    differences,
    docker,
    heavy_mb,
    plan_base,
    remove_images,
    run_python,
    unique_repo,
    venv_files,
)

CUDNN_FROM, CUDNN_TO = synth.CUDNN_VERSIONS


def labels(ref: str) -> dict[str, str]:
    return json.loads(docker("image", "inspect", "--format", "{{json .Config.Labels}}", ref))


@dataclass
class State:
    """One build of the layered project: its plan, the base and the app image."""

    plan: dict[str, Any]
    build: Build
    tag: str
    expected: dict[str, str]

    @property
    def base_tag(self) -> str:
        return self.plan["tag"]

    @property
    def layers(self) -> dict[str, dict[str, Any]]:
        return {group["name"]: group for group in self.plan["layers"]}

    def group_layers(self) -> dict[str, str]:
        """Group name -> the diff id of its COPY --link layer (the base's top layers)."""
        base = diff_ids(self.base_tag)
        names = [group["name"] for group in self.plan["layers"]]
        return dict(zip(names, base[-len(names) :], strict=True))


@dataclass
class Layered:
    project: synth.SyntheticProject
    cold: State
    torch_bump: State
    cuda_bump: State
    plain_cold: str
    plain_last: str
    single_cold: str
    single_last: str

    def references(self) -> list[tuple[State, str, str]]:
        """(layered state, plain build, single-layer build) of the first and last lock."""
        return [
            (self.cold, self.plain_cold, self.single_cold),
            (self.cuda_bump, self.plain_last, self.single_last),
        ]


@pytest.fixture(scope="module")
def layered(
    synth_index: synth.IndexServer,
    base_images: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Layered]:
    wheels = tmp_path_factory.mktemp("layer-wheels")
    synth.add_to_index(synth_index, synth.layer_wheels(wheels, heavy_mb=heavy_mb()))
    repo = unique_repo("layers")
    dependencies = [
        *synth.default_dependencies(torch_version=TORCH_FROM),
        f"{synth.CUDNN}=={CUDNN_FROM}",
    ]
    project = synth.make_project(
        tmp_path_factory.mktemp("layers") / "app",
        synth_index.url,
        dependencies=dependencies,
        tool_uvbuild={
            "heavy": synth.HEAVY_PATTERNS,
            "base-image": base_images["python_image"],
            "uv-image": base_images["uv_image"],
            "base-repo": f"{repo}-base",
            "layers": GROUPS,
        },
        lock_now=True,
    )
    refs: list[str] = []

    def state(label: str) -> State:
        planned = plan_base(project.path)
        refs.append(planned["tag"])
        tag = f"{repo}:{label}"
        refs.append(tag)
        result = build(project.path, tag)
        refs.append(result.summary["image"]["id"])
        return State(planned, result, tag, synth.expected_distributions(project.path))

    def plain(label: str) -> str:
        tag = f"{repo}:plain-{label}"
        refs.append(tag)
        synth.plain_build(project.path, tag, base_images)
        return tag

    def single(label: str) -> str:
        """The same lock built with layer-mode = "single" (one heavy layer)."""
        copy = project.path.with_name(f"single-{label}")
        shutil.copytree(project.path, copy, ignore=shutil.ignore_patterns("Dockerfile*"))
        pyproject = copy / "pyproject.toml"
        text = pyproject.read_text()
        pyproject.write_text(
            text.replace("[tool.uvbuild]\n", '[tool.uvbuild]\nlayer-mode = "single"\n')
        )
        planned = plan_base(copy)
        assert planned["layers"] == [] and planned["layer-mode"] == "single"
        refs.append(planned["tag"])
        tag = f"{repo}:single-{label}"
        refs.append(tag)
        refs.append(build(copy, tag).summary["image"]["id"])
        return tag

    try:
        cold = state("cold")
        plain_cold, single_cold = plain("cold"), single("cold")
        project.bump(synth.TORCH, TORCH_TO)
        torch_bump = state("torch")
        project.bump(synth.CUDNN, CUDNN_TO)
        cuda_bump = state("cuda")
        plain_last, single_last = plain("last"), single("last")
        yield Layered(
            project, cold, torch_bump, cuda_bump, plain_cold, plain_last, single_cold, single_last
        )
    finally:
        remove_images(refs)


def test_plan_shows_the_groups_and_the_base_labels_them(layered: Layered) -> None:
    cold = layered.cold
    assert cold.plan["layer-mode"] == "groups"
    assert [g["name"] for g in cold.plan["layers"]] == ["cuda", "torch"]
    assert cold.layers["cuda"]["packages"] == [synth.CUDA, synth.CUDNN]
    assert cold.layers["torch"]["packages"] == [synth.TORCH]
    assert all(g["bytes"] > 0 and len(g["key"]) == 64 for g in cold.plan["layers"])
    assert cold.plan["inputs"]["layers"] == [
        {"name": g["name"], "key": g["key"]} for g in cold.plan["layers"]
    ]
    found = labels(cold.base_tag)
    assert found["io.uvbuild.key"] == cold.plan["key"]
    assert found["io.uvbuild.layers"] == "cuda torch"
    for name, group in cold.layers.items():
        assert found[f"io.uvbuild.layer.{name}.key"] == group["key"]
    assert cold.build.summary["base"]["action"] == "built"
    assert cold.build.summary["warnings"] == []


def test_torch_only_bump_keeps_the_cuda_layer(
    layered: Layered, record_property: pytest.RecordProperty
) -> None:
    before, after = layered.cold, layered.torch_bump
    assert before.expected[synth.CUDA] == after.expected[synth.CUDA]
    assert after.expected[synth.TORCH] == TORCH_TO
    assert after.layers["cuda"]["key"] == before.layers["cuda"]["key"]
    assert after.layers["torch"]["key"] != before.layers["torch"]["key"]
    assert after.plan["key"] != before.plan["key"]
    assert after.build.summary["base"]["action"] == "built"

    old, new = before.group_layers(), after.group_layers()
    assert new["cuda"] == old["cuda"]
    assert new["torch"] != old["torch"]
    # Everything below the torch layer is the old base's, byte for byte: only it is new.
    old_base, new_base = diff_ids(before.base_tag), diff_ids(after.base_tag)
    assert new_base[:-1] == old_base[:-1]
    fresh = [d for d in new_base if d not in old_base]
    assert fresh == [new["torch"]]

    # The new bytes are the torch group's: within its share of the heavy set plus 5%.
    sizes = {layer["diff-id"]: layer["size"] for layer in after.build.layers}
    heavy = sum(sizes[d] for d in new.values())
    new_bytes = sum(sizes[d] for d in fresh)
    record_property("torch_bump_new_base_bytes", new_bytes)
    record_property("heavy_layers_bytes", heavy)
    torch_share = after.layers["torch"]["bytes"] / sum(g["bytes"] for g in after.plan["layers"])
    assert new_bytes / heavy <= torch_share + 0.05, (new_bytes, heavy, torch_share)


def test_cuda_only_bump_keeps_the_torch_layer(layered: Layered) -> None:
    before, after = layered.torch_bump, layered.cuda_bump
    assert after.expected[synth.CUDNN] == CUDNN_TO
    assert after.expected[synth.TORCH] == before.expected[synth.TORCH]
    assert after.layers["torch"]["key"] == before.layers["torch"]["key"]
    assert after.layers["cuda"]["key"] != before.layers["cuda"]["key"]

    old, new = before.group_layers(), after.group_layers()
    assert new["cuda"] != old["cuda"]
    # COPY --link: the torch layer sits above the changed CUDA layer and still keeps its
    # diff id.
    assert new["torch"] == old["torch"]
    old_base, new_base = diff_ids(before.base_tag), diff_ids(after.base_tag)
    assert [d for d in new_base if d not in old_base] == [new["cuda"]]


def test_installed_distributions_equal_a_plain_build(layered: Layered) -> None:
    for state, plain, single in layered.references():
        installed = synth.installed_distributions(state.tag)
        assert installed == synth.installed_distributions(plain)
        assert installed == synth.installed_distributions(single)
        assert installed == state.expected


# The project's own dist-info records its build (a wheel built at build time).
PROJECT_DIST = f"lib/python3.11/site-packages/{synth.PROJECT_NAME}-"
# uv sync (the plain recipe) and uv venv (uvbuild's base, given the project's prompt as uv
# sync gives it) make the venv alike, but for the interpreter the link names.
VENV_OWN = ("bin/python",)


def test_the_venv_is_the_one_a_single_install_leaves(layered: Layered) -> None:
    for state, plain, single in layered.references():
        ours = venv_files(state.tag)
        # pyvenv.cfg, the interpreter links, the activate scripts, the console scripts of
        # both groups, every package file: the same paths and bytes as one install's.
        diff = differences(ours, venv_files(single), (PROJECT_DIST,))
        assert diff == [], " ".join(diff)
        # and as the plain recipe's, apart from how the venv was made
        diff = differences(ours, venv_files(plain), (PROJECT_DIST, *VENV_OWN))
        assert diff == [], " ".join(diff)
        assert ours["bin/python"].startswith("link:")
        scripts = {f"bin/{synth.TORCH_SCRIPT}", f"bin/{synth.CUDNN_SCRIPT}", "pyvenv.cfg"}
        assert scripts <= ours.keys()
    image = layered.cuda_bump.tag
    out = docker("run", "--rm", "--network", "none", image, f"{VENV}/bin/{synth.TORCH_SCRIPT}")
    assert out.split() == ["fake_torch", TORCH_TO]
    out = docker("run", "--rm", "--network", "none", image, f"{VENV}/bin/{synth.CUDNN_SCRIPT}")
    assert out.split() == [synth.module_name(synth.CUDNN), CUDNN_TO]


def test_bytecode_from_the_group_stages_is_valid(layered: Layered) -> None:
    site = f"{VENV}/lib/python3.11/site-packages"
    modules = [synth.module_name(n) for n in (synth.TORCH, synth.CUDA, synth.CUDNN)]
    for state in (layered.cold, layered.cuda_bump):
        for ref in (state.base_tag, state.tag):
            report = run_python(ref, STALE_PYC % (site, modules))
            assert report["checked"] >= len(modules)
            assert report["stale"] == [], ref


def test_deps_stage_keeps_every_group(layered: Layered) -> None:
    heavy = (synth.TORCH, synth.CUDA, synth.CUDNN)
    for state in (layered.cold, layered.torch_bump, layered.cuda_bump):
        log = state.build.app_log
        assert "Creating virtual environment" not in log
        for name in heavy:
            assert f"+ {name}==" not in log and f"- {name}==" not in log, log
        assert state.build.summary["warnings"] == []
    # the base build did install them, in the group stages
    assert f"+ {synth.TORCH}=={TORCH_FROM}" in layered.cold.build.base_log
    assert f"+ {synth.CUDNN}=={CUDNN_FROM}" in layered.cold.build.base_log


def test_image_layers_report_the_base_layers_as_shared(layered: Layered) -> None:
    after = layered.torch_bump
    n = len(diff_ids(after.base_tag))
    assert [layer["shared-with-base"] for layer in after.build.layers][:n] == [True] * n
